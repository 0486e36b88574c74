#!/usr/bin/env bash
# The main job on a fresh machine: builds `esb` and the example's Rust function, runs
# `esb up` on the example project (examples/hello), calls its `chain` function (which
# calls `hello` through boto3) and its Rust route once, then serves until Ctrl-C.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PORT="${PORT:-8443}"

# ESB prepares its Python runtime itself (a venv under .esb/); Debian splits venv out.
if ! python3 -c "import ensurepip" 2>/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
fi
command -v curl >/dev/null || { apt-get update -qq; apt-get install -y -qq curl >/dev/null; }
# Building needs protoc (containerd-client, the containerd runtime's API, generates its code).
command -v protoc >/dev/null || { apt-get update -qq; apt-get install -y -qq protobuf-compiler >/dev/null; }
cargo build --release -p esb-cli -p hello-greeter --locked
TARGET="${CARGO_TARGET_DIR:-$PWD/target}/x86_64-unknown-linux-gnu/release"
ESB="$TARGET/esb"
mkdir -p examples/hello/greeter/dist
cp "$TARGET/hello-greeter" examples/hello/greeter/dist/bootstrap

cd examples/hello
"$ESB" up --port "$PORT" &
UP_PID=$!
trap 'kill -TERM $UP_PID 2>/dev/null; wait $UP_PID' EXIT INT TERM
for _ in $(seq 600); do
    [ -f .esb/certs/ca.pem ] && curl -s -o /dev/null --cacert .esb/certs/ca.pem "https://127.0.0.1:$PORT/health" && break
    kill -0 $UP_PID 2>/dev/null || exit 1
    sleep 0.2
done
URL="https://127.0.0.1:$PORT/2015-03-31/functions/chain/invocations"
# The Invoke API takes requests signed (Signature V4) with the key the box issued.
KEY=$(sed -n 's/^aws_access_key_id = //p' .esb/credentials)
SECRET=$(sed -n 's/^aws_secret_access_key = //p' .esb/credentials)
echo "esb: curl --cacert examples/hello/.esb/certs/ca.pem --aws-sigv4 aws:amz:us-east-1:lambda --user <key in examples/hello/.esb/credentials> -d '{\"name\":\"edge\"}' $URL" >&2
curl -s --cacert .esb/certs/ca.pem --aws-sigv4 "aws:amz:us-east-1:lambda" --user "$KEY:$SECRET" \
    -d '{"name":"edge"}' "$URL"
echo
echo "esb: curl --cacert examples/hello/.esb/certs/ca.pem https://127.0.0.1:$PORT/greet/edge" >&2
curl -s --cacert .esb/certs/ca.pem "https://127.0.0.1:$PORT/greet/edge"
echo
wait $UP_PID
