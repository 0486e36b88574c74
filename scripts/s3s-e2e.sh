#!/usr/bin/env bash
# Conformance (not part of scripts/test.sh: its first build is long): runs s3s's public
# end-to-end suite, s3s-e2e, against the S3 service of a fresh box (`esb up --runtime
# process --s3-plain-http` on loopback ports, in a temporary state directory) and
# prints its report (PASSED/FAILED per case). S3S_E2E_HTTPS=1 serves HTTPS instead, the
# box's CA trusted through SSL_CERT_FILE. Installs s3s-e2e with cargo when missing,
# under .esb-test/s3s-e2e (S3S_E2E_ROOT to place it elsewhere). Extra arguments go to
# s3s-e2e (e.g. --filter 'Basic/Put' or --list); RUST_LOG=debug shows each request.
# Advanced/STS/test_assume_role is expected to fail: it calls STS AssumeRole (POST /,
# Action=AssumeRole) at the same endpoint, and a box has no STS (answer: 501).
# Exit status: s3s-e2e's (0 when every case passed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
S3S_E2E_VERSION="0.14.1"
ROOT="${S3S_E2E_ROOT:-$PWD/.esb-test/s3s-e2e}"
E2E="$ROOT/bin/s3s-e2e"
if [ ! -x "$E2E" ] || [ "$("$E2E" --version | head -n 1)" != "s3s-e2e $S3S_E2E_VERSION" ]; then
    echo "s3s-e2e: installing s3s-e2e $S3S_E2E_VERSION into $ROOT (a long build)" >&2
    cargo install s3s-e2e --version "$S3S_E2E_VERSION" --locked --root "$ROOT"
fi
cargo build -p esb-cli --locked
ESB="${CARGO_TARGET_DIR:-$PWD/target}/x86_64-unknown-linux-gnu/debug/esb"

work="$(mktemp -d)"
box=""
cleanup() {
    if [ -n "$box" ]; then
        kill -TERM "$box" 2>/dev/null || true
        wait "$box" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
cat >"$work/template.yaml" <<EOF
Transform: AWS::Serverless-2016-10-31
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: echo
      Runtime: python3.11
      CodeUri: $PWD/tests/functions/python
      Handler: handlers.echo
EOF
# The box needs a function; it is never invoked. Reuse the test venv as its Python
# runtime when there is one (otherwise the box prepares its own).
if [ -x .esb-test/venv/bin/python ]; then
    mkdir -p "$work/state/runtimes"
    ln -s "$PWD/.esb-test/venv" "$work/state/runtimes/python"
fi
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port="$(free_port)"
if [ "${S3S_E2E_HTTPS:-0}" = 1 ]; then plain=""; scheme=https; else plain=--s3-plain-http; scheme=http; fi
s3_port="$(free_port)"
"$ESB" up --template "$work/template.yaml" --state-dir "$work/state" --runtime process \
    --port "$port" --s3-port "$s3_port" $plain >"$work/up.log" 2>&1 &
box=$!
for _ in $(seq 1 600); do
    if [ -f "$work/state/credentials" ] && (exec 3<>"/dev/tcp/127.0.0.1/$s3_port") 2>/dev/null; then
        break
    fi
    kill -0 "$box" 2>/dev/null || { cat "$work/up.log" >&2; exit 1; }
    sleep 0.1
done
key() { sed -n "s/^$1 = //p" "$work/state/credentials" | head -n 1; }
echo "s3s-e2e: against $scheme://127.0.0.1:$s3_port (box log: $work/up.log, removed at exit)" >&2
status=0
(
    cd "$work"
    AWS_ENDPOINT_URL="$scheme://127.0.0.1:$s3_port" \
        AWS_ACCESS_KEY_ID="$(key aws_access_key_id)" \
        AWS_SECRET_ACCESS_KEY="$(key aws_secret_access_key)" \
        AWS_REGION=us-east-1 \
        AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
        SSL_CERT_FILE="$work/state/certs/ca.pem" \
        "$E2E" "$@"
) || status=$?
exit "$status"
