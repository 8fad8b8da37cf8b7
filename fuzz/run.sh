#!/usr/bin/env bash
# Bounded fuzz pass for CI: fuzz/run.sh [SECONDS_PER_TARGET] (default 60).
#
# Installs cargo-fuzz if missing, builds every target once, then runs each
# for a bounded time from a fresh copy of its committed seeds. The parsers
# (frame_header, handshake_request, handshake_response) run under
# AddressSanitizer (stable compiler with RUSTC_BOOTSTRAP=1 on that command
# only, own target dir); the state-machine and structured targets run
# without a sanitizer, for half the time each (they are slower per input
# and covered by the replay test too), except `socket`, which runs the full
# time beside an ASan target. Two targets run at a time. Exits
# non-zero on any crash, leak, timeout or build failure; crash inputs are
# left in fuzz/artifacts/TARGET/.
set -euo pipefail

SECONDS_PER_TARGET="${1:-60}"
HALF=$(( SECONDS_PER_TARGET / 2 > 0 ? SECONDS_PER_TARGET / 2 : 1 ))
cd "$(dirname "$0")"

ASAN_TARGETS=(frame_header handshake_request handshake_response)
PLAIN_TARGETS=(connection_server connection_client roundtrip handshake_structured inflate socket)
ASAN_DIR=target-asan

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

start=$(date +%s)
echo "run.sh: building (plain and ASan)"
cargo fuzz build -s none
RUSTC_BOOTSTRAP=1 cargo fuzz build --target-dir "$ASAN_DIR"

# A fresh corpus per run: the committed seeds plus whatever earlier local
# runs left in fuzz/corpus/TARGET (git-ignored).
for target in "${ASAN_TARGETS[@]}" "${PLAIN_TARGETS[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    cp -n "seeds/$target/"* "corpus/$target/" 2>/dev/null || true
done

failed=()
run_one() {
    local target=$1 seconds=$2; shift 2
    local log="artifacts/$target/run.log"
    if "$@" "$target" "corpus/$target" -- -max_total_time="$seconds" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        echo "run.sh: $target ok: $(grep -E '^(Done|stat::number_of_executed_units)' "$log" | tr '\n' ' ')"
        return 0
    fi
    echo "run.sh: $target FAILED; last lines of $log:"
    tail -n 40 "$log"
    return 1
}

# Pairs of targets in parallel (the machine has 2 cores). Kinds: asan (the
# full time, ASan), plain (half the time, no sanitizer), full (the full time,
# no sanitizer).
run_pair() {
    local pids=() names=()
    while [ $# -gt 0 ]; do
        local kind=$1 target=$2; shift 2
        if [ "$kind" = asan ]; then
            run_one "$target" "$SECONDS_PER_TARGET" env RUSTC_BOOTSTRAP=1 \
                cargo fuzz run --target-dir "$ASAN_DIR" &
        elif [ "$kind" = full ]; then
            run_one "$target" "$SECONDS_PER_TARGET" cargo fuzz run -s none &
        else
            run_one "$target" "$HALF" cargo fuzz run -s none &
        fi
        pids+=($!)
        names+=("$target")
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || failed+=("${names[$i]}")
    done
}

run_pair asan frame_header asan handshake_request
run_pair asan handshake_response full socket
run_pair plain connection_server plain connection_client
run_pair plain roundtrip plain inflate
run_pair plain handshake_structured

echo "run.sh: finished in $(( $(date +%s) - start )) s (build included)"
if [ ${#failed[@]} -gt 0 ]; then
    echo "run.sh: crashes in: ${failed[*]} (inputs in fuzz/artifacts/)"
    exit 1
fi
