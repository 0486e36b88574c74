#!/usr/bin/env bash
# Benchmark (not a test): docker vs process workers through the whole `esb up` path:
# cold start (first invoke of a function with no worker), resume from pause (first
# invoke after the idle worker was paused) and warm invoke latency, for a Python and a
# Rust (provided.al2023) function. Writes the table to docs/benchmarks.md.
# BENCH_COLD sets the functions per language (cold samples, default 15), BENCH_N the
# warm invokes (default 500), BENCH_RESUME the resume samples (default 30).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/test-deps.sh
cargo build --release -p esb-cli -p esb-rust-fixture --locked
TARGET="${CARGO_TARGET_DIR:-$PWD/target}/x86_64-unknown-linux-gnu/release"
docker image inspect esb/base:python3.11 >/dev/null 2>&1 \
    || "$TARGET/esb" image base --runtime python3.11 --rootfs .esb-test/rootfs-python
exec .esb-test/venv/bin/python scripts/bench_runtime.py "$TARGET/esb" "$TARGET/bootstrap" \
    "$PWD/.esb-test/venv" tests/functions/python docs/benchmarks.md \
    "${BENCH_COLD:-15}" "${BENCH_N:-500}" "${BENCH_RESUME:-30}" \
    "BENCH_COLD=${BENCH_COLD:-15} BENCH_N=${BENCH_N:-500} BENCH_RESUME=${BENCH_RESUME:-30} scripts/bench-runtime.sh"
