#!/usr/bin/env bash
# Benchmark (not a test): the box's CloudWatch Logs API (`esb up`, HTTPS, signed with the
# box's key pair, events in the box's log store) against moto's server, side by side in
# one run, with boto3's `logs` client: PutLogEvents (batches of 100 events of ~120 bytes),
# GetLogEvents (100 events from the head of a 20,000-event stream), FilterLogEvents (the
# first 100 matches of a term and of a JSON pattern in that stream's group), p50/p99
# latency; and the box's memory (idle, after, peak). Loopback only. Writes the
# "## CloudWatch Logs" section of docs/benchmarks.md (the other sections are kept).
#   scripts/bench-cloudwatch-logs.sh
# BENCH_N (200 requests per row) tunes it; BENCH_ESB=<path> uses that esb binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
{ [ -x .esb-test/venv/bin/python ] && [ -x .esb-test/moto/bin/moto_server ]; } || scripts/test-deps.sh
if [ -n "${BENCH_ESB:-}" ]; then
    ESB="$BENCH_ESB"
else
    cargo build --release -p esb-cli --locked
    ESB="${CARGO_TARGET_DIR:-$PWD/target}/x86_64-unknown-linux-gnu/release/esb"
fi
prefix=""
[ -z "${BENCH_N:-}" ] || prefix="BENCH_N=$BENCH_N "
exec .esb-test/venv/bin/python scripts/bench_cloudwatch_logs.py --esb "$ESB" --venv "$PWD/.esb-test/venv" \
    --moto "$PWD/.esb-test/moto/bin/moto_server" --out docs/benchmarks.md \
    --command "${prefix}scripts/bench-cloudwatch-logs.sh"
