"""Soak: sustained mixed load on a box (tests/projects/soak) while faults are injected one
at a time, and what each cost: requests failed, time to recover, accepted async events,
acknowledged log lines and acknowledged S3/DynamoDB writes lost, processes and
containers leaked, the box's memory and file descriptors before and after. Loopback only.

Usage: soak.py <esb> <runtime-venv> <project-dir> <work-dir> <benchmarks.md> <command>
       [--minutes N] [--faults a,b,...] [--runtime process|docker|all]

Faults (docs/soak.md): worker-kill, sigstop, flood, clock-jump, disk-full, box-kill
(process runtime, `esb up`), agent-kill (split mode: `esb agent` + `esb gateway`),
docker-worker-kill, dockerd-restart (docker runtime, on a private Docker daemon).
The work dir records what the shell's trap must undo if this script dies (clock, mounts,
processes it started).
"""
import argparse
import collections
import errno
import hashlib
import json
import os
import random
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from bench_common import free_port, machine, write_section

ESB, VENV, PROJECT, WORK, OUT, COMMAND = sys.argv[1:7]
REGION = "us-east-1"
PROCESS_FAULTS = ["worker-kill", "sigstop", "flood", "clock-jump", "disk-full", "box-kill"]
SPLIT_FAULTS = ["agent-kill"]
DOCKER_FAULTS = ["docker-worker-kill", "dockerd-restart"]
ALL_FAULTS = PROCESS_FAULTS + SPLIT_FAULTS + DOCKER_FAULTS
LOG_K = 20            # lines per soak-lines call
FLOOD_MB = 20         # what one soak-flood call prints
TMPFS_MB = 1024       # the process box's state dir
BASELINE_S = 8        # steady load before each injection
SETTLE_S = 10         # failure-free seconds that count as recovered
RECOVERY_LIMIT_S = 90
LOADERS = 6
KINDS = ["sync", "log", "async", "api", "chain", "s3", "ddb"]
DOCKER_SOCK = "/run/esb-soak-docker.sock"
DOCKER_ROOT = "/var/lib/esb-soak-docker"
DOCKER_EXEC = "/run/esb-soak-docker"
DOCKER_POOL = "10.213.0.0/16"  # the private daemon's networks; never 172.50.0.0/16
# The private daemon's default bridge. Not `--bridge none`: a dockerd started with it
# deletes the machine's docker0, and with it every other daemon's default network.
DOCKER_BRIDGE, DOCKER_BRIDGE_ADDR = "esbsoak0", "10.214.0.1/24"


def log(msg):
    print(f"soak: {msg}", file=sys.stderr, flush=True)


def mono():
    return time.monotonic()


