#!/usr/bin/env bash
# Benchmark (not a test): the box's S3 service (`esb up`, the embedded store) against
# moto's server, side by side in one run: 4 KiB PutObject/GetObject p50/p99 (a raw
# signed client and boto3), 64 MiB PUT/GET throughput next to `cat` of the same file,
# the first ListObjectsV2 page over a 100,000-key bucket, and the esb process's memory
# during a 5 GiB multipart upload and the disk left after deleting it. Loopback only.
# Writes the "## S3" section of docs/benchmarks.md (the other sections are kept).
# BENCH_N (500 per latency row), BENCH_BIG_MIB (64), BENCH_LIST_KEYS (100000),
# BENCH_HUGE_GIB (5), BENCH_LOADERS (16), BENCH_LIST_RUNS (20) tune it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MOTO_VERSION="5.2.6"
BOTO3_VERSION="1.40.45"
# The test venv (awslambdaric, for the box's one function, never invoked).
[ -x .esb-test/venv/bin/python ] || scripts/test-deps.sh
command -v curl >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null; }
# moto's server in a venv of its own (its dependencies would otherwise move the test venv's).
BENCH_VENV="$PWD/.esb-test/bench-venv"
STAMP="$BENCH_VENV/.stamp-moto-$MOTO_VERSION-boto3-$BOTO3_VERSION"
if [ ! -f "$STAMP" ]; then
    rm -rf "$BENCH_VENV"
    python3 -m venv "$BENCH_VENV"
    "$BENCH_VENV/bin/pip" install -q --disable-pip-version-check \
        "moto[server]==$MOTO_VERSION" "boto3==$BOTO3_VERSION"
    touch "$STAMP"
fi
cargo build --release -p esb-cli --locked
TARGET="${CARGO_TARGET_DIR:-$PWD/target}/x86_64-unknown-linux-gnu/release"
env_prefix=""
for v in BENCH_N BENCH_BIG_MIB BENCH_LIST_KEYS BENCH_HUGE_GIB BENCH_LOADERS BENCH_LIST_RUNS; do
    if [ -n "${!v:-}" ]; then env_prefix+="$v=${!v} "; fi
done
exec "$BENCH_VENV/bin/python" scripts/bench_s3.py "$TARGET/esb" "$PWD/.esb-test/venv" \
    "$PWD/tests/functions/python" "$BENCH_VENV/bin/moto_server" docs/benchmarks.md \
    "${env_prefix}scripts/bench-s3.sh"
