#!/usr/bin/env bash
# Installs everything the tests and benchmarks need, idempotently, under .esb-test/:
#   .esb-test/venv            Python venv with awslambdaric (the runtime client) and boto3
#   .esb-test/aws-lambda-rie  AWS's Runtime Interface Emulator (the oracle), taken from
#                             the aws-sam-cli wheel on PyPI
# Works on a fresh Debian/Ubuntu machine as root; fast when everything is present.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$REPO/.esb-test"
AWSLAMBDARIC_VERSION="4.2.2"
BOTO3_VERSION="1.40.45"
SAM_CLI_VERSION="1.170.0"
STAMP="$DEPS/.stamp-awslambdaric-$AWSLAMBDARIC_VERSION-boto3-$BOTO3_VERSION-sam-$SAM_CLI_VERSION"

say() { echo "test-deps: $*" >&2; }

apt_install() {
    say "installing Debian packages: $*"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

[ -f "$STAMP" ] && [ -x "$DEPS/venv/bin/python" ] && [ -x "$DEPS/aws-lambda-rie" ] && exit 0
mkdir -p "$DEPS"

command -v python3 >/dev/null || apt_install python3
command -v curl >/dev/null || apt_install curl

if [ ! -x "$DEPS/venv/bin/python" ]; then
    say "creating the Python venv"
    if ! python3 -m venv "$DEPS/venv" 2>/dev/null; then
        rm -rf "$DEPS/venv"
        apt_install python3-venv
        python3 -m venv "$DEPS/venv"
    fi
fi
say "installing awslambdaric $AWSLAMBDARIC_VERSION and boto3 $BOTO3_VERSION"
"$DEPS/venv/bin/pip" install -q --disable-pip-version-check \
    "awslambdaric==$AWSLAMBDARIC_VERSION" "boto3==$BOTO3_VERSION"

if [ ! -x "$DEPS/aws-lambda-rie" ]; then
    say "fetching AWS's RIE from the aws-sam-cli $SAM_CLI_VERSION wheel"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    "$DEPS/venv/bin/pip" download -q --disable-pip-version-check --no-deps \
        -d "$tmp" "aws-sam-cli==$SAM_CLI_VERSION"
    "$DEPS/venv/bin/python" - "$tmp" "$DEPS/aws-lambda-rie" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/aws_sam_cli-*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("samcli/local/rapid/aws-lambda-rie-x86_64"))
PY
    chmod +x "$DEPS/aws-lambda-rie"
fi
rm -f "$DEPS"/.stamp-*
touch "$STAMP"
say "ready"