def uptime():
    """CLOCK_BOOTTIME seconds, as the shell's trap reads them from /proc/uptime."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def note_cleanup(kind, value):
    """One line the shell's trap acts on if this script dies: `pid N`, `mount P`, `state S`,
    `bridge B`."""
    with open(os.path.join(WORK, "cleanup"), "a") as f:
        f.write(f"{kind} {value}\n")


# ---------------------------------------------------------------- processes and /proc

def proc_rss_fds(pid):
    try:
        rss = next(int(l.split()[1]) / 1024 for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:"))
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration):
        return None, None


def all_procs():
    """{pid: (ppid, cmdline, environ)} of every process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open(f"/proc/{d}/stat").read()
            ppid = int(stat[stat.rfind(")") + 2:].split()[1])
            cmd = open(f"/proc/{d}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            env = open(f"/proc/{d}/environ", "rb").read().decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        out[int(d)] = (ppid, cmd, env)
    return out


def strays(state, owners):
    """Processes that mention the state dir (cmdline or environment) but descend from none
    of `owners` (the box, agent, gateway, and the workers the agent has records of): leaked."""
    procs = all_procs()
    me = os.getpid()

    def owned(pid):
        seen = 0
        while pid > 1 and seen < 64:
            if pid in owners:
                return True
            pid = procs.get(pid, (0,))[0]
            seen += 1
        return False

    return [f"pid {p}: {cmd[:100]}" for p, (_, cmd, env) in procs.items()
            if p != me and (state in cmd or state in env) and not owned(p)]


def wait_dead(pid, within=10):
    deadline = mono() + within
    while mono() < deadline:
        if not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(") ")[1][0] == "Z":
            return True
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------- the private Docker daemon

class Dockerd:
    """A Docker daemon of the soak's own (socket, data root, address pool, no iptables), so
    killing it never touches the machine's daemon or anyone else's containers."""

    def __init__(self):
        self.proc = None
        self.host = f"unix://{DOCKER_SOCK}"

    def cli(self, *args, check=True, timeout=120):
        try:
            return subprocess.run(["docker", "-H", self.host] + list(args), capture_output=True, text=True,
                                  check=check, timeout=timeout)
        except subprocess.TimeoutExpired:
            if check:
                raise
            return subprocess.CompletedProcess(args, 124, "", "timed out")

    def stale_containerd(self):
        """The containerd a SIGKILLed dockerd left (its pid file), if it still runs."""
        try:
            pid = int(open(os.path.join(DOCKER_EXEC, "containerd", "containerd.pid")).read())
            return pid if "containerd" in open(f"/proc/{pid}/cmdline").read() else None
        except (OSError, ValueError):
            return None

    def start(self):
        """Starts dockerd and waits until it answers; when it gives up on its containerd
        (a SIGKILLed dockerd's containerd can linger without answering), that containerd
        is ended and dockerd started again, up to three times. Returns the attempts."""
        if subprocess.run(["ip", "link", "show", DOCKER_BRIDGE], capture_output=True).returncode != 0:
            subprocess.run(["ip", "link", "add", DOCKER_BRIDGE, "type", "bridge"], check=True)
            note_cleanup("bridge", DOCKER_BRIDGE)
            subprocess.run(["ip", "addr", "add", DOCKER_BRIDGE_ADDR, "dev", DOCKER_BRIDGE], check=True)
            subprocess.run(["ip", "link", "set", DOCKER_BRIDGE, "up"], check=True)
        for attempt in range(1, 4):
            out = open(os.path.join(WORK, "dockerd.log"), "a")
            self.proc = subprocess.Popen(
                ["dockerd", "--host", self.host, "--data-root", DOCKER_ROOT, "--exec-root", DOCKER_EXEC,
                 "--pidfile", DOCKER_EXEC + ".pid", "--bridge", DOCKER_BRIDGE, "--iptables=false", "--ip-masq=false",
                 "--ip6tables=false", "--default-address-pool", f"base={DOCKER_POOL},size=24"],
                stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True)
            note_cleanup("dockerd", self.proc.pid)
            deadline = mono() + 90
            while mono() < deadline and self.proc.poll() is None:
                if self.cli("info", check=False, timeout=10).returncode == 0:
                    return attempt
                time.sleep(0.3)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            stale = self.stale_containerd()
            if stale:
                os.kill(stale, signal.SIGKILL)
                wait_dead(stale)
        raise SystemExit("the soak's dockerd did not start; see " + os.path.join(WORK, "dockerd.log"))

    def seed_base(self):
        """The Python base image, copied from the machine's daemon (read only there)."""
        if self.cli("image", "inspect", "esb/base:python3.11", check=False).returncode == 0:
            return
        log("copying esb/base:python3.11 into the soak's daemon")
        save = subprocess.Popen(["docker", "save", "esb/base:python3.11"], stdout=subprocess.PIPE)
        subprocess.run(["docker", "-H", self.host, "load", "-q"], stdin=save.stdout, check=True,
                       capture_output=True)
        if save.wait() != 0:
            raise SystemExit("docker save esb/base:python3.11 failed (run scripts/test-deps.sh first)")

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def box_containers(self, state):
        try:
            box = open(os.path.join(state, "box-id")).read().strip()
        except OSError:
            return []
        r = self.cli("ps", "-a", "--filter", f"label=esb.box={box}", "--format", "{{.ID}} {{.Names}} {{.State}}",
                     check=False)
        if r.returncode != 0:
            return [["?", "the soak's dockerd does not answer", "unknown"]]
        return [l.split() for l in r.stdout.splitlines() if l.strip()]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # Its containerd can outlive it when dockerd is SIGKILLed; end it by its pid file.
        stale = self.stale_containerd()
        if stale:
            os.kill(stale, signal.SIGTERM)
            wait_dead(stale, 20)


# ---------------------------------------------------------------- the box

class Box:
    """`esb up` (mode "up") or `esb agent` + `esb gateway` (mode "split") on one state dir,
    with fixed ports so a restart serves where the clients point."""

    def __init__(self, mode, runtime, state, dockerd=None):
        self.mode, self.runtime, self.state, self.dockerd = mode, runtime, state, dockerd
        self.port, self.s3_port, self.ddb_port, self.logs_port = free_port(), free_port(), free_port(), free_port()
        self.agent_port = free_port()
        self.out_path = os.path.join(WORK, f"box-{mode}-{runtime}.out")
        self.main = None   # esb up, or esb gateway
        self.agent = None  # split mode
        note_cleanup("state", state)

    def common(self):
        return ["--template", os.path.join(PROJECT, "template.yaml"), "--state-dir", self.state,
                "--port", str(self.port), "--s3-port", str(self.s3_port), "--dynamodb-port", str(self.ddb_port),
                "--logs-listen", f"127.0.0.1:{self.logs_port}", "--cloudwatch-logs-port", "off",
                "--async-retry-delay", "2", "--logs-max-mb", "600", "--acquire-timeout", "5"]

    def spawn(self, cmd):
        out = open(self.out_path, "a")
        out.write(f"\n==== {time.strftime('%H:%M:%S')} {' '.join(cmd)}\n")
        out.flush()
        env = dict(os.environ, ESB_DOCKER_HOST=self.dockerd.host) if self.dockerd else None
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        note_cleanup("pid", p.pid)
        return p

    def start_agent(self):
        self.agent = self.spawn([ESB, "agent", "--runtime", self.runtime, "--listen", f"127.0.0.1:{self.agent_port}",
                                 "--state-dir", self.state, "--remove-workers-on-exit"])

    def start(self, within=300):
        if self.mode == "up":
            self.main = self.spawn([ESB, "up", "--runtime", self.runtime] + self.common())
        else:
            if self.agent is None or self.agent.poll() is not None:
                self.start_agent()
            self.main = self.spawn([ESB, "gateway", "--agent", f"http://127.0.0.1:{self.agent_port}"] + self.common())
        self.wait_serving(within)

    def wait_serving(self, within):
        import socket
        deadline = mono() + within
        ports = [self.port, self.s3_port, self.ddb_port, self.logs_port]
        while mono() < deadline:
            if self.main.poll() is not None:
                raise SystemExit(f"the box exited ({self.main.returncode}); see {self.out_path}")
            try:
                if os.path.exists(os.path.join(self.state, "credentials")):
                    for p in ports:
                        socket.create_connection(("127.0.0.1", p), timeout=1).close()
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"the box did not serve within {within} s; see {self.out_path}")

    def pids(self):
        return {p.pid for p in (self.main, self.agent) if p and p.poll() is None}

    def credentials(self):
        values = dict(l.split(" = ", 1) for l in open(os.path.join(self.state, "credentials")).read().splitlines()
                      if " = " in l)
        return values["aws_access_key_id"], values["aws_secret_access_key"]

    def ca(self):
        return os.path.join(self.state, "certs", "ca.pem")

    def workers(self, functions=None):
        """The agent's worker records: [{id, function_name, pid, container, ...}]."""
        out = []
        d = os.path.join(self.state, "agent", "workers")
        for name in os.listdir(d) if os.path.isdir(d) else []:
            try:
                rec = json.load(open(os.path.join(d, name)))
            except (OSError, ValueError):
                continue
            if functions is None or rec.get("function_name") in functions:
                out.append(rec)
        return out

    def output_since(self, offset):
        with open(self.out_path, errors="replace") as f:
            f.seek(offset)
            return f.read()

    def output_size(self):
        return os.path.getsize(self.out_path)

    def stop(self):
        for p in (self.main, self.agent):
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=90)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        env = dict(os.environ, ESB_DOCKER_HOST=self.dockerd.host) if self.dockerd else None
        subprocess.run([ESB, "down", "--state-dir", self.state], env=env, capture_output=True, timeout=120)

    def query(self, logsql, timeout=120):
        url = f"http://127.0.0.1:{self.logs_port}/select/logsql/query?" + urllib.parse.urlencode({"query": logsql, "limit": 5000000})
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return [json.loads(l) for l in r.read().decode(errors="replace").splitlines() if l.strip()]


