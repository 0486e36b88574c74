#!/usr/bin/env bash
# Benchmark (not a test): hot reload (`esb up --watch`) of a Python and a Rust function
# on process and docker workers, and cold start after scale to zero. Writes the table to
# docs/benchmarks.md. BENCH_ROUNDS sets the changes per function (default 5).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/test-deps.sh
cargo build --release -p esb-cli -p esb-rust-fixture --locked
TARGET="${CARGO_TARGET_DIR:-$PWD/target}/x86_64-unknown-linux-gnu/release"
docker image inspect esb/base:python3.11 >/dev/null 2>&1 \
    || "$TARGET/esb" image base --runtime python3.11 --rootfs .esb-test/rootfs-python
exec .esb-test/venv/bin/python scripts/bench_reload.py "$TARGET/esb" "$TARGET/bootstrap" \
    "$PWD/.esb-test/venv" tests/functions/python docs/benchmarks.md "${BENCH_ROUNDS:-5}" \
    "BENCH_ROUNDS=${BENCH_ROUNDS:-5} scripts/bench-reload.sh"
