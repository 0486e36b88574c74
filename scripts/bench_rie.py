"""Sequential warm-invoke latency and throughput: AWS's RIE vs esb rie, same handler,
same machine, same run. Rounds alternate between the two so machine noise hits both.

Usage: bench_rie.py <aws-rie> <esb> <python> <functions-dir> <n> <benchmarks.md> <command>
"""
import datetime
import http.client
import os
import platform
import socket
import statistics
import subprocess
import sys
import time

AWS_RIE, ESB, PYTHON, FUNCTIONS, N, OUT, COMMAND = sys.argv[1:8]
N = int(N)
ROUNDS = 10
WARMUP = 50
PATH = "/2015-03-31/functions/function/invocations"
PAYLOAD = b'{"bench": true, "items": [1, 2, 3], "text": "hello"}'


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(name):
    port, api = free_port(), free_port()
    runtime = [PYTHON, "-m", "awslambdaric", "handlers.echo"]
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


def invoke(conn):
    conn.request("POST", PATH, body=PAYLOAD, headers={"Content-Type": "application/json"})
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


def pct(sorted_samples, p):
    return sorted_samples[min(len(sorted_samples) - 1, int(len(sorted_samples) * p / 100))] / 1e6


def main():
    targets = {name: start(name) for name in ("aws", "esb")}
    try:
        for _, conn in targets.values():
            for _ in range(WARMUP):
                invoke(conn)
        samples = {"aws": [], "esb": []}
        busy = {"aws": 0, "esb": 0}
        for r in range(ROUNDS):
            order = ("aws", "esb") if r % 2 == 0 else ("esb", "aws")
            for name in order:
                t0 = time.perf_counter_ns()
                samples[name] += measure(targets[name][1], N // ROUNDS)
                busy[name] += time.perf_counter_ns() - t0
    finally:
        for proc, _ in targets.values():
            proc.terminate()
            proc.wait(timeout=10)

    rows = {}
    for name, s in samples.items():
        s.sort()
        rows[name] = {
            "p50": pct(s, 50), "p90": pct(s, 90), "p99": pct(s, 99),
            "mean": statistics.fmean(s) / 1e6, "tput": len(s) / (busy[name] / 1e9),
        }
    a, e = rows["aws"], rows["esb"]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    table = [
        "## RIE warm invoke latency",
        "",
        f"Measured {datetime.date.today()} on {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}.",
        f"{N} sequential invokes per emulator over one keep-alive connection, in {ROUNDS} alternating rounds,",
        f"after {WARMUP} warm-up invokes; handler `handlers.echo` under awslambdaric, {len(PAYLOAD)}-byte JSON event.",
        f"Command: `{COMMAND}`",
        "",
        "| emulator | p50 ms | p90 ms | p99 ms | mean ms | throughput invokes/s |",
        "|---|---:|---:|---:|---:|---:|",
        f"| AWS RIE (aws-sam-cli 1.170.0) | {a['p50']:.3f} | {a['p90']:.3f} | {a['p99']:.3f} | {a['mean']:.3f} | {a['tput']:.0f} |",
        f"| esb rie | {e['p50']:.3f} | {e['p90']:.3f} | {e['p99']:.3f} | {e['mean']:.3f} | {e['tput']:.0f} |",
        f"| esb / AWS | {e['p50'] / a['p50']:.2f} | {e['p90'] / a['p90']:.2f} | {e['p99'] / a['p99']:.2f} | {e['mean'] / a['mean']:.2f} | {e['tput'] / a['tput']:.2f} |",
        "",
    ]
    section = "\n".join(table)
    print(section)
    text = open(OUT).read() if os.path.exists(OUT) else "# Benchmarks\n\nFigures written by the scripts under scripts/bench-*.sh; each compares ESB with a peer measured in the same run.\n"
    start_i = text.find("## RIE warm invoke latency")
    if start_i >= 0:
        end_i = text.find("\n## ", start_i + 1)
        text = text[:start_i] + section + (text[end_i + 1:] if end_i >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(OUT, "w") as f:
        f.write(text.rstrip("\n") + "\n")


main()
