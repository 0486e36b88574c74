"""Sequential warm-invoke latency and throughput, same handler, same machine, same run:
bare AWS RIE, bare `esb rie`, and the whole ESB path (`esb up`: client -> HTTPS gateway
Invoke API -> worker). Rounds rotate between targets so machine noise hits all alike.

Usage: bench_rie.py <aws-rie> <esb> <python> <functions-dir> <n> <benchmarks.md> <command>
"""
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from bench_common import free_port, https_conn, machine, pct, start_esb_up, write_section

AWS_RIE, ESB, PYTHON, FUNCTIONS, N, OUT, COMMAND = sys.argv[1:8]
N = int(N)
ROUNDS = 10
WARMUP = 50
PATH = "/2015-03-31/functions/function/invocations"
PAYLOAD = b'{"bench": true, "items": [1, 2, 3], "text": "hello"}'


STATE = tempfile.mkdtemp(prefix="esb-bench-")


def start(name):
    port, api = free_port(), free_port()
    runtime = [PYTHON, "-m", "awslambdaric", "handlers.echo"]
    if name == "esb-up":
        return start_box(port)
    if name == "aws":
        cmd = [AWS_RIE, "--runtime-interface-emulator-address", f"127.0.0.1:{port}",
               "--runtime-api-address", f"127.0.0.1:{api}", *runtime]
    else:
        cmd = [ESB, "rie", "--listen", f"127.0.0.1:{port}", "--runtime-api", f"127.0.0.1:{api}", "--", *runtime]
    proc = subprocess.Popen(cmd, cwd=FUNCTIONS, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.time() > deadline:
                raise SystemExit(f"{name} did not start")
            time.sleep(0.02)
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return proc, conn


def start_box(port):
    """`esb up` on the e2e test project; its Python runtime is the test venv."""
    os.makedirs(os.path.join(STATE, "runtimes"))
    os.symlink(os.path.dirname(os.path.dirname(PYTHON)), os.path.join(STATE, "runtimes", "python"))
    template = os.path.join(os.path.dirname(FUNCTIONS), "..", "projects", "e2e", "template.yaml")
    # Unsigned clients: this measures workers; bench-gateway.sh measures Signature V4.
    proc, ca = start_esb_up([ESB, "up", "--open-invoke-api", "--template", template, "--state-dir", STATE, "--port", str(port),
                             "--runtime", "process"], STATE, port, 30)
    conn = https_conn(port, ca)
    conn.esb_path = "/2015-03-31/functions/echo/invocations"
    return proc, conn


def invoke(conn):
    conn.request("POST", getattr(conn, "esb_path", PATH), body=PAYLOAD, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    body = resp.read()
    if resp.status != 200 or b"bench" not in body:
        raise SystemExit(f"bad answer {resp.status}: {body[:200]!r}")


def measure(conn, count):
    samples = []
    for _ in range(count):
        t0 = time.perf_counter_ns()
        invoke(conn)
        samples.append(time.perf_counter_ns() - t0)
    return samples


def main():
    names = ("aws", "esb", "esb-up")
    targets = {name: start(name) for name in names}
    try:
        for _, conn in targets.values():
            for _ in range(WARMUP):
                invoke(conn)
        samples = {n: [] for n in names}
        busy = {n: 0 for n in names}
        for r in range(ROUNDS):
            order = names[r % 3:] + names[:r % 3]
            for name in order:
                t0 = time.perf_counter_ns()
                samples[name] += measure(targets[name][1], N // ROUNDS)
                busy[name] += time.perf_counter_ns() - t0
    finally:
        for proc, _ in targets.values():
            proc.terminate()
            proc.wait(timeout=20)
        shutil.rmtree(STATE, ignore_errors=True)

    rows = {}
    for name, s in samples.items():
        s.sort()
        rows[name] = {
            "p50": pct(s, 50), "p90": pct(s, 90), "p99": pct(s, 99),
            "mean": statistics.fmean(s) / 1e6, "tput": len(s) / (busy[name] / 1e9),
        }
    a, e, u = rows["aws"], rows["esb"], rows["esb-up"]
    table = [
        "## RIE warm invoke latency",
        "",
        machine(),
        f"{N} sequential invokes per target over one keep-alive connection, in {ROUNDS} rotating rounds,",
        f"after {WARMUP} warm-up invokes; handler `handlers.echo` under awslambdaric, {len(PAYLOAD)}-byte JSON event.",
        "`esb up` is the whole path: client -> HTTPS (TLS 1.3) gateway Invoke API -> pool -> worker's `esb rie`.",
        f"Command: `{COMMAND}`",
        "",
        "| emulator | p50 ms | p90 ms | p99 ms | mean ms | throughput invokes/s |",
        "|---|---:|---:|---:|---:|---:|",
        f"| AWS RIE (aws-sam-cli 1.170.0) | {a['p50']:.3f} | {a['p90']:.3f} | {a['p99']:.3f} | {a['mean']:.3f} | {a['tput']:.0f} |",
        f"| esb rie | {e['p50']:.3f} | {e['p90']:.3f} | {e['p99']:.3f} | {e['mean']:.3f} | {e['tput']:.0f} |",
        f"| esb rie / AWS RIE | {e['p50'] / a['p50']:.2f} | {e['p90'] / a['p90']:.2f} | {e['p99'] / a['p99']:.2f} | {e['mean'] / a['mean']:.2f} | {e['tput'] / a['tput']:.2f} |",
        f"| esb up (gateway over HTTPS -> worker) | {u['p50']:.3f} | {u['p90']:.3f} | {u['p99']:.3f} | {u['mean']:.3f} | {u['tput']:.0f} |",
        "",
        f"Whole ESB path over bare AWS RIE: p50 {u['p50'] - a['p50']:+.3f} ms, p99 {u['p99'] - a['p99']:+.3f} ms "
        f"(over bare esb rie: p50 {u['p50'] - e['p50']:+.3f} ms).",
        "",
    ]
    section = "\n".join(table)
    print(section)
    write_section(OUT, "## RIE warm invoke latency", section)


main()
