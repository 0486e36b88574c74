#!/usr/bin/env bash
# Benchmark (not a test): the box's DynamoDB service (`esb up`, HTTPS, signed with the
# box's key pair) against dynoxide's own server (the engine the box embeds, run bare:
# scripts/dynoxide-bin.sh) and moto's server, side by side in one run: PutItem, GetItem
# (items of about 200 bytes) and a 100-item Query, p50/p99 latency and throughput with 1
# and 8 concurrent boto3 clients; each server's memory (idle, after, peak); and for ESB,
# the latency from a write to the Lambda function its DynamoDB stream invokes. Loopback
# only. Writes the "## DynamoDB" section of docs/benchmarks.md (the other sections are kept).
#   scripts/bench-dynamodb.sh [--targets esb,dynoxide,moto]
# A target missing from --targets is left out of the section; ESB is left out (with a
# note) when this esb has no DynamoDB service (`esb up --dynamodb-port`). BENCH_N (2000
# requests per row with one client), BENCH_ROW_SECONDS (10), BENCH_STREAM_N (50) tune it;
# BENCH_ESB=<path> uses that esb binary instead of building one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
targets="esb,dynoxide,moto"
while [ $# -gt 0 ]; do
    case "$1" in
        --targets) targets="$2"; shift 2 ;;
        --targets=*) targets="${1#--targets=}"; shift ;;
        *) echo "usage: $0 [--targets esb,dynoxide,moto]" >&2; exit 2 ;;
    esac
done
# The test venv (boto3 1.40.45, the client; awslambdaric for the box's functions) and
# moto's server (.esb-test/moto).
{ [ -x .esb-test/venv/bin/python ] && [ -x .esb-test/moto/bin/moto_server ]; } || scripts/test-deps.sh
DYNOXIDE=/nonexistent
case ",$targets," in *,dynoxide,*) DYNOXIDE="$(scripts/dynoxide-bin.sh)" ;; esac
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
for v in BENCH_N BENCH_ROW_SECONDS BENCH_STREAM_N; do
    if [ -n "${!v:-}" ]; then env_prefix+="$v=${!v} "; fi
done
args=""
[ "$targets" = "esb,dynoxide,moto" ] || args=" --targets $targets"
exec .esb-test/venv/bin/python scripts/bench_dynamodb.py --esb "$ESB" --venv "$PWD/.esb-test/venv" \
    --dynoxide "$DYNOXIDE" --moto "$PWD/.esb-test/moto/bin/moto_server" --out docs/benchmarks.md \
    --targets "$targets" --command "${env_prefix}scripts/bench-dynamodb.sh$args"
