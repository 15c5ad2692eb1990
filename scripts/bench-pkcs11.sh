#!/usr/bin/env bash
# Measures Arca's PKCS#11 module against SoftHSM2 in one run: builds the release binaries, starts
# `arcad --dev` in a temporary directory, runs arca-p11-bench against libarca_pkcs11.so (through
# ARCA_SOCKET) and against SoftHSM2 (a temporary token directory), then prints both tables and the
# Arca / SoftHSM2 ratios. Arguments go to both arca-p11-bench runs, e.g. `--seconds 10`.
#
# Environment: SOFTHSM_MODULE (default /usr/lib/softhsm/libsofthsm2.so), SO_PIN, USER_PIN, and
# BENCH_NO_BUILD=1 to use the release binaries already in target/release.
set -euo pipefail
cd "$(dirname "$0")/.."

softhsm_module=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
so_pin=${SO_PIN:-87654321}
user_pin=${USER_PIN:-123456}
release=target/release

scripts/install-deps.sh
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  cargo build --release -p arca-daemon --bin arcad -p arca-tests --bin arca-p11-bench
  cargo build --release -p arca-pkcs11 --lib
fi

work=$(mktemp -d -t arca-p11-bench.XXXXXX)
arcad_pid=""
cleanup() {
  if [ -n "$arcad_pid" ]; then
    kill "$arcad_pid" 2>/dev/null || true
    wait "$arcad_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

bench() { # bench NAME MODULE [ENV=VALUE…]: runs arca-p11-bench, its table to $work/NAME.md
  local name=$1 module=$2
  shift 2
  echo "== $name: $module" >&2
  env "$@" "$release/arca-p11-bench" --module "$module" --so-pin "$so_pin" --pin "$user_pin" \
    "${bench_args[@]}" >"$work/$name.md"
}
bench_args=("$@")

start_arcad() { # starts arcad --dev and waits until it listens on its socket
  mkdir "$work/arca"
  "$release/arcad" --dev --data-dir "$work/arca" >"$work/arcad.out" 2>"$work/arcad.log" &
  arcad_pid=$!
  for _ in $(seq 300); do
    grep -q '^arcad listening on unix:' "$work/arcad.out" && return 0
    kill -0 "$arcad_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "arcad did not start:" >&2
  tail -n 20 "$work/arcad.log" >&2
  return 1
}

arca_ok=false
if ! nm -D --defined-only "$release/libarca_pkcs11.so" | grep -qw C_GetFunctionList; then
  echo "Arca: $release/libarca_pkcs11.so does not export C_GetFunctionList yet; SoftHSM2 only" >&2
elif start_arcad; then
  if bench arca "$release/libarca_pkcs11.so" "ARCA_SOCKET=$work/arca/arca.sock"; then
    arca_ok=true
  else
    echo "Arca: arca-p11-bench failed (arcad's log: $work/arcad.log, last lines below)" >&2
    tail -n 20 "$work/arcad.log" >&2
  fi
fi

mkdir "$work/softhsm-tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$work/softhsm-tokens" >"$work/softhsm2.conf"
bench softhsm "$softhsm_module" "SOFTHSM2_CONF=$work/softhsm2.conf"

echo "# PKCS#11: Arca vs SoftHSM2 ($(date -u +%Y-%m-%d), $(nproc) CPUs, arca-p11-bench ${bench_args[*]:-defaults})"
if $arca_ok; then
  printf '\n## Arca (libarca_pkcs11.so -> arcad --dev)\n\n'
  cat "$work/arca.md"
fi
printf '\n## SoftHSM2 (%s)\n\n' "$softhsm_module"
cat "$work/softhsm.md"
$arca_ok || exit 0

printf '\n## Arca / SoftHSM2\n\n'
awk -F'|' '
  function trim(s) { gsub(/^ +| +$/, "", s); return s }
  FNR <= 2 { next }  # the header and its rule
  {
    key = trim($2) SUBSEP trim($3)
    if (FILENAME ~ /arca\.md$/) { order[++n] = key; arca[key] = trim($4); arca_p50[key] = trim($5); arca_p99[key] = trim($6) }
    else { soft[key] = trim($4); soft_p50[key] = trim($5) }
  }
  END {
    print "| op | threads | Arca ops/s | SoftHSM2 ops/s | Arca/SoftHSM2 | Arca p50 | SoftHSM2 p50 |"
    print "|---|---:|---:|---:|---:|---:|---:|"
    for (i = 1; i <= n; i++) {
      k = order[i]; split(k, part, SUBSEP)
      ratio = (k in soft && soft[k] + 0 > 0) ? sprintf("%.2f", arca[k] / soft[k]) : "n/a"
      printf "| %s | %s | %s | %s | %s | %s | %s |\n", part[1], part[2], arca[k], soft[k], ratio, arca_p50[k], soft_p50[k]
      if (part[2] == 8 && part[1] ~ /ECDSA|GCM/)
        target[++t] = sprintf("- %s at 8 threads: Arca/SoftHSM2 = %s (target >= 0.5): %s", part[1], ratio, (ratio != "n/a" && ratio + 0 >= 0.5) ? "met" : "NOT met")
      if (part[1] ~ /FindObjects/)
        target[++t] = sprintf("- %s: Arca p99 %s (target < 50 ms): %s", part[1], arca_p99[k], (arca_p99[k] + 0 < 50) ? "met" : "NOT met")
    }
    print "\nTargets:"
    for (i = 1; i <= t; i++) print target[i]
  }
' "$work/arca.md" "$work/softhsm.md"
