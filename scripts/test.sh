#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine: installs what the tests
# need (scripts/test-deps.sh: a Docker daemon among them), checks formatting and lints,
# builds every binary and the Python base image, and runs every test. Safe to run again and again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/test-deps.sh
# Image builds install requirements with this pip (the host may have none).
export ESB_PIP="$PWD/.esb-test/venv/bin/pip"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --workspace --bins --locked
# The air-gapped Python base image the docker tests run on (a no-op when up to date).
ESB="${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/debug/esb"
"$ESB" image base --runtime python3.11 --rootfs .esb-test/rootfs-python >/dev/null
# The end-to-end project's images, built once here rather than by many tests at once.
"$ESB" build --template tests/projects/e2e/template.yaml >/dev/null
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked --no-fail-fast
else
    cargo test --workspace --locked --no-fail-fast
fi
