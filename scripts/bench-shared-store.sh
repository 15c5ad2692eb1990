#!/usr/bin/env bash
# The embedded store against PostgreSQL, one node and two, in one run (docs/benchmarks.md, "A
# shared store"): a throw-away PostgreSQL cluster, one arcad on redb and two on the cluster's
# database, then 5 rounds of arca-bench (64 callers; Encrypt, GenerateDataKey, CreateKey), each
# store in turn. Needs the release build (see docs/benchmarks.md) and Debian's postgresql; run as
# root (the cluster runs as nobody).
set -euo pipefail
cd "$(dirname "$0")/.."
R=target/release
work=$(mktemp -d /tmp/bench14.XXXX); chmod 755 "$work"
pg="$work/pg"; mkdir -p "$pg"; chown 65534:65534 "$pg"
as_pg="setpriv --reuid=65534 --regid=65534 --clear-groups --"
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
$as_pg "$bin/initdb" -D "$pg/data" -U postgres --auth=trust -E UTF8 --locale=C >/dev/null
printf "listen_addresses = ''\nunix_socket_directories = '%s'\nmax_connections = 300\n" "$pg" > "$pg/data/postgresql.auto.conf"
$as_pg "$bin/pg_ctl" -D "$pg/data" -l "$pg/log" -w start >/dev/null
trap '$as_pg "$bin/pg_ctl" -D "$pg/data" -m immediate stop >/dev/null 2>&1 || true; kill $(jobs -p) 2>/dev/null || true' EXIT
psql -X -q -h "$pg" -U postgres -d postgres -c "CREATE DATABASE arca"
url="host=$pg user=postgres dbname=arca"
start() { # dir, extra args...
  local dir=$1; shift
  mkdir -p "$dir"
  $R/arcad --dev --data-dir "$dir" --aws-listen 127.0.0.1:0 --log warn "$@" > "$dir/out" 2>"$dir/err" &
  for _ in $(seq 100); do grep -q "unix:" "$dir/out" 2>/dev/null && return; sleep 0.1; done
  echo "start failed: $(cat "$dir/err")"; exit 1
}
start "$work/redb"
start "$work/a" --store "postgres:$url" --node-name a
cp "$work/a/master.key" "$work/b/master.key" 2>/dev/null || { mkdir -p "$work/b"; cp "$work/a/master.key" "$work/b/"; }
start "$work/b" --store "postgres:$url" --node-name b
for i in 1 2 3 4 5; do
  for setup in "redb:$work/redb/arca.sock" "pg1:$work/a/arca.sock" "pg2:$work/a/arca.sock,$work/b/arca.sock"; do
    echo "## run $i ${setup%%:*}"
    $R/arca-bench --socket "${setup#*:}" --clients 64 --ops encrypt,generate-data-key,create-key --duration 8 --warmup 2 2>&1
  done
done
