#!/usr/bin/env bash
# Benchmark (not a test): the gateway under load. Throughput and p50/p99 through the
# whole `esb up` path (HTTPS Invoke API -> pool -> process workers) at concurrency 1, 8
# and 64, each against a function whose ReservedConcurrentExecutions matches, and the
# cost of the throttling path (a function with ReservedConcurrentExecutions: 0, every
# request answered 429). Load from wrk (Debian). Writes the table to docs/benchmarks.md.
# BENCH_SECONDS sets each run's length (default 10).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/test-deps.sh
command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build --release -p esb-cli --locked
TARGET="${CARGO_TARGET_DIR:-$PWD/target}/x86_64-unknown-linux-gnu/release"
exec .esb-test/venv/bin/python scripts/bench_gateway.py "$TARGET/esb" "$PWD/.esb-test/venv" \
    "$PWD/tests/functions/python" docs/benchmarks.md "${BENCH_SECONDS:-10}" \
    "BENCH_SECONDS=${BENCH_SECONDS:-10} scripts/bench-gateway.sh"