# ---------------------------------------------------------------- load and ledgers

class Ledger:
    """Every request (monotonic start, end, kind, ok, error) and every acknowledgement the
    box gave (async ids, log-line ids, S3 keys and DynamoDB items), each with the phase it
    was given in."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.async_ids = {}
        self.log_ids = {}
        self.s3 = {}
        self.ddb = {}
        self.phase = "start"
        self.last_fail = 0.0
        self.errors = collections.defaultdict(collections.Counter)  # phase -> "kind: error" -> n

    def record(self, t0, kind, ok, err=None):
        t1 = mono()
        with self.lock:
            self.requests.append((t0, t1, kind, ok))
            if not ok:
                self.last_fail = max(self.last_fail, t1)
                self.errors[self.phase][f"{kind}: {err}"[:240]] += 1

    def ack(self, table, key, value=None):
        with self.lock:
            table[key] = (value, self.phase, mono())


def short_error(e):
    text = str(e).replace("\n", " ")
    text = re.sub(r"\b[0-9a-f]{8}-[0-9a-f-]{27}\b", "<id>", text)
    text = re.sub(r"\b[0-9a-f]{16,}\b", "<id>", text)
    return f"{type(e).__name__}: {text[:180]}"


class Load:
    """LOADERS threads sending a mix of every kind of request, as fast as answers come with
    a short pause between them."""

    def __init__(self, box, ledger):
        self.box, self.ledger = box, ledger
        self.stop_flag = threading.Event()
        self.paused = threading.Event()
        self.threads = []

    def clients(self):
        key, secret = self.box.credentials()
        cfg = Config(retries={"max_attempts": 1}, connect_timeout=3, read_timeout=25,
                     s3={"addressing_style": "path"})
        kw = dict(region_name=REGION, aws_access_key_id=key, aws_secret_access_key=secret, verify=self.box.ca(),
                  config=cfg)
        session = boto3.session.Session()  # boto3's default session is not for threads
        return {
            "lambda": session.client("lambda", endpoint_url=f"https://127.0.0.1:{self.box.port}", **kw),
            "s3": session.client("s3", endpoint_url=f"https://127.0.0.1:{self.box.s3_port}", **kw),
            "ddb": session.client("dynamodb", endpoint_url=f"https://127.0.0.1:{self.box.ddb_port}", **kw),
            "ctx": ssl.create_default_context(cafile=self.box.ca()),
        }

    def one(self, c, kind):
        uid = os.urandom(8).hex()
        lam = c["lambda"]
        if kind in ("sync", "log", "chain"):
            fn = {"sync": "soak-echo", "log": "soak-lines", "chain": "soak-chain"}[kind]
            r = lam.invoke(FunctionName=fn, Payload=json.dumps({"id": uid, "k": LOG_K}).encode())
            body = r["Payload"].read()
            if r.get("FunctionError") or uid.encode() not in body:
                raise RuntimeError(f"{r.get('FunctionError')} {body[:160]!r}")
            if kind == "log":
                self.ledger.ack(self.ledger.log_ids, uid)
        elif kind == "async":
            r = lam.invoke(FunctionName="soak-mark", InvocationType="Event", Payload=json.dumps({"id": uid}).encode())
            if r["StatusCode"] != 202:
                raise RuntimeError(f"status {r['StatusCode']}")
            self.ledger.ack(self.ledger.async_ids, uid)
        elif kind == "api":
            url = f"https://127.0.0.1:{self.box.port}/soak/{uid}"
            with urllib.request.urlopen(url, timeout=25, context=c["ctx"]) as r:
                if uid.encode() not in r.read():
                    raise RuntimeError("wrong body")
        elif kind == "s3":
            body = os.urandom(random.choice((512, 4096, 65536)))
            c["s3"].put_object(Bucket="soak-data", Key=f"k/{uid}", Body=body)
            self.ledger.ack(self.ledger.s3, f"k/{uid}", hashlib.sha256(body).hexdigest())
        elif kind == "ddb":
            value = hashlib.sha256(uid.encode()).hexdigest()
            c["ddb"].put_item(TableName="soak-items", Item={"id": {"S": uid}, "v": {"S": value}})
            self.ledger.ack(self.ledger.ddb, uid, value)

    def loop(self, n):
        c = None
        i = n
        while not self.stop_flag.is_set():
            if self.paused.is_set():
                time.sleep(0.1)
                continue
            kind = KINDS[i % len(KINDS)]
            i += 1
            t0 = mono()
            try:
                if c is None:
                    c = self.clients()
                self.one(c, kind)
                self.ledger.record(t0, kind, True)
            except Exception as e:  # every failure is a data point
                self.ledger.record(t0, kind, False, short_error(e))
                if not isinstance(e, (ClientError, RuntimeError)):
                    c = None  # transport trouble: fresh connections (and credentials) next time
                time.sleep(0.2)
            time.sleep(0.02)

    def start(self):
        self.threads = [threading.Thread(target=self.loop, args=(n,), daemon=True) for n in range(LOADERS)]
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=60)


# ---------------------------------------------------------------- faults

class Phase:
    def __init__(self, fault, box):
        self.fault = fault
        self.box = box
        self.notes = []
        self.inject = self.release = self.end = None
        self.before = self.after = (None, None)
        self.extra = {}


def main_pid(box):
    return box.main.pid if box.main and box.main.poll() is None else None


def busy(pid):
    """Whether a process worker's runtime (a child of its `esb rie`) is running right now."""
    for d in os.listdir("/proc"):
        try:
            stat = open(f"/proc/{d}/stat").read() if d.isdigit() else ""
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(pid) and fields[0] == "R":
            return True
    return False


