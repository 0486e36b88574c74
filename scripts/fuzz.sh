#!/usr/bin/env bash
# Fuzzing (not a test, not in CI): builds the cargo-fuzz targets of fuzz/ with nightly
# and runs each, one at a time, for a fixed budget. Usage:
#   scripts/fuzz.sh [seconds-per-target] [target...]     (default 60 s, every target)
# Each target starts from its committed seeds (fuzz/corpus/<target>/, read only) and
# grows its own corpus in fuzz/grown/<target>/ (ignored by git). A crash, panic, hang
# (-timeout) or OOM (-rss_limit_mb) leaves its input in fuzz/artifacts/<target>/;
# reproduce it with `cargo +nightly fuzz run --sanitizer none -a <target> <file>`.
# Prints runs, coverage and crashes per target; exits non-zero if any target crashed.
# Needs: nightly (`rustup toolchain install nightly`), `cargo install cargo-fuzz`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"

budget="${1:-60}"
shift || true
if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
# Rust is memory-safe: what we look for is panics, overflows (debug assertions, -a),
# hangs and unbounded memory; no sanitizer keeps builds and runs fast on small boxes.
flags=(--sanitizer none -a)
cargo +nightly fuzz build "${flags[@]}" || exit 2

# The longest input worth trying: whole requests and templates, short queries.
max_len() {
    case "$1" in
        template | s3_request | cloudwatch_logs | dynamodb_request | jsonline) echo 65536 ;;
        *) echo 8192 ;;
    esac
}

failed=0
printf '%-18s %8s %12s %8s %8s %s\n' target seconds runs cov ft crashes > results.txt
for t in "${targets[@]}"; do
    mkdir -p "grown/$t" "artifacts/$t"
    before=$(find "artifacts/$t" -type f | wc -l)
    log="artifacts/$t.log"
    echo "== $t: ${budget}s"
    # The stores the service targets open live in a temp dir libFuzzer's exit never
    # removes: give each run its own, removed after it.
    rm -rf "tmp/$t" && mkdir -p "tmp/$t"
    TMPDIR="$PWD/tmp/$t" cargo +nightly fuzz run "${flags[@]}" "$t" "grown/$t" "corpus/$t" -- \
        -max_total_time="$budget" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
        -max_len="$(max_len "$t")" -timeout=10 -print_final_stats=1 >"$log" 2>&1
    rc=$?
    rm -rf "tmp/$t"
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    if [ -z "$runs" ]; then
        runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    fi
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
    crashes=$(($(find "artifacts/$t" -type f | wc -l) - before))
    if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ]; then
        failed=1
        [ "$crashes" -gt 0 ] || crashes="rc=$rc"
        grep -m3 -E "panicked at|ERROR: libFuzzer|SUMMARY" "$log" | sed "s/^/   $t: /"
    fi
    printf '%-18s %8s %12s %8s %8s %s\n' "$t" "$budget" "${runs:-?}" "${cov:-?}" "${ft:-?}" "$crashes" | tee -a results.txt
done
echo
cat results.txt
exit "$failed"
