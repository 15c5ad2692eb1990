#!/usr/bin/env bash
# Fuzzing of the daemon's parsers of hostile bytes (the crate in fuzz/, see docs/fuzzing.md).
#
#   scripts/fuzz.sh list                 the targets
#   scripts/fuzz.sh run TARGET [SECONDS] libFuzzer on TARGET (default 300 s), one process, niced,
#                                        growing fuzz/corpus/TARGET; crashes go to fuzz/artifacts/
#   scripts/fuzz.sh cmin TARGET          minimise fuzz/corpus/TARGET (before committing it)
#   scripts/fuzz.sh smoke                every target over its committed corpus (scripts/test.sh)
#
# `run` and `cmin` use cargo-fuzz on the nightly toolchain (AddressSanitizer, coverage-guided)
# and install cargo-fuzz when it is missing. `smoke` needs neither: it builds the targets with
# the stable toolchain, uninstrumented, in the workspace's target directory (so the dependencies
# the workspace build already compiled are reused) and replays every committed input, which
# catches a regression of any crash ever found, in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

targets() {
    sed -n 's/^name = "\([a-z0-9_]*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^arca-fuzz$'
}

ensure_cargo_fuzz() {
    if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
        cargo install cargo-fuzz --locked
    fi
}

known_target() {
    if ! targets | grep -qx "$1"; then
        echo "unknown target '$1'; the targets are:" >&2
        targets >&2
        exit 2
    fi
}

run() {
    local target=$1 seconds=${2:-300}
    known_target "$target"
    ensure_cargo_fuzz
    cd fuzz
    nice -n 10 cargo +nightly fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=8192 -print_final_stats=1
}

cmin() {
    local target=$1
    known_target "$target"
    ensure_cargo_fuzz
    cd fuzz
    # Edge coverage only (no hit counts): a few hundred files per target rather than thousands.
    nice -n 10 cargo +nightly fuzz cmin "$target" "corpus/$target" -- -use_counters=0
}

# The module's rlib carries no hash in its file name (the crate is a cdylib too), so the fuzz
# workspace and the main one, sharing target/, would each link the other's build of it, made
# against another build of arca-proto (their feature sets differ). Forgetting its fingerprints on
# both sides of the fuzz build makes cargo rebuild it for each.
forget_module_build() {
    rm -rf target/debug/.fingerprint/arca-pkcs11-*
}

smoke() {
    forget_module_build
    CARGO_TARGET_DIR="$PWD/target" cargo build --locked --manifest-path fuzz/Cargo.toml --bins
    forget_module_build
    local target inputs log
    log=$(mktemp)
    trap 'rm -f "$log"' RETURN
    for target in $(targets); do
        inputs=(fuzz/corpus/"$target"/*)
        echo "fuzz smoke: $target over ${#inputs[@]} inputs"
        # Files given one by one are each run once, without the coverage an uninstrumented
        # binary lacks; any panic or failed invariant aborts with a non-zero status.
        if ! "target/debug/$target" "${inputs[@]}" >"$log" 2>&1; then
            grep -v '^Running: ' "$log" | tail -n 40 >&2
            echo "fuzz smoke: $target failed" >&2
            exit 1
        fi
    done
}

case "${1:-}" in
    list) targets ;;
    run) run "${2:?target}" "${3:-}" ;;
    cmin) cmin "${2:?target}" ;;
    smoke) smoke ;;
    *)
        sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
