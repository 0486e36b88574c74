#!/usr/bin/env bash
# Soak (not a test): sustained mixed load on a box (tests/projects/soak) while faults are
# injected one at a time, repeatedly: kill -9 of a worker, of the box, of the agent
# (split mode), of the Docker daemon; a full state dir; a backward clock jump; a stopped
# worker; a worker flooding stdout. Reports per fault the requests that failed, the
# time to recover, accepted async events, acknowledged log lines and acknowledged writes
# lost, leaked processes/containers, and the box's memory and fds. Loopback only.
# Writes the "## Soak: faults under load" section of docs/benchmarks.md; docs/soak.md
# says what each fault does and how losses are counted. Needs root (mount, date -s,
# a private dockerd for the docker faults).
#   scripts/soak.sh [--minutes N] [--faults a,b,...] [--runtime process|docker|all]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ "$(id -u)" = 0 ] || { echo "soak: needs root (tmpfs mount, date -s, dockerd)" >&2; exit 1; }
# The test venv: awslambdaric for process workers, boto3 for the driver.
[ -x .esb-test/venv/bin/python ] || scripts/test-deps.sh
cargo build --release -p esb-cli --locked
TARGET="${CARGO_TARGET_DIR:-$PWD/target}/x86_64-unknown-linux-gnu/release"
WORK="$(mktemp -d /tmp/esb-soak-XXXXXX)"

# Whatever happens to the driver: the clock back to true time, the processes it started
# ended (by pid), the boxes' workers and containers removed, the tmpfs unmounted.
cleanup() {
    set +e
    if [ -f "$WORK/clock" ]; then
        read -r real0 up0 <"$WORK/clock"
        up="$(cut -d' ' -f1 /proc/uptime)"
        date -u -s "@$(awk -v a="$real0" -v b="$up" -v c="$up0" 'BEGIN { printf "%.3f", a + b - c }')" >/dev/null
        echo "soak: clock restored" >&2
    fi
    if [ -f "$WORK/cleanup" ]; then
        while read -r kind value; do
            case "$kind" in
                # Only if that pid is still an esb process (never a reused pid).
                pid) grep -q esb "/proc/$value/cmdline" 2>/dev/null && kill -9 "$value" ;;
                filler) rm -f "$value" ;;
            esac
        done <"$WORK/cleanup"
        while read -r kind value; do
            if [ "$kind" = state ] && [ -d "$value" ]; then
                ESB_DOCKER_HOST=unix:///run/esb-soak-docker.sock timeout 120 "$TARGET/esb" down --state-dir "$value" >/dev/null 2>&1
            fi
        done <"$WORK/cleanup"
        while read -r kind value; do
            case "$kind" in
                dockerd) grep -q dockerd "/proc/$value/cmdline" 2>/dev/null && { kill "$value"; sleep 3; kill -9 "$value" 2>/dev/null; } ;;
            esac
        done <"$WORK/cleanup"
        while read -r kind value; do
            [ "$kind" = mount ] && umount -l "$value" 2>/dev/null
            [ "$kind" = bridge ] && ip link del "$value" 2>/dev/null
        done <"$WORK/cleanup"
    fi
    if [ -f /run/esb-soak-docker/containerd/containerd.pid ]; then
        kill "$(cat /run/esb-soak-docker/containerd/containerd.pid)" 2>/dev/null
    fi
    # dockerd bind-mounts its data root onto itself and leaves it when killed.
    if grep -q ' /var/lib/esb-soak-docker ' /proc/mounts && ! pgrep -f 'dockerd --host unix:///run/esb-soak-docker.sock' >/dev/null; then
        umount /var/lib/esb-soak-docker
    fi
    if ! grep -q ' /var/lib/esb-soak-docker' /proc/mounts; then rm -rf /var/lib/esb-soak-docker /run/esb-soak-docker; fi
    [ -f "$WORK/report.json" ] && cp "$WORK/report.json" "${TMPDIR:-/tmp}/esb-soak-last-report.json"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd scripts
.././.esb-test/venv/bin/python soak.py "$TARGET/esb" "$PWD/../.esb-test/venv" "$PWD/../tests/projects/soak" \
    "$WORK" ../docs/benchmarks.md "scripts/soak.sh $*" "$@"