def pick_worker(box, functions, prefer_busy=False):
    """A random worker of `functions`; with `prefer_busy`, one caught mid-invocation when
    one is within 3 s (process workers)."""
    deadline = mono() + (3 if prefer_busy else 0)
    while True:
        ws = [w for w in box.workers(functions) if w.get("pid") or w.get("container")]
        hot = [w for w in ws if w.get("pid") and busy(w["pid"])] if prefer_busy else []
        if hot or mono() >= deadline:
            pool = hot or ws
            return (random.choice(pool), bool(hot)) if pool else (None, False)
        time.sleep(0.05)


def fault_worker_kill(ph, box, ledger, dockerd):
    w, hot = pick_worker(box, ["soak-lines", "soak-echo", "soak-chain", "soak-mark", "soak-api"], prefer_busy=True)
    if not w:
        raise RuntimeError("no worker to kill")
    ph.inject = mono()
    if w.get("container"):
        dockerd.cli("kill", "-s", "KILL", w["container"], check=False)
        ph.notes.append(f"docker kill -s KILL {w['function_name']}'s container")
    else:
        os.kill(w["pid"], signal.SIGKILL)
        ph.notes.append(f"kill -9 {w['function_name']}'s esb rie ({'mid-invocation' if hot else 'idle'})")
    ph.release = ph.inject


def fault_sigstop(ph, box, ledger, dockerd):
    """Every worker of soak-echo stops answering (SIGSTOP of its `esb rie` and of its
    runtime, each in a process group of its own), past the function's timeout: requests
    routed to them must time out and new workers serve the rest."""
    ws = [w for w in box.workers(["soak-echo"]) if w.get("pid")]
    if not ws:
        raise RuntimeError("no worker to stop")
    procs = all_procs()
    groups = set()
    for w in ws:
        for p, (ppid, _, _) in procs.items():
            if p == w["pid"] or ppid == w["pid"]:
                try:
                    groups.add(os.getpgid(p))
                except OSError:
                    pass
    ph.inject = mono()
    for g in groups:
        os.killpg(g, signal.SIGSTOP)
    try:
        time.sleep(3 + 7)  # past the function's 3 s timeout
    finally:
        for g in groups:
            try:
                os.killpg(g, signal.SIGCONT)
            except OSError:
                pass
    ph.release = mono()
    ph.notes.append(f"SIGSTOP of all {len(ws)} soak-echo workers ({len(groups)} process groups: esb rie and "
                    "runtime) for 10 s, past the 3 s timeout, then SIGCONT")


def fault_flood(ph, box, ledger, dockerd):
    fid = "fl" + os.urandom(6).hex()
    key, secret = box.credentials()
    lam = boto3.client("lambda", endpoint_url=f"https://127.0.0.1:{box.port}", region_name=REGION,
                       aws_access_key_id=key, aws_secret_access_key=secret, verify=box.ca(),
                       config=Config(retries={"max_attempts": 1}, read_timeout=180))
    result = {}

    def run():
        t0 = mono()
        try:
            r = lam.invoke(FunctionName="soak-flood", Payload=json.dumps({"id": fid, "mb": FLOOD_MB}).encode())
            result["answer"] = (r.get("FunctionError"), r["Payload"].read()[:200])
        except Exception as e:
            result["answer"] = ("client", short_error(e))
        result["seconds"] = mono() - t0

    peak = 0.0
    ph.inject = mono()
    t = threading.Thread(target=run)
    t.start()
    while t.is_alive():
        rss, _ = proc_rss_fds(main_pid(box))
        peak = max(peak, rss or 0)
        time.sleep(0.25)
    ph.release = mono()
    ph.extra["flood"] = (fid, result)
    ph.extra["flood_peak_rss"] = peak
    ph.notes.append(f"flooder printed {FLOOD_MB} MiB in {result['seconds']:.1f} s "
                    f"(answer {result['answer'][0] or 'ok'}); box RSS peak {peak:.0f} MB during it")


