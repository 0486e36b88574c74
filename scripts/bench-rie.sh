#!/usr/bin/env bash
# Benchmark (not a test): sequential warm-invoke latency p50/p90/p99 and throughput of
# AWS's RIE vs `esb rie`, same awslambdaric handler, one run. Writes the table to
# docs/benchmarks.md. BENCH_N sets the number of invokes per emulator (default 2000).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/test-deps.sh
cargo build --release -p esb-cli --locked
exec .esb-test/venv/bin/python scripts/bench_rie.py \
    "$PWD/.esb-test/aws-lambda-rie" "${CARGO_TARGET_DIR:-$PWD/target}/x86_64-unknown-linux-gnu/release/esb" \
    "$PWD/.esb-test/venv/bin/python" tests/functions/python "${BENCH_N:-2000}" docs/benchmarks.md \
    "BENCH_N=${BENCH_N:-2000} scripts/bench-rie.sh"
