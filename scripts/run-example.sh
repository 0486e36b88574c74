#!/usr/bin/env bash
# The main job on a fresh machine: builds `esb` and serves the example project's
# function (examples/hello) on http://127.0.0.1:${PORT:-8080}, invoking it once to
# show the answer, then keeps serving until Ctrl-C.
# Until `esb up` lands (issue 3) the function runs under `esb rie`, the worker
# entrypoint, with awslambdaric from the venv that scripts/test-deps.sh prepares.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$PWD"
PORT="${PORT:-8080}"

scripts/test-deps.sh
cargo build --release -p esb-cli --locked
ESB="$REPO/target/x86_64-unknown-linux-gnu/release/esb"

cd examples/hello
export AWS_LAMBDA_FUNCTION_NAME=hello AWS_LAMBDA_FUNCTION_TIMEOUT=10 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128
"$ESB" rie --listen "127.0.0.1:$PORT" --runtime-api 127.0.0.1:0 -- \
    "$REPO/.esb-test/venv/bin/python" -m awslambdaric app.handler &
RIE_PID=$!
trap 'kill -TERM $RIE_PID 2>/dev/null; wait $RIE_PID' EXIT INT TERM
URL="http://127.0.0.1:$PORT/2015-03-31/functions/hello/invocations"
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
echo "esb: invoking the example: curl -d '{\"name\":\"edge\"}' $URL" >&2
curl -s -d '{"name":"edge"}' "$URL"
echo
echo "esb: serving on $URL (Ctrl-C to stop)" >&2
wait $RIE_PID