def set_clock(epoch):
    subprocess.run(["date", "-u", "-s", f"@{epoch:.6f}"], check=True, capture_output=True)


def fault_clock_jump(ph, box, ledger, dockerd):
    real0, up0 = time.time(), uptime()
    with open(os.path.join(WORK, "clock"), "w") as f:
        f.write(f"{real0:.6f} {up0:.6f}\n")
    ph.inject = mono()
    try:
        set_clock(real0 - 600)
        time.sleep(20)
    finally:
        set_clock(real0 + (uptime() - up0))
        os.unlink(os.path.join(WORK, "clock"))
    ph.release = mono()
    ph.notes.append("system clock set 10 min back for 20 s, then restored from the monotonic clock")


def fault_disk_full(ph, box, ledger, dockerd):
    filler = os.path.join(box.state, "soak-filler")
    note_cleanup("filler", filler)
    offset = box.output_size()
    ph.inject = mono()
    chunk = b"\0" * (1 << 20)
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    f.write(chunk[:size])
            except OSError:
                pass
    st = os.statvfs(box.state)
    ph.notes.append(f"state dir tmpfs full ({st.f_bavail * st.f_bsize} bytes free) for 20 s")
    served = collections.Counter()
    t_full = mono()
    time.sleep(20)
    with ledger.lock:
        for t0, t1, kind, ok in ledger.requests:
            if t0 >= t_full:
                served[(kind, ok)] += 1
    os.unlink(filler)
    ph.release = mono()
    ph.extra["disk_served"] = served
    said = box.output_since(offset)
    kinds = collections.Counter()
    for l in said.splitlines():
        if re.search(r"space|full|ENOSPC|os error 28", l, re.I):
            l = re.sub(r"^\S+Z\s+", "", l.strip())
            kinds[re.sub(r"\d+", "N", l)[:220]] += 1
    ph.extra["disk_said"] = kinds


def fault_box_kill(ph, box, ledger, dockerd):
    pid = box.main.pid
    ph.inject = mono()
    os.kill(pid, signal.SIGKILL)
    box.main.wait()
    ph.notes.append("kill -9 of `esb up`, then `esb up` again on the same state dir and ports")
    box.start()
    ph.extra["restart_s"] = mono() - ph.inject
    ph.release = ph.inject


def fault_agent_kill(ph, box, ledger, dockerd):
    ph.inject = mono()
    os.kill(box.agent.pid, signal.SIGKILL)
    box.agent.wait()
    box.start_agent()
    ph.release = ph.inject
    ph.notes.append("kill -9 of `esb agent`, started again at once (same state dir, same address)")


def fault_dockerd_restart(ph, box, ledger, dockerd):
    ph.inject = mono()
    dockerd.kill9()
    attempts = dockerd.start()
    ph.extra["restart_s"] = mono() - ph.inject
    ph.release = ph.inject
    ph.notes.append(f"kill -9 of dockerd, restarted ({ph.extra['restart_s']:.1f} s until it answered"
                    + (f"; {attempts} starts: its old containerd had to be killed)" if attempts > 1 else ")"))


FAULTS = {"worker-kill": fault_worker_kill, "docker-worker-kill": fault_worker_kill, "sigstop": fault_sigstop,
          "flood": fault_flood, "clock-jump": fault_clock_jump, "disk-full": fault_disk_full,
          "box-kill": fault_box_kill, "agent-kill": fault_agent_kill, "dockerd-restart": fault_dockerd_restart}


def run_phase(fault, box, ledger, dockerd):
    ph = Phase(fault, box)
    ledger.phase = fault
    time.sleep(BASELINE_S)
    ph.before = proc_rss_fds(main_pid(box))
    log(f"{fault}: inject")
    try:
        FAULTS[fault](ph, box, ledger, dockerd)
    except Exception as e:  # a fault that could not be injected is reported, not fatal
        ph.notes.append(f"could not inject: {short_error(e)}")
        ph.inject = ph.inject or mono()
        ph.release = ph.release or mono()
    # Recovered: SETTLE_S without a failed request, counted from the fault's release.
    deadline = ph.release + RECOVERY_LIMIT_S
    while True:
        now = mono()
        quiet_since = max(ph.release, ledger.last_fail)
        if now - quiet_since >= SETTLE_S:
            break
        if now > deadline:
            ph.notes.append(f"still failing {RECOVERY_LIMIT_S} s after the fault")
            break
        time.sleep(0.5)
    ph.end = mono()
    ph.after = proc_rss_fds(main_pid(box))
    with ledger.lock:
        fails = [r for r in ledger.requests if r[0] >= ph.inject and not r[3]]
    ph.failed = collections.Counter(r[2] for r in fails)
    with ledger.lock:
        slow = max(((r[1] - r[0], r[2]) for r in ledger.requests if r[0] >= ph.inject and r[3]), default=None)
    if slow:
        ph.notes.append(f"slowest successful request from the injection on: {slow[0]:.1f} s ({slow[1]})")
    last = max((r[1] for r in fails), default=None)
    ph.recovery = 0.0 if last is None else max(0.0, last - ph.release)
    ph.recovered = ph.end - max(ph.release, ledger.last_fail) >= SETTLE_S - 0.01
    # A worker the agent has a record of is owned (a restarted agent adopts its workers).
    ph.leaked = strays(box.state, box.pids() | {w["pid"] for w in box.workers() if w.get("pid")})
    if dockerd:
        ph.leaked += [c for c in dockerd.box_containers(box.state) if c[2] not in ("running", "paused")]
    if ph.leaked:
        ph.notes.append(f"left after it: {'; '.join(map(str, ph.leaked[:3]))}")
    log(f"{fault}: {sum(ph.failed.values())} failed, recovered in {ph.recovery:.1f} s, leaks {len(ph.leaked)}")
    return ph


