#!/usr/bin/env bash
# Benchmark (not a test): a box on several nodes (network namespaces on this machine,
# each with its own `esb agent --join`): warm invoke through a remote node versus the
# box's own, time from a node's death to the first request served elsewhere, and
# placement balance on 3 nodes. Writes the "## Nodes" section of docs/benchmarks.md.
# Needs root (network namespaces). BENCH_N sets the warm invokes per function (default
# 2000), BENCH_ROUNDS the node deaths (default 5), BENCH_ESB=<path> a prebuilt esb.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/test-deps.sh
if [ -n "${BENCH_ESB:-}" ]; then
    ESB="$BENCH_ESB"
else
    cargo build --release -p esb-cli --locked
    ESB="${CARGO_TARGET_DIR:-$PWD/target}/x86_64-unknown-linux-gnu/release/esb"
fi
exec .esb-test/venv/bin/python scripts/bench_nodes.py "$ESB" "$PWD/.esb-test/venv" docs/benchmarks.md \
    "${BENCH_N:-2000}" "${BENCH_ROUNDS:-5}" \
    "BENCH_N=${BENCH_N:-2000} BENCH_ROUNDS=${BENCH_ROUNDS:-5} scripts/bench-nodes.sh"
