#!/usr/bin/env bash
# Installs what the build and the tests use, when it is missing, from Debian's packages.
# The protobuf code is compiled by protox (Rust), so no protoc is needed.
set -euo pipefail

need=()
command -v openssl >/dev/null || need+=(openssl)
command -v setpriv >/dev/null || need+=(util-linux)
command -v prlimit >/dev/null || need+=(util-linux)
command -v cc >/dev/null || need+=(gcc libc6-dev)
# The packaging tests: build the .deb, check the systemd unit, trace arcad.
command -v dpkg-deb >/dev/null || need+=(dpkg)
command -v dpkg-architecture >/dev/null || need+=(dpkg-dev)
command -v strip >/dev/null || need+=(binutils)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v strace >/dev/null || need+=(strace)
# The PKCS#11 interop test and bench: pkcs11-tool drives the module, SoftHSM2 is the reference.
command -v pkcs11-tool >/dev/null || need+=(opensc)
command -v softhsm2-util >/dev/null || need+=(softhsm2)
[ -e /usr/lib/softhsm/libsofthsm2.so ] || need+=(softhsm2)
# The other PKCS#11 clients (tests/tests/pkcs11_clients.rs): GnuTLS's p11tool and certtool,
# p11-kit (list-modules, server, the proxy and client modules), OpenSSL's libp11 engine.
command -v p11tool >/dev/null || need+=(gnutls-bin)
command -v certtool >/dev/null || need+=(gnutls-bin)
command -v p11-kit >/dev/null || need+=(p11-kit)
command -v unshare >/dev/null || need+=(util-linux)
ls /usr/lib/*/p11-kit-proxy.so >/dev/null 2>&1 || need+=(p11-kit-modules)
ls /usr/lib/*/pkcs11/p11-kit-client.so >/dev/null 2>&1 || need+=(p11-kit-modules)
ls /usr/lib/*/engines-3/pkcs11.so >/dev/null 2>&1 || need+=(libengine-pkcs11-openssl)
# The shared-store tests (tests/src/postgres.rs): a throw-away PostgreSQL cluster (initdb, pg_ctl,
# pg_isready from Debian's server package; psql from its client).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v psql >/dev/null || need+=(postgresql-client)
# The stock gRPC clients (tests/tests/stock_clients.rs): Python's grpcio in a venv and Node's
# grpc-js, installed by scripts/install-client-deps.sh.
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