# ---------------------------------------------------------------- verification

def grep_state(state, needle):
    """Files under the state dir that contain `needle` (for diagnosing a loss)."""
    hits = []
    for root, _, files in os.walk(state):
        if "runtimes" in root or "/s3" in root:
            continue
        for f in files:
            p = os.path.join(root, f)
            try:
                if os.path.getsize(p) < 64 << 20 and needle.encode() in open(p, "rb").read():
                    hits.append(os.path.relpath(p, state))
            except OSError:
                pass
    return hits


def verify(box, ledger, phases, runtime_label):
    """Looks up every acknowledgement; returns {phase: {async, lines, s3, ddb}} losses and
    diagnoses."""
    lost = collections.defaultdict(collections.Counter)
    diag = []
    with ledger.lock:
        async_ids = dict(ledger.async_ids)
        log_ids = dict(ledger.log_ids)
        s3 = dict(ledger.s3)
        ddb = dict(ledger.ddb)
    # Async events run at least once; wait for the queue to drain (retries back off 2 s, 4 s).
    deadline = mono() + 180
    while True:
        seen = {r["_msg"].split()[1] for r in box.query('"soakasync"') if r["_msg"].startswith("soakasync ")}
        missing = [i for i in async_ids if i not in seen]
        if not missing or mono() > deadline:
            break
        time.sleep(3)
    def contents(sub):
        d = os.path.join(box.state, "async", sub)
        out = b""
        for name in os.listdir(d) if os.path.isdir(d) else []:
            try:
                out += open(os.path.join(d, name), "rb").read()
            except OSError:
                pass
        return out

    failed, queued = contents("failed"), contents("queue")
    for n, i in enumerate(missing):
        phase = async_ids[i][1]
        if i.encode() in failed:
            lost[phase]["async_failed"] += 1
            diag.append(f"async {i} (accepted during {phase}): not run, dead-lettered in async/failed/")
        elif i.encode() in queued:
            lost[phase]["async_queued"] += 1
            diag.append(f"async {i} (accepted during {phase}): not run 3 min later, still in async/queue/")
        else:
            lost[phase]["async"] += 1
            where = grep_state(box.state, i) if n < 10 else "not searched"
            diag.append(f"async {i} (accepted during {phase}): lost; found in {where or 'no file'}")
    # Every line of every answered soak-lines call.
    deadline = mono() + 60
    while True:
        counts = collections.defaultdict(set)
        for r in box.query('"soakline"'):
            parts = r["_msg"].split()
            if len(parts) == 3 and parts[0] == "soakline":
                counts[parts[1]].add(parts[2])
        short = {i: LOG_K - len(counts.get(i, ())) for i in log_ids if len(counts.get(i, ())) < LOG_K}
        if not short or mono() > deadline:
            break
        time.sleep(3)
    for i, n in short.items():
        lost[log_ids[i][1]]["lines"] += n
    for i in list(short)[:5]:
        diag.append(f"log id {i} (answered during {log_ids[i][1]}): {short[i]} of {LOG_K} lines missing; "
                    f"found in {grep_state(box.state, i) or 'no file'}")
    # S3 and DynamoDB read back.
    key, secret = box.credentials()
    kw = dict(region_name=REGION, aws_access_key_id=key, aws_secret_access_key=secret, verify=box.ca(),
              config=Config(retries={"max_attempts": 3}, s3={"addressing_style": "path"}))
    s3c = boto3.client("s3", endpoint_url=f"https://127.0.0.1:{box.s3_port}", **kw)
    for k, (sha, phase, _) in s3.items():
        try:
            got = hashlib.sha256(s3c.get_object(Bucket="soak-data", Key=k)["Body"].read()).hexdigest()
            if got != sha:
                lost[phase]["s3_bad"] += 1
                diag.append(f"s3 {k} ({phase}): content differs")
        except s3c.exceptions.NoSuchKey:
            lost[phase]["s3"] += 1
            diag.append(f"s3 {k} (acknowledged during {phase}): missing")
        except Exception as e:  # answered, but not readable: as bad as corrupted
            lost[phase]["s3_bad"] += 1
            diag.append(f"s3 {k} (acknowledged during {phase}): cannot be read back: {short_error(e)[:120]}")
    ddbc = boto3.client("dynamodb", endpoint_url=f"https://127.0.0.1:{box.ddb_port}", **kw)
    items = {}
    for page in ddbc.get_paginator("scan").paginate(TableName="soak-items"):
        for it in page["Items"]:
            items[it["id"]["S"]] = it.get("v", {}).get("S")
    for k, (v, phase, _) in ddb.items():
        if k not in items:
            lost[phase]["ddb"] += 1
            diag.append(f"dynamodb {k} (acknowledged during {phase}): missing")
        elif items[k] != v:
            lost[phase]["ddb_bad"] += 1
            diag.append(f"dynamodb {k} ({phase}): value differs")
    # Flood lines: stored, or counted as dropped by the box.
    dropped = sum(int(r.get("esb.dropped_records", 0) or 0) for r in box.query('"could not be kept"'))
    for ph in phases:
        if "flood" in ph.extra:
            fid, _ = ph.extra["flood"]
            stored = len({r["_msg"].split()[2] for r in box.query(f'"soakflood {fid}"')
                          if r["_msg"].startswith("soakflood ")})
            ph.extra["flood_stored"] = stored
    expected = FLOOD_MB * 1024
    floods = [ph for ph in phases if "flood_stored" in ph.extra]
    if floods:
        missing_flood = sum(expected - ph.extra["flood_stored"] for ph in floods)
        unaccounted = max(0, missing_flood - dropped)
        for ph in floods:
            ph.notes.append(f"flood lines stored {ph.extra['flood_stored']}/{expected}")
        floods[0].notes.append(f"records counted dropped by the box in this run: {dropped}; flood lines "
                               f"neither stored nor counted: {unaccounted}")
        lost[floods[0].fault]["flood"] += unaccounted
    totals = {"async": len(async_ids), "log_ids": len(log_ids), "s3": len(s3), "ddb": len(ddb)}
    log(f"{runtime_label}: verified {totals}")
    return lost, diag, totals


