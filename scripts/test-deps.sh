#!/usr/bin/env bash
# Installs everything the tests and benchmarks need, idempotently, under .esb-test/:
#   .esb-test/venv            Python venv with awslambdaric (the runtime client), boto3
#                             and the AWS CLI (v1: a PyPI package sharing boto3's botocore)
#   .esb-test/moto            moto's server, an S3 engine that is not ESB's (--s3-endpoint tests)
#   .esb-test/aws-lambda-rie  AWS's Runtime Interface Emulator (the oracle), taken from
#                             the aws-sam-cli wheel on PyPI
#   .esb-test/rootfs-python   a Debian bookworm root filesystem with Python 3.11 (made by
#                             debootstrap): the air-gapped base of Python worker images
#   /usr/bin/aws              the AWS CLI v2 (Debian's awscli): `aws logs tail` is v2-only
# and makes sure a Docker daemon (Debian's docker.io) and a containerd (Debian's
# containerd, with runc and the CNI plugins) run, starting them when none does, and that
# Debian's docker-registry is installed (tests start their own registries).
# Works on a fresh Debian/Ubuntu machine as root; fast when everything is present.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$REPO/.esb-test"
AWSLAMBDARIC_VERSION="4.2.2"
BOTO3_VERSION="1.40.45"
# awscli 1.42.N pins botocore 1.40.N, which boto3 1.40.45 accepts (>=1.40.45,<1.41).
AWSCLI_VERSION="1.42.76"
SAM_CLI_VERSION="1.170.0"
STAMP="$DEPS/.stamp-awslambdaric-$AWSLAMBDARIC_VERSION-boto3-$BOTO3_VERSION-awscli-$AWSCLI_VERSION-sam-$SAM_CLI_VERSION"

say() { echo "test-deps: $*" >&2; }

apt_install() {
    say "installing Debian packages: $*"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

mkdir -p "$DEPS"

# --- Docker daemon, registry, debootstrap, tmux (terminal tests), AWS CLI v2, and for the
# multi-node tests iproute2 (network namespaces, veth pairs) and openssl (TLS refusals) -----
missing=()
command -v ip >/dev/null || missing+=(iproute2)
# Building needs protoc (containerd-client's build script); the containerd runtime's
# tests need containerd, runc and the CNI plugins.
command -v protoc >/dev/null || missing+=(protobuf-compiler)
command -v containerd >/dev/null || missing+=(containerd)
command -v runc >/dev/null || missing+=(runc)
[ -x /usr/lib/cni/bridge ] || [ -x /opt/cni/bin/bridge ] || missing+=(containernetworking-plugins)
command -v iptables >/dev/null || missing+=(iptables)
command -v openssl >/dev/null || missing+=(openssl)
command -v tmux >/dev/null || missing+=(tmux)
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v debootstrap >/dev/null || missing+=(debootstrap)
[ -x /usr/bin/aws ] || missing+=(awscli)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

containerd_up() { [ -S /run/containerd/containerd.sock ] && ctr --address /run/containerd/containerd.sock version >/dev/null 2>&1; }
# /run may outlive the daemons (it is not a tmpfs on every machine): drop a containerd
# socket nothing answers on (dockerd would dial it and give up); the containerd started
# below makes a new one.
if [ -e /run/containerd/containerd.sock ] && ! containerd_up; then
    say "removing a stale containerd socket nothing answers on"
    rm -f /run/containerd/containerd.sock /run/containerd/containerd.sock.ttrpc
fi

# A containerd of its own at the standard socket, CRI off (ESB talks to containerd's own
# API). It starts before dockerd, which is pointed at it: a dockerd left to start a
# containerd of its own trusts that one's pid file under /var/run/docker/containerd,
# and a pid file that outlived its process (a SIGKILLed box of daemons, a reused pid)
# makes it wait for a containerd that never comes.
if ! containerd_up; then
    say "starting containerd (log: $DEPS/containerd.log)"
    printf 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n' >"$DEPS/containerd.toml"
    setsid nohup containerd --config "$DEPS/containerd.toml" >"$DEPS/containerd.log" 2>&1 </dev/null &
    for _ in $(seq 1 60); do containerd_up && break; sleep 0.5; done
    containerd_up || { say "containerd did not start; see $DEPS/containerd.log"; tail -20 "$DEPS/containerd.log" >&2; exit 1; }
fi

docker_up() { command -v docker >/dev/null && docker info >/dev/null 2>&1; }
# Likewise a pid file of a dockerd that is gone (or a zombie) stops a new one.
live_dockerd() { [ "$(ps -o stat= -o comm= -p "$1" 2>/dev/null | awk '$1 !~ /^Z/ {print $2}')" = dockerd ]; }
if ! docker_up && [ -f /var/run/docker.pid ] && ! live_dockerd "$(cat /var/run/docker.pid)"; then
    rm -f /var/run/docker.pid
fi
if ! docker_up; then
    say "starting a Docker daemon (log: $DEPS/dockerd.log)"
    setsid nohup dockerd --containerd /run/containerd/containerd.sock >"$DEPS/dockerd.log" 2>&1 </dev/null &
    for _ in $(seq 1 120); do docker_up && break; sleep 0.5; done
    docker_up || { say "dockerd did not start; see $DEPS/dockerd.log"; tail -20 "$DEPS/dockerd.log" >&2; exit 1; }
fi

ROOTFS="$DEPS/rootfs-python"
if [ ! -f "$ROOTFS/.esb-complete" ]; then
    say "making a Debian bookworm root filesystem with Python 3.11 (debootstrap, about a minute)"
    rm -rf "$ROOTFS.tmp"
    debootstrap --variant=minbase --include=python3-minimal,python3-pip \
        bookworm "$ROOTFS.tmp" http://deb.debian.org/debian >"$DEPS/debootstrap.log" 2>&1 \
        || { tail -20 "$DEPS/debootstrap.log" >&2; exit 1; }
    rm -rf "$ROOTFS"
    mv "$ROOTFS.tmp" "$ROOTFS"
    touch "$ROOTFS/.esb-complete"
fi

# --- moto's server: an S3 engine that is not ours (the --s3-endpoint tests) -----------
# In a venv of its own: moto pins its own botocore, which must not move the tests' boto3.
MOTO_VERSION="5.1.18"
if [ ! -f "$DEPS/moto/.stamp-$MOTO_VERSION" ]; then
    say "installing moto[server] $MOTO_VERSION"
    command -v python3 >/dev/null || apt_install python3
    rm -rf "$DEPS/moto"
    if ! python3 -m venv "$DEPS/moto" 2>/dev/null; then
        rm -rf "$DEPS/moto"
        apt_install python3-venv
        python3 -m venv "$DEPS/moto"
    fi
    "$DEPS/moto/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
    touch "$DEPS/moto/.stamp-$MOTO_VERSION"
fi

# --- Python runtime client and AWS's RIE ---------------------------------------------
[ -f "$STAMP" ] && [ -x "$DEPS/venv/bin/python" ] && [ -x "$DEPS/venv/bin/aws" ] \
    && [ -x "$DEPS/aws-lambda-rie" ] && exit 0

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
say "installing awslambdaric $AWSLAMBDARIC_VERSION, boto3 $BOTO3_VERSION and awscli $AWSCLI_VERSION"
"$DEPS/venv/bin/pip" install -q --disable-pip-version-check \
    "awslambdaric==$AWSLAMBDARIC_VERSION" "boto3==$BOTO3_VERSION" "awscli==$AWSCLI_VERSION"

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
