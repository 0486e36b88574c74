#!/usr/bin/env bash
# Benchmark (not a test): what central logging costs a warm invoke. A silent function
# vs a chatty one (27 lines per invoke), with the box's log pipeline on and off, and
# how long a printed line takes to become queryable. Writes to docs/benchmarks.md.
# BENCH_N sets the warm invokes per case (default 500).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/test-deps.sh
cargo build --release -p esb-cli --locked
TARGET="${CARGO_TARGET_DIR:-$PWD/target}/x86_64-unknown-linux-gnu/release"
exec .esb-test/venv/bin/python scripts/bench_log_cost.py "$TARGET/esb" "$PWD/.esb-test/venv" \
    tests/functions/python docs/benchmarks.md "${BENCH_N:-500}" \
    "BENCH_N=${BENCH_N:-500} scripts/bench-log-cost.sh"