# ---------------------------------------------------------------- runs

def process_state_on_tmpfs():
    mnt = os.path.join(WORK, "tmpfs")
    os.makedirs(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m", "esb-soak", mnt], check=True)
    note_cleanup("mount", mnt)
    return os.path.join(mnt, "state")


def prepare_state(state):
    os.makedirs(os.path.join(state, "runtimes"), exist_ok=True)
    link = os.path.join(state, "runtimes", "python")
    if not os.path.exists(link):
        os.symlink(VENV, link)


def run_box(label, box, faults, ledger, deadline, dockerd=None, rounds_max=3):
    """Starts the box, loads it, runs the faults in rounds until the deadline, verifies,
    stops; returns the phases, losses and end-of-run leaks."""
    log(f"{label}: starting ({box.mode}, {box.runtime}) in {box.state}")
    box.start(within=600)
    load = Load(box, ledger)
    ledger.phase = "warm-up"
    load.start()
    time.sleep(15)
    start_res = proc_rss_fds(main_pid(box))
    phases = []
    try:
        for rnd in range(rounds_max):
            for fault in faults:
                if rnd > 0 and mono() > deadline:
                    break
                phases.append(run_phase(fault, box, ledger, dockerd))
            if mono() > deadline:
                break
        ledger.phase = "end"
        time.sleep(5)
        end_res = proc_rss_fds(main_pid(box))
    finally:
        load.stop()
    lost, diag, totals = verify(box, ledger, phases, label)
    output = box.output_since(0)
    box.stop()
    time.sleep(2)
    leaks = strays(box.state, set())
    if dockerd:
        leaks += dockerd.box_containers(box.state)
    return {"label": label, "phases": phases, "lost": lost, "diag": diag, "totals": totals, "leaks_after_down": leaks,
            "start_res": start_res, "end_res": end_res, "output": output}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=15)
    ap.add_argument("--faults", default=",".join(ALL_FAULTS))
    ap.add_argument("--runtime", default="all", choices=["process", "docker", "all"])
    args = ap.parse_args(sys.argv[7:])
    faults = [f for f in args.faults.split(",") if f]
    for f in faults:
        if f not in ALL_FAULTS:
            raise SystemExit(f"unknown fault {f}; known: {', '.join(ALL_FAULTS)}")
    t_start = mono()
    budget = args.minutes * 60
    plan = []
    if args.runtime in ("process", "all"):
        if [f for f in faults if f in PROCESS_FAULTS]:
            plan.append(("process", [f for f in faults if f in PROCESS_FAULTS], 0.6))
        if [f for f in faults if f in SPLIT_FAULTS]:
            plan.append(("split", [f for f in faults if f in SPLIT_FAULTS], 0.15))
    if args.runtime in ("docker", "all") and [f for f in faults if f in DOCKER_FAULTS]:
        plan.append(("docker", [f for f in faults if f in DOCKER_FAULTS], 0.25))
    share = sum(p[2] for p in plan) or 1
    runs = []
    dockerd = None
    load_before = os.getloadavg()[0]
    try:
        for label, fs, part in plan:
            deadline = mono() + budget * part / share
            if label == "process":
                state = process_state_on_tmpfs()
                prepare_state(state)
                box = Box("up", "process", state)
            elif label == "split":
                state = os.path.join(WORK, "split-state")
                prepare_state(state)
                box = Box("split", "process", state)
            else:
                dockerd = Dockerd()
                dockerd.start()
                dockerd.seed_base()
                state = os.path.join(WORK, "docker-state")
                os.makedirs(state)
                box = Box("up", "docker", state, dockerd)
            ledger = Ledger()  # each box has its own store, bucket and table
            runs.append(run_box(label, box, fs, ledger, deadline, dockerd))
            runs[-1]["errors"] = {p: dict(c.most_common(20)) for p, c in ledger.errors.items()}
            report(runs, load_before, mono() - t_start)  # what is known so far, in case a later run fails
            if dockerd:
                dockerd.stop()
    finally:
        if dockerd:
            dockerd.stop()
    report(runs, load_before, mono() - t_start)


