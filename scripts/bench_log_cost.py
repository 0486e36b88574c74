"""The cost of central logging on warm invokes, through the whole `esb up` path with
process workers: a silent function (`handlers.echo`) and a chatty one (`chatty.handler`,
27 lines per invoke: prints, a JSON line, a multi-line print, stderr, logging), with the
log pipeline on (records shipped to the box's store) and off (`--logs-listen off`: lines
only reach the worker's stdout file). Also: how long after an invoke's answer its REPORT
line can be found in the store.

Usage: bench_log_cost.py <esb> <venv> <python-functions> <benchmarks.md> <n> <command>
"""
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from bench_common import free_port, https_conn as connect, machine, pct, start_esb_up, timed_invoke, write_section

ESB, VENV, FUNCTIONS, OUT, N, COMMAND = sys.argv[1:7]
N = int(N)
HEADING = "## Logging cost on warm invokes"
CHATTY = json.dumps({"tag": "bench", "n": 20}).encode()


def make_project(root):
    shutil.copytree(FUNCTIONS, os.path.join(root, "py"))
    with open(os.path.join(root, "template.yaml"), "w") as f:
        f.write("\n".join([
            "Globals:", "  Function:", "    Runtime: python3.11", "    CodeUri: py", "    Timeout: 10",
            "Resources:",
            "  Silent:", "    Type: AWS::Serverless::Function",
            "    Properties: {FunctionName: silent, Handler: handlers.echo}",
            "  Chatty:", "    Type: AWS::Serverless::Function",
            "    Properties: {FunctionName: chatty, Handler: chatty.handler}",
        ]) + "\n")


def start_box(root, name, logs):
    state = os.path.join(root, f"state-{name}")
    os.makedirs(os.path.join(state, "runtimes"))
    os.symlink(VENV, os.path.join(state, "runtimes", "python"))
    port, logs_port = free_port(), free_port()
    listen = f"127.0.0.1:{logs_port}" if logs else "off"
    proc, ca = start_esb_up(
        [ESB, "up", "--open-invoke-api", "--template", os.path.join(root, "template.yaml"), "--state-dir", state,
         "--port", str(port), "--runtime", "process", "--logs-listen", listen, "--pause-idle-after", "0"],
        state, port, 300)
    return proc, (port, ca), f"http://{listen}"


def warm(box, function, body):
    conn = connect(*box)
    for _ in range(20):
        timed_invoke(conn, function, body)
    return sorted(timed_invoke(conn, function, body)[0] for _ in range(N))


def found(logs, request_id):
    q = urllib.parse.urlencode({"query": f'aws_request_id:"{request_id}" REPORT'})
    with urllib.request.urlopen(f"{logs}/select/logsql/query?{q}") as r:
        return bool(r.read().strip())


def visibility(box, logs, samples=30):
    """Time from an invoke's answer until its REPORT line is queryable."""
    conn = connect(*box)
    out = []
    for _ in range(samples):
        _, rid = timed_invoke(conn, "chatty", CHATTY)
        t0 = time.perf_counter_ns()
        while not found(logs, rid):
            time.sleep(0.002)
        out.append(time.perf_counter_ns() - t0)
        time.sleep(0.05)
    return sorted(out)


def main():
    root = tempfile.mkdtemp(prefix="esb-bench-logs-")
    results = {}
    try:
        make_project(root)
        for name, logs in (("on", True), ("off", False)):
            proc, box, logs_url = start_box(root, name, logs)
            try:
                results[name] = {"silent": warm(box, "silent", b"{}"), "chatty": warm(box, "chatty", CHATTY)}
                if logs:
                    t0 = time.perf_counter()
                    conn = connect(*box)
                    burst = 200
                    for _ in range(burst):
                        timed_invoke(conn, "chatty", CHATTY)
                    elapsed = time.perf_counter() - t0
                    results["rate"] = burst * 30 / elapsed
                    results["visible"] = visibility(box, logs_url)
            finally:
                proc.terminate()
                proc.wait(timeout=120)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rows = []
    for name, label in (("on", "pipeline on (shipped to the store)"), ("off", "pipeline off (`--logs-listen off`)")):
        for fn in ("silent", "chatty"):
            s = results[name][fn]
            rows.append(f"| {label} | {fn} | {pct(s, 50):.3f} | {pct(s, 90):.3f} | {pct(s, 99):.3f} |")
    v = results["visible"]
    section = "\n".join([
        HEADING, "",
        machine(),
        f"Warm invokes ({N} back to back per row, after 20 to warm up) through the whole `esb up` path with "
        "process workers: `silent` returns its event and writes nothing; `chatty` writes 27 lines per invoke "
        "(20 prints, a JSON line, a 3-line print, a stderr line, two `logging` lines) plus START/END/REPORT. "
        "With the pipeline on, every line becomes a record shipped in batches to the box's store.",
        f"Command: `{COMMAND}`", "",
        "| logs | function | p50 ms | p90 ms | p99 ms |", "|---|---|---:|---:|---:|",
        *rows, "",
        f"A chatty burst of 200 sequential invokes produced {results['rate']:.0f} records/s into the store. "
        f"From an invoke's answer to its REPORT line being queryable: p50 {pct(v, 50):.0f} ms, "
        f"p90 {pct(v, 90):.0f} ms ({len(v)} samples; the shipper flushes every 200 ms or 1000 records).", ""])
    print(section)
    write_section(OUT, HEADING, section)


main()
