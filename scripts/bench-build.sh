#!/usr/bin/env bash
# Build and test times, this checkout against an earlier revision, measured one after
# the other on the same machine from fresh clones (nothing cached but the crates.io
# downloads and the Docker daemon's images): the whole test command (scripts/test.sh),
# a clean debug build of the binaries, the test targets on top of it, an incremental
# rebuild after touching a crate everything depends on (esb-proto), and a clean release
# build of `esb`. Prints a markdown table for docs/benchmarks.md.
#   scripts/bench-build.sh [BASE_REV]     (default: the first parent of HEAD)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
base="${1:-HEAD~1}"
work="$(mktemp -d /tmp/esb-bench-build.XXXXXX)"
trap 'rm -rf "$work"' EXIT
git clone -q . "$work/base" && git -C "$work/base" checkout -q "$base"
git clone -q . "$work/head" && git -C "$work/head" checkout -q "$(git rev-parse HEAD)"

seconds() { # command... -> wall seconds
    local s e
    s=$(date +%s.%N); "$@" >>"$work/log" 2>&1 || echo "failed: $*" >&2; e=$(date +%s.%N)
    echo "$e - $s" | bc | xargs printf '%.0f'
}
declare -A fig
for v in base head; do
    fig[$v.test]=$(cd "$work/$v" && seconds env -u CARGO_TARGET_DIR scripts/test.sh)
done
for v in base head; do
    (
        cd "$work/$v"
        export CARGO_TARGET_DIR="$work/$v-target"
        echo "$(seconds cargo build --workspace --bins --locked)" >"$work/$v.bins"
        echo "$(seconds cargo build --workspace --all-targets --locked)" >"$work/$v.tests"
        touch crates/esb-proto/src/lib.rs
        echo "$(seconds cargo build --workspace --all-targets --locked)" >"$work/$v.incr"
        rm -rf "$CARGO_TARGET_DIR"
        export CARGO_TARGET_DIR="$work/$v-release"
        echo "$(seconds cargo build --release -p esb-cli --locked)" >"$work/$v.release"
        rm -rf "$CARGO_TARGET_DIR"
    )
done
echo "| (wall seconds, 2 cores) | $(git -C "$work/base" rev-parse --short HEAD) | $(git rev-parse --short HEAD) |"
echo "|---|---:|---:|"
echo "| \`scripts/test.sh\` from a fresh clone | ${fig[base.test]} | ${fig[head.test]} |"
echo "| clean debug build of the binaries | $(cat "$work/base.bins") | $(cat "$work/head.bins") |"
echo "| + every test target | $(cat "$work/base.tests") | $(cat "$work/head.tests") |"
echo "| rebuild of all targets after touching esb-proto | $(cat "$work/base.incr") | $(cat "$work/head.incr") |"
echo "| clean release build of \`esb\` | $(cat "$work/base.release") | $(cat "$work/head.release") |"
