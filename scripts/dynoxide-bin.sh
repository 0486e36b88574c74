#!/usr/bin/env bash
# Installs dynoxide's own DynamoDB server (the `dynoxide` binary of the crate dynoxide-rs,
# the engine the box embeds) under .esb-test/dynoxide, once, and prints the binary's path.
# A second DynamoDB server to compare the box with (scripts/bench-dynamodb.sh) and to probe
# the bare engine with (scripts/dynamodb_engine_probes.py). Run it as:
#   dynoxide serve --host 127.0.0.1 --port 8000 [--db-path FILE] [--log quiet]
# (no --db-path: an in-memory database; the file is created when absent). It serves
# DynamoDB's JSON protocol over plain HTTP and streams on the same port; it only checks
# that a request carries an Authorization header, not its signature. `dynoxide --version`
# prints the product version (1.5.0 for crate 3.2.0: the two are numbered apart).
# Only the features the server needs: native-sqlite (bundled SQLite), http-server, cli
# (the binary's `required-features`); not mcp-server or import. The crate's own
# Cargo.lock is used (--locked). Builds in CARGO_TARGET_DIR (/work/target-helpers unless
# set), not in the workspace's target directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VERSION="3.2.0"
FEATURES="native-sqlite,http-server,cli"
ROOT="$PWD/.esb-test/dynoxide"
BIN="$ROOT/bin/dynoxide"

# cargo records what it installed in <root>/.crates2.json: the package id (name, version,
# source) and the features. Same version and features with the binary in place: done.
installed() {
    [ -x "$BIN" ] && [ -f "$ROOT/.crates2.json" ] && python3 - "$ROOT/.crates2.json" "$VERSION" "$FEATURES" <<'PY'
import json, sys
path, version, features = sys.argv[1:4]
installs = json.load(open(path)).get("installs", {})
want = sorted(features.split(","))
ok = any(k.startswith(f"dynoxide-rs {version} ") and sorted(v.get("features", [])) == want
         and not v.get("all_features") and v.get("no_default_features") for k, v in installs.items())
sys.exit(0 if ok else 1)
PY
}

if ! installed; then
    echo "dynoxide-bin: building dynoxide-rs $VERSION (features $FEATURES; a few minutes)" >&2
    mkdir -p "$ROOT"
    CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-helpers}" \
        cargo install --quiet --locked --force --version "=$VERSION" --root "$ROOT" \
        --no-default-features --features "$FEATURES" --bin dynoxide dynoxide-rs >&2
    installed || { echo "dynoxide-bin: $BIN is not dynoxide-rs $VERSION after installing it" >&2; exit 1; }
fi
echo "$BIN"
