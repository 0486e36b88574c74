#!/usr/bin/env bash
# Benchmark (not a test): the log store's ingestion rate over HTTP and its query latency
# over 1 M records (crates/esb-logs/examples/bench_store.rs): a fresh store served by
# esb_logs::http::router on a loopback port, VictoriaLogs jsonline batches POSTed by
# concurrent clients, then LogsQL queries. Writes the "## Log store" section of
# docs/benchmarks.md (the other sections are kept) and prints it.
# BENCH_RECORDS (default 1000000), BENCH_CLIENTS (4), BENCH_BATCH (1000) and
# BENCH_RUNS (20 per query) tune it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
records="${BENCH_RECORDS:-1000000}"
clients="${BENCH_CLIENTS:-4}"
batch="${BENCH_BATCH:-1000}"
runs="${BENCH_RUNS:-20}"
cargo build --release -p esb-logs --example bench_store --locked
TARGET="${CARGO_TARGET_DIR:-$PWD/target}/x86_64-unknown-linux-gnu/release"

cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
machine="Measured $(date -u +%Y-%m-%d) on $(nproc) cores (\`nproc\`; ${cpu:-unknown CPU}), $(uname -s) $(uname -r)."
env_prefix=""
for v in BENCH_RECORDS BENCH_CLIENTS BENCH_BATCH BENCH_RUNS; do
    if [ -n "${!v:-}" ]; then env_prefix+="$v=${!v} "; fi
done
command="\`${env_prefix}scripts/bench-logs.sh\`, which runs \`cargo build --release -p esb-logs --example bench_store\` then \`bench_store --records $records --batch $batch --clients $clients --runs $runs\`"

section="$(mktemp)"
trap 'rm -f "$section"' EXIT
"$TARGET/examples/bench_store" --records "$records" --batch "$batch" --clients "$clients" \
    --runs "$runs" --machine "$machine" --command "$command" >"$section"

# Replace the "## Log store" section (up to the next "## " heading), or append it.
python3 - docs/benchmarks.md "$section" <<'PY'
import os
import sys

path, section_file = sys.argv[1], sys.argv[2]
heading = "## Log store"
section = open(section_file).read().strip("\n") + "\n"
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
lines = text.splitlines(keepends=True)
start = next((i for i, l in enumerate(lines) if l.rstrip("\n") == heading), None)
if start is None:
    text = text.rstrip("\n") + "\n\n" + section
else:
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    rest = "".join(lines[end:])
    text = "".join(lines[:start]) + section + ("\n" + rest if rest else "")
with open(path, "w") as f:
    f.write(text.rstrip("\n") + "\n")
PY
cat "$section"
