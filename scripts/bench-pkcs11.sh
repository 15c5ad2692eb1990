#!/usr/bin/env bash
# Measures Arca's PKCS#11 module beside two anchors in one session, on the same machine:
# SoftHSM2 in the application's process, and SoftHSM2 behind p11-kit's RPC (`p11-kit server`
# exporting it on a Unix socket, `p11-kit-client.so` as the module): an out-of-process peer.
#
# Builds the release binaries, starts `arcad --dev` in a temporary directory, then runs
# arca-p11-bench against the three modules in turn, ROUNDS times (alternating, so that the
# machine's drift touches all three alike), and prints each run's table and, per operation, the
# median with the lowest and highest run, and the ratios of the medians. Arguments go to every
# arca-p11-bench run, e.g. `--seconds 3 --warmup 1`.
#
# Each round also runs Arca's module over gRPC (`ARCA_PKCS11_TRANSPORT=grpc`, the module's path
# before the lean wire) unless BENCH_GRPC=0.
#
# Environment: ROUNDS (default 5), SOFTHSM_MODULE (default /usr/lib/softhsm/libsofthsm2.so),
# P11KIT_CLIENT (default /usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so), SO_PIN, USER_PIN,
# BENCH_OPS (default ecdsa-p256,rsa-2048,aes-gcm-4k,aes-ecb-4k,find-objects; p11-kit runs
# leave out AES-GCM, whose parameters its RPC refuses, and the search), and BENCH_NO_BUILD=1 to
# use the release binaries already in target/release.
set -euo pipefail
cd "$(dirname "$0")/.."

softhsm_module=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
p11kit_client=${P11KIT_CLIENT:-/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so}
so_pin=${SO_PIN:-87654321}
user_pin=${USER_PIN:-123456}
rounds=${ROUNDS:-5}
ops=${BENCH_OPS:-ecdsa-p256,rsa-2048,aes-gcm-4k,aes-ecb-4k,find-objects}
p11kit_ops=$(tr ',' '\n' <<<"$ops" | grep -vx -e aes-gcm-4k -e find-objects | paste -sd, -)
release=target/release

scripts/install-deps.sh
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  cargo build --release --locked -p arca-daemon --bin arcad -p arca-tests --bin arca-p11-bench
  cargo build --release --locked -p arca-pkcs11 --lib
fi

work=$(mktemp -d -t arca-p11-bench.XXXXXX)
arcad_pid=""
p11kit_pid=""
cleanup() {
  for pid in "$arcad_pid" "$p11kit_pid"; do
    if [ -n "$pid" ]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
bench_args=("$@")

bench() { # bench NAME OPS MODULE [ENV=VALUE…] [-- EXTRA ARGS]: one run, its table to $work/NAME.md
  local name=$1 run_ops=$2 module=$3
  shift 3
  local envs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
  [ "${1:-}" = -- ] && shift
  echo "== $name: $module" >&2
  env "${envs[@]}" "$release/arca-p11-bench" --module "$module" --pin "$user_pin" --ops "$run_ops" \
    "$@" "${bench_args[@]}" >"$work/$name.md"
}

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

softhsm_token() { # softhsm_token DIR: a SoftHSM2 configuration with one initialised token in DIR
  local dir=$1
  mkdir -p "$dir/tokens"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$dir/tokens" >"$dir/softhsm2.conf"
  SOFTHSM2_CONF="$dir/softhsm2.conf" softhsm2-util --init-token --free --label arca-bench \
    --so-pin "$so_pin" --pin "$user_pin" >/dev/null
}

start_p11kit() { # p11-kit server exporting the SoftHSM2 token of $work/p11kit on a socket
  softhsm_token "$work/p11kit"
  SOFTHSM2_CONF="$work/p11kit/softhsm2.conf" p11-kit server --foreground --provider "$softhsm_module" \
    --name "$work/p11kit/server.sock" "pkcs11:token=arca-bench" >"$work/p11kit.out" 2>&1 &
  p11kit_pid=$!
  for _ in $(seq 100); do
    [ -S "$work/p11kit/server.sock" ] && return 0
    sleep 0.1
  done
  echo "p11-kit server did not start:" >&2
  cat "$work/p11kit.out" >&2
  return 1
}

start_arcad
softhsm_token "$work/softhsm"
start_p11kit
# Arca's token is initialised once, by the first run.
arca_init=(-- --so-pin "$so_pin")

echo "# PKCS#11: Arca, SoftHSM2 and p11-kit's RPC ($(date -u +%Y-%m-%d), $(nproc) CPUs, $rounds rounds, arca-p11-bench ${bench_args[*]:-defaults})"
for round in $(seq "$rounds"); do
  bench "arca.$round" "$ops" "$release/libarca_pkcs11.so" "ARCA_SOCKET=$work/arca/arca.sock" "${arca_init[@]}"
  arca_init=()
  if [ "${BENCH_GRPC:-1}" = 1 ]; then
    bench "grpc.$round" "$ops" "$release/libarca_pkcs11.so" "ARCA_SOCKET=$work/arca/arca.sock" \
      ARCA_PKCS11_TRANSPORT=grpc
  fi
  bench "softhsm.$round" "$ops" "$softhsm_module" "SOFTHSM2_CONF=$work/softhsm/softhsm2.conf"
  bench "p11kit.$round" "$p11kit_ops" "$p11kit_client" "P11_KIT_SERVER_ADDRESS=unix:path=$work/p11kit/server.sock"
  for name in arca grpc softhsm p11kit; do
    [ -f "$work/$name.$round.md" ] || continue
    printf '\n## Round %s: %s\n\n' "$round" "$name"
    cat "$work/$name.$round.md"
  done
done

python3 - "$work" "$rounds" <<'EOF'
import statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
modules = [("arca", "Arca"), ("grpc", "Arca over gRPC"), ("softhsm", "SoftHSM2"), ("p11kit", "p11-kit RPC")]
rates, p50s, order = {}, {}, []
for name, _ in modules:
    for r in range(1, rounds + 1):
        path = f"{work}/{name}.{r}.md"
        lines = open(path).readlines() if __import__("os").path.exists(path) else []
        for line in lines:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 4 or not cells[2].replace(".", "").isdigit():
                continue
            key = (cells[0], cells[1])
            if key not in order:
                order.append(key)
            rates.setdefault((name, key), []).append(float(cells[2]))
            p50s.setdefault((name, key), []).append(float(cells[3].split()[0]))

def spread(values):
    fmt = lambda v: f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})"

def ratio(a, b):
    if not rates.get(a) or not rates.get(b):
        return "n/a"
    return f"{statistics.median(rates[a]) / statistics.median(rates[b]):.2f}"

print(f"\n## Medians of {rounds} rounds (lowest–highest)\n")
print("| op | threads | " + " | ".join(f"{label} ops/s" for _, label in modules)
      + " | " + " | ".join(f"{label} p50" for _, label in modules) + " | Arca/SoftHSM2 | Arca/p11-kit | Arca/gRPC |")
print("|---|---:|" + "---:|" * (2 * len(modules) + 3))
for key in order:
    cells = [spread(rates[(n, key)]) if (n, key) in rates else "n/a" for n, _ in modules]
    p50 = [f"{statistics.median(p50s[(n, key)]) * 1000:.0f} µs" if (n, key) in p50s else "n/a" for n, _ in modules]
    print(f"| {key[0]} | {key[1]} | " + " | ".join(cells + p50)
          + f" | {ratio(('arca', key), ('softhsm', key))} | {ratio(('arca', key), ('p11kit', key))}"
          + f" | {ratio(('arca', key), ('grpc', key))} |")
EOF