def async_cell(lost):
    """Lost, plus those still queued or dead-lettered when the run ended (not lost, not run)."""
    extra = [f"{lost[k]} {w}" for k, w in (("async_queued", "still queued"), ("async_failed", "dead-lettered"))
             if lost[k]]
    return f"{lost['async']}" + (f" ({', '.join(extra)})" if extra else "")


def mb(x):
    return "–" if x is None else f"{x:.0f}"


def report(runs, load_before, seconds):
    lines = [
        "## Soak: faults under load",
        "",
        machine() + f" Load average (1 min) {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
        f"(the machine is shared); {seconds / 60:.1f} minutes in all.",
        f"`scripts/soak.sh` (docs/soak.md): {LOADERS} loopback clients send a steady mix of synchronous invokes, "
        f"asynchronous (`Event`) invokes, a function printing {LOG_K} tagged lines, a chained call (boto3 inside "
        "the function), a REST API route, S3 PutObject and DynamoDB PutItem, while one fault at a time is "
        f"injected, after {BASELINE_S} s of steady load. Recovered = {SETTLE_S} s without a failed request; "
        "recovery time is from the fault's end (the kill, or the release of a stop, a full disk or a clock "
        "jump) to the end of the last failed request. At the end of each box's run every accepted async id is "
        "looked up in the log store, every answered log call's lines too, and every acknowledged S3 object and "
        "DynamoDB item is read back. Leaks: processes naming the state dir that no box process owns, and "
        "stopped containers of the box. Memory (VmRSS) and open fds are the `esb up` (split: `esb gateway`) "
        "process's, before the first injection and after the last recovery of that fault; recovery is the worst "
        "of its injections.",
        f"Command: `{COMMAND}`",
        "",
        "| run | fault ×times | failed during it | recovery s | async lost | log lines lost | writes lost/corrupted "
        "| leaks | RSS MB before→after | fds before→after |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        by_fault = collections.OrderedDict()
        for ph in run["phases"]:
            by_fault.setdefault(ph.fault, []).append(ph)
        for fault, phs in by_fault.items():
            lost = run["lost"].get(fault, collections.Counter())
            failed = collections.Counter()
            for ph in phs:
                failed.update(ph.failed)
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(failed.items()))
            worst = max(ph.recovery for ph in phs)
            rec = f"{worst:.1f}" if all(ph.recovered for ph in phs) else f">{worst:.0f} (not recovered)"
            leaks = max(len(ph.leaked) for ph in phs)
            lines.append(
                f"| {run['label']} | {fault} ×{len(phs)} | {sum(failed.values())}{f' ({kinds})' if kinds else ''} "
                f"| {rec} | {async_cell(lost)} | {lost['lines'] + lost['flood']} "
                f"| {lost['s3'] + lost['ddb']}/{lost['s3_bad'] + lost['ddb_bad']} | {leaks} "
                f"| {mb(phs[0].before[0])}→{mb(phs[-1].after[0])} | {phs[0].before[1]}→{phs[-1].after[1]} |")
    lines.append("")
    for run in runs:
        t = run["totals"]
        other = {k: v for k, v in run["lost"].items() if k not in {p.fault for p in run["phases"]}}
        lines.append(
            f"{run['label']}: {t['async']} async events accepted, {t['log_ids']} log calls answered "
            f"({t['log_ids'] * LOG_K} lines), {t['s3']} S3 objects and {t['ddb']} DynamoDB items acknowledged; "
            f"box RSS {mb(run['start_res'][0])}→{mb(run['end_res'][0])} MB and fds "
            f"{run['start_res'][1]}→{run['end_res'][1]} from the warm-up to the end; "
            f"after `esb down`: {len(run['leaks_after_down'])} processes or containers left"
            + (f"; losses outside the fault phases: {dict(other)}" if other else "") + ".")
        for ph in run["phases"]:
            for n in ph.notes:
                lines.append(f"- {ph.fault}: {n}")
            if "disk_served" in ph.extra:
                s = ph.extra["disk_served"]
                served = ", ".join(f"{k} {s[(k, True)]} ok/{s[(k, False)]} failed" for k in KINDS)
                lines.append(f"- {ph.fault}: while full: {served}")
                said = ph.extra["disk_said"]
                lines.append(f"- {ph.fault}: the box printed {sum(said.values())} lines about it"
                             + (":" if said else "."))
                for text, n in said.most_common(6):
                    lines.append(f"  - {n}× `{text}`")
        for d in run["diag"][:12]:
            lines.append(f"- loss: {d}")
        lines.append("")
    section = "\n".join(lines)
    print(section)
    with open(os.path.join(WORK, "report.json"), "w") as f:
        json.dump({"runs": [{"label": r["label"], "diag": r["diag"], "lost": {k: dict(v) for k, v in r["lost"].items()},
                             "leaks_after_down": r["leaks_after_down"]} for r in runs],
                   "errors": {r["label"]: r["errors"] for r in runs}}, f, indent=1, default=str)
    write_section(OUT, "## Soak: faults under load", section)


main()
