"""The CloudWatch Logs benchmark (scripts/bench-cloudwatch-logs.sh): ESB's Logs API and
moto's, driven by one boto3 client each, in one run."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import boto3
import botocore
from botocore.config import Config

from bench_common import free_port, machine, pct, proc_status, start_esb_up, stop, write_section

N = int(os.environ.get("BENCH_N", "200"))
STREAM_EVENTS = 20_000
GROUP = "/bench/app"


def log(msg):
    print(f"bench-cloudwatch-logs: {msg}", file=sys.stderr, flush=True)


def client(endpoint, creds, ca):
    return boto3.client("logs", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=creds[0], aws_secret_access_key=creds[1],
                        verify=ca if ca else False,
                        config=Config(retries={"max_attempts": 1}, max_pool_connections=4))


def event(i, t):
    level = "ERROR" if i % 100 == 0 else "INFO"
    return {"timestamp": t, "message": json.dumps({"level": level, "n": i, "msg": f"order {i} checked out",
                                                   "path": "/api/checkout", "latency": i % 1000})}


def timed(samples, call, *args, **kw):
    t = time.perf_counter_ns()
    r = call(*args, **kw)
    samples.append(time.perf_counter_ns() - t)
    return r


def row(samples):
    s = sorted(samples)
    return {"n": len(s), "p50": pct(s, 50), "p99": pct(s, 99)}


def measure(logs):
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="bulk")
    logs.create_log_stream(logGroupName=GROUP, logStreamName="puts")
    now = int(time.time() * 1000)
    for start in range(0, STREAM_EVENTS, 1000):
        logs.put_log_events(logGroupName=GROUP, logStreamName="bulk",
                            logEvents=[event(i, now - 60_000 + i // 1000) for i in range(start, start + 1000)])
    rows = {}
    samples = []
    for k in range(N):
        t = int(time.time() * 1000)
        timed(samples, logs.put_log_events, logGroupName=GROUP, logStreamName="puts",
              logEvents=[event(k * 100 + j, t) for j in range(100)])
    rows["PutLogEvents (100 events)"] = row(samples)
    samples = []
    for _ in range(N):
        r = timed(samples, logs.get_log_events, logGroupName=GROUP, logStreamName="bulk", limit=100,
                  startFromHead=True)
        assert len(r["events"]) == 100, len(r["events"])
    rows["GetLogEvents (100 from the head)"] = row(samples)
    for name, pattern in (("term", '"order 4200 "'), ("JSON", '{ $.level = "ERROR" }')):
        samples = []
        for _ in range(max(10, N // 4)):
            r = timed(samples, logs.filter_log_events, logGroupName=GROUP, logStreamNames=["bulk"],
                      filterPattern=pattern, limit=100)
            assert r["events"], f"{name}: nothing matched"
        rows[f"FilterLogEvents ({name} pattern, {STREAM_EVENTS} events)"] = row(samples)
    return rows




def wait_logs(logs, proc, within=60):
    deadline = time.time() + within
    while True:
        if proc.poll() is not None:
            raise SystemExit("the server exited early")
        try:
            logs.describe_log_groups()
            return
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError):
            if time.time() > deadline:
                raise SystemExit("nothing answers")
            time.sleep(0.1)


def esb_box(esb, venv, root):
    state = os.path.join(root, "esb")
    os.makedirs(os.path.join(state, "runtimes"))
    os.symlink(venv, os.path.join(state, "runtimes", "python"))
    code = os.path.join(root, "functions")
    os.makedirs(code)
    with open(os.path.join(code, "idle.py"), "w") as f:
        f.write("def handler(event, context):\n    return {}\n")
    template = os.path.join(root, "template.yaml")
    with open(template, "w") as f:
        f.write("Transform: AWS::Serverless-2016-10-31\nResources:\n  Idle:\n    Type: AWS::Serverless::Function\n"
                f"    Properties: {{FunctionName: idle, Runtime: python3.11, CodeUri: {code}, Handler: idle.handler}}\n")
    port, logs_port = free_port(), free_port()
    cmd = [esb, "up", "--template", template, "--state-dir", state, "--port", str(port), "--runtime", "process",
           "--cloudwatch-logs-port", str(logs_port), "--logs-listen", "127.0.0.1:0"]
    proc, ca = start_esb_up(cmd, state, port, 120)
    creds = dict(line.split(" = ", 1) for line in open(os.path.join(state, "credentials")).read().splitlines()
                 if " = " in line)
    return proc, f"https://127.0.0.1:{logs_port}", (creds["aws_access_key_id"], creds["aws_secret_access_key"]), ca


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--esb", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--moto", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--command", required=True)
    args = ap.parse_args()
    root = tempfile.mkdtemp(prefix="esb-bench-cwl-")
    results, mem = {}, {}
    try:
        proc, endpoint, creds, ca = esb_box(args.esb, args.venv, root)
        try:
            logs = client(endpoint, creds, ca)
            wait_logs(logs, proc)
            time.sleep(2)
            idle = proc_status(proc.pid)
            log(f"ESB idle RSS {idle['VmRSS']:.1f} MB; measuring")
            results["esb"] = measure(logs)
            mem["esb"] = (idle, proc_status(proc.pid))
        finally:
            stop(proc)
        port = free_port()
        proc = subprocess.Popen([args.moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            logs = client(f"http://127.0.0.1:{port}", ("bench", "bench"), None)
            wait_logs(logs, proc)
            time.sleep(1)
            idle = proc_status(proc.pid)
            log("moto: measuring")
            results["moto"] = measure(logs)
            mem["moto"] = (idle, proc_status(proc.pid))
        finally:
            stop(proc)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    esb_version = subprocess.run([args.esb, "--version"], capture_output=True, text=True).stdout.strip()
    moto_version = subprocess.run([os.path.join(os.path.dirname(args.moto), "python"), "-c",
                                   "import moto; print(moto.__version__)"], capture_output=True, text=True).stdout.strip()
    names = {"esb": f"ESB ({esb_version}, HTTPS)", "moto": f"moto {moto_version} (HTTP)"}
    lines = ["## CloudWatch Logs", "",
             f"`{args.command}`. {machine()} One boto3 `logs` client, one request at a time, {N} requests per row "
             "(FilterLogEvents a quarter of that); latency in ms, client included. ESB's events are records of the "
             "box's log store (committed before PutLogEvents answers); moto keeps them in memory.", "",
             "| operation | " + " | ".join(f"{names[k]} p50 / p99" for k in results) + " |",
             "|---|" + "---|" * len(results)]
    for op in results["esb"]:
        cells = [f"{results[k][op]['p50']:.2f} / {results[k][op]['p99']:.2f}" for k in results]
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    lines += ["", "Memory of each server process (VmRSS idle, after the run; VmHWM, the peak) in MB:", "",
              "| server | idle | after | peak |", "|---|---|---|---|"]
    for k, (idle, after) in mem.items():
        what = names[k] + (": the whole box (gateway, agent, log store, S3, DynamoDB, CloudWatch Logs)"
                           if k == "esb" else "")
        lines.append(f"| {what} | {idle['VmRSS']:.1f} | {after['VmRSS']:.1f} | {after['VmHWM']:.1f} |")
    write_section(args.out, "## CloudWatch Logs", "\n".join(lines) + "\n")
    log("\n".join(lines))


if __name__ == "__main__":
    main()
