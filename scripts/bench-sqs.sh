#!/usr/bin/env bash
# Benchmark (not a test): the box's SQS service (`esb up`, HTTPS, signed with the box's
# key pair) against moto's server, side by side in one run: SendMessage, ReceiveMessage,
# DeleteMessage and a send+receive+delete round trip (messages of about 200 bytes with
# one message attribute), p50/p99 latency and throughput with 1 and 8 concurrent boto3
# clients; each server's memory (idle, after, peak); and for ESB, the latency from a
# SendMessage to the Lambda function its queue's event source mapping invokes. Loopback
# only. Writes the "## SQS" section of docs/benchmarks.md (the other sections are kept).
#   scripts/bench-sqs.sh [--targets esb,moto]
# A target missing from --targets is left out of the section; ESB is left out (with a
# note) when this esb has no SQS service (`esb up --sqs-port`). BENCH_N (2000 requests
# per row with one client), BENCH_ROW_SECONDS (10), BENCH_LAMBDA_N (50) and
# BENCH_QUEUE_DEPTH (200: the most messages a queue holds) tune it; BENCH_ESB=<path>
# uses that esb binary instead of building one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
targets="esb,moto"
while [ $# -gt 0 ]; do
    case "$1" in
        --targets) targets="$2"; shift 2 ;;
        --targets=*) targets="${1#--targets=}"; shift ;;
        *) echo "usage: $0 [--targets esb,moto]" >&2; exit 2 ;;
    esac
done
# The test venv (boto3 1.40.45, the client; awslambdaric for the box's functions) and
# moto's server (.esb-test/moto).
{ [ -x .esb-test/venv/bin/python ] && [ -x .esb-test/moto/bin/moto_server ]; } || scripts/test-deps.sh
ESB=/nonexistent
case ",$targets," in
    *,esb,*)
        if [ -n "${BENCH_ESB:-}" ]; then
            ESB="$BENCH_ESB"
        else
            cargo build --release -p esb-cli --locked
            ESB="${CARGO_TARGET_DIR:-$PWD/target}/x86_64-unknown-linux-gnu/release/esb"
        fi ;;
esac
env_prefix=""
for v in BENCH_N BENCH_ROW_SECONDS BENCH_LAMBDA_N BENCH_QUEUE_DEPTH; do
    if [ -n "${!v:-}" ]; then env_prefix+="$v=${!v} "; fi
done
args=""
[ "$targets" = "esb,moto" ] || args=" --targets $targets"
exec .esb-test/venv/bin/python scripts/bench_sqs.py --esb "$ESB" --venv "$PWD/.esb-test/venv" \
    --moto "$PWD/.esb-test/moto/bin/moto_server" --out docs/benchmarks.md \
    --targets "$targets" --command "${env_prefix}scripts/bench-sqs.sh$args"
