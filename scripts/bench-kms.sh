#!/usr/bin/env bash
# Measures the KMS gRPC path beside `openssl speed` in one session, on the same machine: ROUNDS
# alternating rounds of `openssl speed ecdsap256` (one core), then arca-bench against arcad with
# the default quotas lifted (64 callers over 4 connections: ECDSA P-256 Sign and GenerateDataKey;
# one caller on one connection: Sign and Encrypt), and against a baseline arcad in the same round
# when BASELINE_ARCAD names one (a build of an earlier commit, to show a change's effect).
# Prints each round and, per row, the median with the lowest and highest run.
#
# Environment: ROUNDS (default 5), SECONDS_PER_OP (default 3), BENCH_NO_BUILD=1 to use the
# release binaries already in target/release, BASELINE_ARCAD=/path/to/arcad.
set -euo pipefail
# A relative baseline path names a file from where the script was started.
baseline=${BASELINE_ARCAD:+$(realpath "$BASELINE_ARCAD")}
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-5}
seconds=${SECONDS_PER_OP:-3}
release=target/release
if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  cargo build --release --locked -p arca-daemon --bin arcad -p arca-tests --bin arca-bench
fi

work=$(mktemp -d -t arca-kms-bench.XXXXXX)
arcad_pid=""
cleanup() {
  if [ -n "$arcad_pid" ]; then
    kill "$arcad_pid" 2>/dev/null || true
    wait "$arcad_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

head -c 32 /dev/urandom >"$work/master.key"
cat >"$work/arca.toml" <<EOF
data_dir = "$work/data"
socket = "$work/data/arca.sock"
[seal]
mode = "key_file"
key_file = "$work/master.key"
[quotas]
crypto_requests_per_second = 0
key_pair_requests_per_second = 0
EOF

kinds="openssl shipped${baseline:+ baseline}"

daemon_round() { # daemon_round NAME ARCAD: that arcad, both arca-bench runs, rows to $work/NAME
  local name=$1 arcad=$2
  rm -rf "$work/data"
  "$arcad" --config "$work/arca.toml" >"$work/arcad.out" 2>"$work/arcad.log" &
  arcad_pid=$!
  for _ in $(seq 300); do
    grep -q '^arcad listening on unix:' "$work/arcad.out" && break
    sleep 0.1
  done
  {
    "$release/arca-bench" --socket "$work/data/arca.sock" --clients 64 --connections 4 --duration "$seconds" \
      --warmup 1 --ops sign-ecdsa-p256,generate-data-key
    "$release/arca-bench" --socket "$work/data/arca.sock" --clients 1 --connections 1 --duration "$seconds" \
      --warmup 1 --ops sign-ecdsa-p256,encrypt
  } 2>/dev/null | grep '^| [A-Z]' >"$work/$name"
  kill "$arcad_pid"
  wait "$arcad_pid" 2>/dev/null || true
  arcad_pid=""
}

echo "# KMS gRPC beside openssl speed ($(date -u +%Y-%m-%d), $(nproc) CPUs, $rounds rounds, ${seconds} s per op)"
for round in $(seq "$rounds"); do
  openssl speed -seconds "$seconds" ecdsap256 2>/dev/null | awk '/ecdsa \(nistp256\)/ { print "| openssl speed ecdsap256 sign | 1 core | " $(NF-1) " |" }' \
    >"$work/openssl.$round"
  daemon_round "shipped.$round" "$release/arcad"
  if [ -n "$baseline" ]; then
    daemon_round "baseline.$round" "$baseline"
  fi
  printf '\n## Round %s\n\n' "$round"
  cat "$work/openssl.$round" "$work/shipped.$round"
  if [ -n "$baseline" ]; then
    sed 's/^| /| baseline: /' "$work/baseline.$round"
  fi
done

python3 - "$work" "$rounds" $kinds <<'EOF'
import statistics, sys
work, rounds, kinds = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows, order = {}, []
for r in range(1, rounds + 1):
    for kind in kinds:
        for line in open(f"{work}/{kind}.{r}"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            key = (kind, cells[0], cells[1])
            if key not in order:
                order.append(key)
            p50 = cells[3] if len(cells) > 3 else ""
            rows.setdefault(key, []).append((float(cells[2]), p50))
fmt = lambda v: f"{v:,.0f}"
openssl = statistics.median(v for v, _ in rows[order[0]])
print(f"\n## Medians of {rounds} rounds (lowest–highest)\n")
print("| daemon | op | callers | ops/s | p50 (median) | / openssl speed |")
print("|---|---|---:|---:|---:|---:|")
for key in order:
    values = [v for v, _ in rows[key]]
    p50s = sorted(p for _, p in rows[key] if p)
    p50 = p50s[len(p50s) // 2] if p50s else ""
    ratio = f"{statistics.median(values) / openssl:.2f}" if "ECDSA" in key[1] and key[2] == "64" else ""
    label = {"openssl": "—", "shipped": "this build", "baseline": "baseline"}[key[0]]
    print(f"| {label} | {key[1]} | {key[2]} | {fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))}) | {p50} | {ratio} |")
EOF
