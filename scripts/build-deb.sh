#!/usr/bin/env bash
# Builds the arca Debian package with cargo and dpkg-deb only (no cargo-deb, no network):
#   scripts/build-deb.sh [--profile release|debug] [--out DIR] [--no-strip]
# It builds arcad, arcactl and libarca_pkcs11.so for the profile (default release), lays out a
# staging tree from packaging/, writes DEBIAN/{control,conffiles,md5sums} and the maintainer
# scripts, and prints the path of the .deb (default DIR: target/deb) as its last line.
# Debug information is stripped from the installed copies (as dh_strip would); --no-strip keeps it.
set -euo pipefail
umask 022

root="$(cd "$(dirname "$0")/.." && pwd)"
profile=release
out="$root/target/deb"
strip=yes

usage() {
    sed -n '2,3s/^# \{0,1\}//p' "$0" >&2
    exit "${1:-2}"
}

while [ $# -gt 0 ]; do
    case "$1" in
        --profile) [ $# -ge 2 ] || usage; profile="$2"; shift 2 ;;
        --profile=*) profile="${1#--profile=}"; shift ;;
        --out) [ $# -ge 2 ] || usage; out="$2"; shift 2 ;;
        --out=*) out="${1#--out=}"; shift ;;
        --no-strip) strip=no; shift ;;
        -h|--help) usage 0 ;;
        *) echo "build-deb.sh: unknown argument '$1'" >&2; usage ;;
    esac
done

case "$profile" in
    release) cargo_profile=(--release); profile_dir=release ;;
    debug|dev) cargo_profile=(); profile_dir=debug ;;
    *) echo "build-deb.sh: --profile must be release or debug, not '$profile'" >&2; exit 2 ;;
esac

cargo="${CARGO:-cargo}"
cd "$root"

# Build. `--workspace --lib --bins` selects the same packages (hence the same features) as
# scripts/test.sh's `cargo build --workspace --bins`, so after that build this one only adds the
# cdylib; `--lib` is what builds libarca_pkcs11.so.
"$cargo" build --locked --workspace --lib --bins "${cargo_profile[@]}" >&2

target_dir="$("$cargo" metadata --locked --offline --no-deps --format-version 1 \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
[ -n "$target_dir" ] || target_dir="$root/target"
built="$target_dir/$profile_dir"

# What the package is.
workspace_field() {
    awk -v key="$1" '
        /^\[/ { in_section = ($0 == "[workspace.package]") }
        in_section && $1 == key { sub(/^[^=]*= *"/, ""); sub(/".*$/, ""); print; exit }
    ' "$root/Cargo.toml"
}
version="$(workspace_field version)"
[ -n "$version" ] || { echo "build-deb.sh: no [workspace.package] version in Cargo.toml" >&2; exit 1; }
# A Cargo pre-release (1.0.0-rc.1) sorts before its release in Debian only with a tilde.
deb_version="${version//-/\~}"
homepage="$(workspace_field repository)"
arch="$(dpkg --print-architecture)"
multiarch="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || true)"
[ -n "$multiarch" ] || multiarch="$(gcc -print-multiarch 2>/dev/null || true)"
[ -n "$multiarch" ] || multiarch="$(uname -m)-linux-gnu"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"

put() { # mode source destination-in-package
    install -D -m "$1" "$2" "$stage/$3"
}
put 0755 "$built/arcad" usr/bin/arcad
put 0755 "$built/arcactl" usr/bin/arcactl
# Shared libraries are not executable (Debian policy 8.1).
put 0644 "$built/libarca_pkcs11.so" "usr/lib/$multiarch/pkcs11/libarca_pkcs11.so"
put 0644 packaging/arca.module usr/share/p11-kit/modules/arca.module
put 0644 packaging/arcad.service usr/lib/systemd/system/arcad.service
put 0644 packaging/sysusers.d/arca.conf usr/lib/sysusers.d/arca.conf
put 0644 packaging/tmpfiles.d/arca.conf usr/lib/tmpfiles.d/arca.conf
put 0644 packaging/arca.toml etc/arca/arca.toml
put 0644 packaging/deb/copyright usr/share/doc/arca/copyright
if [ -f docs/operations.md ]; then
    put 0644 docs/operations.md usr/share/doc/arca/operations.md
fi
find "$stage" -type d -exec chmod 0755 {} +

if [ "$strip" = yes ] && command -v strip >/dev/null 2>&1; then
    strip --strip-debug "$stage/usr/bin/arcad" "$stage/usr/bin/arcactl" \
        "$stage/usr/lib/$multiarch/pkcs11/libarca_pkcs11.so"
fi

# Shared library dependencies from dpkg's own records when dpkg-dev is there.
shlib_depends() {
    command -v dpkg-shlibdeps >/dev/null 2>&1 || return 0
    local work
    work="$(mktemp -d)"
    mkdir "$work/debian"
    printf 'Source: arca\n\nPackage: arca\nArchitecture: any\n' >"$work/debian/control"
    (cd "$work" && dpkg-shlibdeps -O "$@" 2>/dev/null | sed -n 's/^shlibs:Depends=//p') || true
    rm -rf "$work"
}
depends="$(shlib_depends "$stage/usr/bin/arcad" "$stage/usr/bin/arcactl" \
    "$stage/usr/lib/$multiarch/pkcs11/libarca_pkcs11.so")"
[ -n "$depends" ] || depends="libc6, libgcc-s1"

install -d -m 0755 "$stage/DEBIAN"
installed_size="$(du -sk --exclude=DEBIAN "$stage" | cut -f1)"
cat >"$stage/DEBIAN/control" <<EOF
Package: arca
Version: $deb_version
Architecture: $arch
Maintainer: Arca maintainers <arca@example.invalid>
Installed-Size: $installed_size
Depends: $depends, systemd-sysusers | adduser
Recommends: systemd
Suggests: p11-kit
Section: admin
Priority: optional
Homepage: $homepage
Description: Arca key management daemon, admin CLI and PKCS#11 module
 arcad owns cryptographic keys on a dedicated host and uses them on request
 through a KMS-style gRPC API, over a Unix socket or TCP with mutual TLS.
 Keys are kept sealed under a master key on disk and in locked memory.
 .
 This package holds arcad with its systemd unit (not started on install),
 the arcactl admin CLI, and libarca_pkcs11.so, a PKCS#11 module registered
 with p11-kit.
EOF
chmod 0644 "$stage/DEBIAN/control"
echo /etc/arca/arca.toml >"$stage/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "packaging/deb/$script" "$stage/DEBIAN/$script"
done
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) \
    >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

# xz for a release; a debug build (tests) favours speed.
compression=(-Zxz)
[ "$profile_dir" = release ] || compression=(-Zgzip -z1)
mkdir -p "$out"
deb="$(cd "$out" && pwd)/arca_${deb_version}_${arch}.deb"
dpkg-deb --root-owner-group "${compression[@]}" --build "$stage" "$deb" >&2
echo "$deb"
