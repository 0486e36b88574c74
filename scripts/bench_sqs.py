"""The box's SQS service against moto's server, side by side in one run: SendMessage,
ReceiveMessage, DeleteMessage and a send+receive+delete round trip (messages of about
200 bytes with one message attribute), p50/p99 latency and throughput with 1 and 8
concurrent clients; each server's memory (idle, after the runs, peak); and, for ESB
alone, how long a message takes to reach a Lambda function through an SQS event source
mapping.

Usage: bench_sqs.py --esb ESB --venv RUNTIME_VENV --moto MOTO_SERVER
                    --out docs/benchmarks.md --command CMD [--targets esb,moto]
Environment: BENCH_N (2000 requests per row with one client, 250 per client with 8),
BENCH_ROW_SECONDS (10: a row stops early past this), BENCH_LAMBDA_N (50),
BENCH_QUEUE_DEPTH (200: the most messages a queue holds).
"""
import argparse
import collections
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import boto3
import botocore
from botocore.config import Config

from bench_common import (box_credentials, box_url, free_port, machine, pct, proc_status, start_esb_up,
                          stop, version_of, write_section)

N = int(os.environ.get("BENCH_N", "2000"))
ROW_SECONDS = float(os.environ.get("BENCH_ROW_SECONDS", "10"))
LAMBDA_N = int(os.environ.get("BENCH_LAMBDA_N", "50"))
# moto's SendMessage, ReceiveMessage and DeleteMessage walk the queue's list of messages
# (in flight ones included), so its figures depend on how many a queue holds: every
# queue of the benchmark holds at most this many (a row moves on to a fresh queue).
DEPTH = int(os.environ.get("BENCH_QUEUE_DEPTH", "200"))
CONCURRENCY = (1, 8)
OPS = ("send", "receive", "delete", "roundtrip")
OP_NAMES = {"send": "SendMessage", "receive": "ReceiveMessage", "delete": "DeleteMessage",
            "roundtrip": "send+receive+delete"}
WARMUP = 50
SEND_QUEUE = "bench-send"  # SendMessage's, never read
RECV_QUEUE = "bench-recv"  # prefilled for ReceiveMessage, emptied by DeleteMessage
TRIP_QUEUE = "bench-trip"  # the round trip's, close to empty all along
LAMBDA_QUEUE = "bench-lambda"
REGION = "us-east-1"
ATTRIBUTES = {"kind": {"DataType": "String", "StringValue": "bench"}}
BODY_SIZE = 200
EMPTY_RECEIVES_MAX = 1000
# The ESB box runs with these services off when its `esb up` has them, so that its
# memory figures are the gateway's and SQS's.
OTHER_SERVICES = ("--s3-port", "--dynamodb-port", "--cloudwatch-logs-port")


def log(msg):
    print(f"bench-sqs: {msg}", file=sys.stderr, flush=True)


def client(endpoint, creds, ca):
    """A low-level client: one kept-alive connection when used by one thread (when the
    server keeps it open), no retries (an error ends the benchmark instead of hiding in
    the latency)."""
    return boto3.client("sqs", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=creds[0],
                        aws_secret_access_key=creds[1], verify=ca if ca else False,
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"},
                                      max_pool_connections=1, tcp_keepalive=True))


def body(key):
    """A message body of BODY_SIZE bytes whose first word is `key`."""
    head = f"{key} "
    return head + "x" * (BODY_SIZE - len(head))


def message_size():
    """SQS's size of a message: the body plus each attribute's name, type and value."""
    return BODY_SIZE + sum(len(n) + len(a["DataType"]) + len(a["StringValue"]) for n, a in ATTRIBUTES.items())


# --- the client processes ---------------------------------------------------------
# Python threads share one interpreter lock, and botocore spends about as much CPU per
# request as a fast server: 8 threads would measure the lock. Each concurrent client is
# therefore a process of its own with one client (one connection), driven over a pipe.

def worker(conn, wid, endpoint, creds, ca, urls):
    sqs = client(endpoint, creds, ca)
    seq = 0
    # Each client takes `quota` messages from (or gives them to) each queue of a row's
    # list, in turn: with every client doing so, no queue holds more than DEPTH.
    quota = urls["quota"]
    sent = received = 0
    handles = collections.deque()  # (queue, receipt handle) received, for DeleteMessage

    def receive_one(url):
        """ReceiveMessage until it returns a message: (the message, the last call's
        nanoseconds, the empty answers before it)."""
        empty = 0
        while True:
            t0 = time.perf_counter_ns()
            r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0,
                                    MessageAttributeNames=["All"])
            elapsed = time.perf_counter_ns() - t0
            messages = r.get("Messages") or []
            if messages:
                if messages[0].get("MessageAttributes") != ATTRIBUTES:
                    raise SystemExit(f"a received message's attributes: {messages[0].get('MessageAttributes')}")
                return messages[0], elapsed, empty
            empty += 1
            if empty > EMPTY_RECEIVES_MAX:
                raise SystemExit(f"ReceiveMessage on {url}: {empty} empty answers in a row")

    while True:
        msg = conn.recv()
        if msg is None:
            return
        op, count, deadline, record = msg
        if op == "delete":
            count = min(count, len(handles))
        samples, empties = [], 0
        start, cpu = time.monotonic_ns(), time.process_time_ns()
        for _ in range(count):
            if op == "send":
                seq += 1
                t0 = time.perf_counter_ns()
                sqs.send_message(QueueUrl=urls["send"][sent // quota], MessageBody=body(f"s-{wid}-{seq}"),
                                 MessageAttributes=ATTRIBUTES)
                samples.append(time.perf_counter_ns() - t0)
                sent += 1
            elif op == "receive":
                # An empty answer (the queue is prefilled, so none is expected) is not a
                # sample: only the call that returns a message is, and the empties are counted.
                url = urls["receive"][received // quota]
                message, elapsed, empty = receive_one(url)
                samples.append(elapsed)
                empties += empty
                handles.append((url, message["ReceiptHandle"]))
                received += 1
            elif op == "delete":
                url, handle = handles.popleft()
                t0 = time.perf_counter_ns()
                sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
                samples.append(time.perf_counter_ns() - t0)
            else:
                # The round trip: this client's message, then whichever message the queue
                # gives (with 8 clients, often another's), then its deletion.
                seq += 1
                t0 = time.perf_counter_ns()
                sqs.send_message(QueueUrl=urls["trip"], MessageBody=body(f"t-{wid}-{seq}"),
                                 MessageAttributes=ATTRIBUTES)
                message, _, empty = receive_one(urls["trip"])
                sqs.delete_message(QueueUrl=urls["trip"], ReceiptHandle=message["ReceiptHandle"])
                samples.append(time.perf_counter_ns() - t0)
                empties += empty
            if time.monotonic() > deadline and len(samples) >= 100:
                break
        conn.send((samples if record else [], start, time.monotonic_ns(), time.process_time_ns() - cpu, count,
                   empties))


class Clients:
    def __init__(self, count, endpoint, creds, ca, urls):
        ctx = multiprocessing.get_context("fork")
        self.pipes, self.procs = [], []
        for wid in range(count):
            mine, theirs = ctx.Pipe()
            p = ctx.Process(target=worker, args=(theirs, wid, endpoint, creds, ca, urls), daemon=True)
            p.start()
            self.pipes.append(mine)
            self.procs.append(p)

    def run(self, op, count, record=True):
        """Runs `op` `count` times in every client: (sorted samples, wall seconds, client CPU
        ms per request, requests asked for, empty receives)."""
        deadline = time.monotonic() + ROW_SECONDS
        for pipe in self.pipes:
            pipe.send((op, count, deadline, record))
        results = []
        for pipe, proc in zip(self.pipes, self.procs):
            if not pipe.poll(ROW_SECONDS + 120):
                raise SystemExit(f"{op}: a client did not answer")
            try:
                results.append(pipe.recv())
            except EOFError:
                raise SystemExit(f"{op}: a client failed (exit code {proc.join(1) or proc.exitcode})")
        samples = sorted(s for r in results for s in r[0])
        wall = (max(r[2] for r in results) - min(r[1] for r in results)) / 1e9
        cpu_ms = sum(r[3] for r in results) / 1e6 / max(1, len(samples))
        return samples, wall, cpu_ms, sum(r[4] for r in results), sum(r[5] for r in results)

    def close(self):
        for pipe in self.pipes:
            pipe.send(None)
        for proc in self.procs:
            proc.join(10)


def per_client(c):
    return N if c == 1 else max(100, N // c)


def queues(sqs, name, count, attributes=None):
    """`count` new queues, named `name`-0 and on: their URLs."""
    return [sqs.create_queue(QueueName=f"{name}-{k}", Attributes=attributes or {})["QueueUrl"]
            for k in range(count)]


def prefill(sqs, url, count):
    """`count` messages into `url`, ten per SendMessageBatch."""
    for i in range(0, count, 10):
        entries = [{"Id": str(j), "MessageBody": body(f"r-{i + j}"), "MessageAttributes": ATTRIBUTES}
                   for j in range(min(10, count - i))]
        failed = sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")
        if failed:
            raise SystemExit(f"prefilling {url}: {failed[:3]}")


def depth(sqs, url):
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"])


def measure(endpoint, creds, ca, pid):
    sqs = client(endpoint, creds, ca)
    # A received message stays in flight for the whole run (the longest visibility
    # timeout), so ReceiveMessage never sees one again and DeleteMessage finds each.
    long_visibility = {"VisibilityTimeout": "43200"}
    r = {"rows": {}}
    for c in CONCURRENCY:
        quota = max(1, DEPTH // c)
        count = -(-(WARMUP + per_client(c)) // quota)  # queues a row's clients go through
        t0 = time.monotonic()
        urls = {"quota": quota, "send": queues(sqs, f"{SEND_QUEUE}-{c}", count),
                "receive": queues(sqs, f"{RECV_QUEUE}-{c}", count, long_visibility),
                "trip": sqs.create_queue(QueueName=f"{TRIP_QUEUE}-{c}", Attributes=long_visibility)["QueueUrl"]}
        for url in urls["receive"]:
            prefill(sqs, url, quota * c)
        found = depth(sqs, urls["receive"][0])
        if found != quota * c:
            log(f"warning: {urls['receive'][0]}: ApproximateNumberOfMessages {found} after {quota * c} sends")
        log(f"{endpoint}: {count} queues of {quota * c} messages for {c} client(s) in "
            f"{time.monotonic() - t0:.1f} s")
        clients = Clients(c, endpoint, creds, ca, urls)
        try:
            for op in OPS:
                clients.run(op, WARMUP, record=False)
                wanted = per_client(c)
                if op == "roundtrip":
                    wanted = max(100, wanted // 2)
                samples, wall, cpu_ms, asked, empties = clients.run(op, wanted)
                r["rows"][(op, c)] = {"n": len(samples), "p50": pct(samples, 50), "p99": pct(samples, 99),
                                      "rate": len(samples) / wall, "cut": len(samples) < asked,
                                      "client_cpu": cpu_ms, "empties": empties}
                row = r["rows"][(op, c)]
                log(f"{endpoint}: {op} x{c}: n={row['n']} p50 {row['p50']:.3f} ms p99 {row['p99']:.3f} ms "
                    f"{row['rate']:.0f}/s, client CPU {row['client_cpu']:.3f} ms/request"
                    + (f", {empties} empty receives" if empties else ""))
        finally:
            clients.close()
    r["status"] = proc_status(pid)
    return r


# --- servers ----------------------------------------------------------------------


def wait_sqs(endpoint, creds, ca, proc, within=60):
    sqs = client(endpoint, creds, ca)
    deadline = time.time() + within
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the server behind {endpoint} exited early")
        try:
            sqs.list_queues()
            return
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError):
            if time.time() > deadline:
                raise SystemExit(f"nothing answers on {endpoint}")
            time.sleep(0.1)


def esb_up_help(esb):
    return subprocess.run([esb, "up", "--help"], capture_output=True, text=True).stdout


def start_box(esb, venv, root, name, template):
    """`esb up --runtime process` on `template` with the SQS service on a free port (and
    the other AWS services off); returns (process, state dir, endpoint, credentials, CA).
    The endpoint is the `sqs_url` the box records in box.json."""
    state = os.path.join(root, name)
    os.makedirs(os.path.join(state, "runtimes"))
    os.symlink(venv, os.path.join(state, "runtimes", "python"))
    port, sqs_port = free_port(), free_port()
    cmd = [esb, "up", "--template", template, "--state-dir", state, "--port", str(port), "--runtime", "process",
           "--sqs-port", str(sqs_port)]
    help_text = esb_up_help(esb)
    for flag in OTHER_SERVICES:
        if flag in help_text:
            cmd += [flag, "off"]
    proc, ca = start_esb_up(cmd, state, port, 120)
    try:
        endpoint = box_url(state, "sqs_url", proc)
        creds = box_credentials(state)
        wait_sqs(endpoint, creds, ca, proc)
    except BaseException:
        stop(proc)
        raise
    return proc, state, endpoint, creds, ca


def esb_template(root, extra="", resources=""):
    path = os.path.join(root, f"template{len(extra)}.yaml")
    code = os.path.join(root, "functions")
    os.makedirs(code, exist_ok=True)
    with open(os.path.join(code, "sink.py"), "w") as f:
        f.write(SINK)
    with open(path, "w") as f:
        f.write("Transform: AWS::Serverless-2016-10-31\nResources:\n"
                "  Idle:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                f"      FunctionName: idle\n      Runtime: python3.11\n      CodeUri: {code}\n"
                "      Handler: sink.handler\n" + extra + resources)
    return path


# --- SQS -> Lambda (ESB only) -------------------------------------------------------

SINK = '''import os, time

def handler(event, context):
    now = time.time_ns()
    lines = "".join(f"{r['body'].split(' ', 1)[0]} {now}\\n" for r in event.get("Records", []))
    path = os.environ.get("SINK_FILE")
    if path and lines:
        with open(path, "a") as f:
            f.write(lines)
    return {}
'''


def sqs_to_lambda(esb, venv, root):
    """Send-to-invocation latency through an SQS event source mapping: a box whose
    template has a standard queue mapped to a function (BatchSize 1, no batching window);
    the function appends each message's key (its body's first word) and the time it ran
    (time.time_ns(), the same clock, the same machine) to a file. Each of LAMBDA_N
    SendMessages, one after the other, is timed from just before the call to the
    function's line, with the function's worker warm after five warm-up messages.
    Returns a dict of figures, or {"skipped": reason}."""
    sink_file = os.path.join(root, "sink.log")
    open(sink_file, "w").close()
    template = esb_template(root, f"""      Environment:
        Variables:
          SINK_FILE: {sink_file}
      Events:
        Messages:
          Type: SQS
          Properties:
            Queue: !GetAtt LambdaQueue.Arn
            BatchSize: 1
            MaximumBatchingWindowInSeconds: 0
""", f"""  LambdaQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: {LAMBDA_QUEUE}
""")
    check = subprocess.run([esb, "validate", "--template", template], capture_output=True, text=True)
    ignored = [re.sub(r"^\S+:\d+:\d+: ", "", line.strip()) for line in (check.stdout + check.stderr).splitlines()
               if "not supported by ESB" in line or "not run by ESB" in line]
    if check.returncode != 0 or ignored:
        return {"skipped": "`esb validate` " + ("; ".join(ignored) if ignored else f"failed: {check.stderr.strip()}")}
    try:
        proc, state, endpoint, creds, ca = start_box(esb, venv, root, "esb-lambda", template)
    except SystemExit as e:
        return {"skipped": f"the box did not start with a queue mapping in its template ({e})"}
    try:
        sqs = client(endpoint, creds, ca)
        try:
            url = sqs.get_queue_url(QueueName=LAMBDA_QUEUE)["QueueUrl"]
        except botocore.exceptions.ClientError as e:
            return {"skipped": f"the template's queue {LAMBDA_QUEUE} is not there ({e})"}

        def one(key, within):
            t0 = time.time_ns()
            sqs.send_message(QueueUrl=url, MessageBody=body(key), MessageAttributes=ATTRIBUTES)
            deadline = time.time() + within
            while time.time() < deadline:
                with open(sink_file) as f:
                    for line in f:
                        k, _, ns = line.partition(" ")
                        if k == key:
                            return int(ns) - t0
                time.sleep(0.002)
            return None

        first = one("first", 60)
        if first is None:
            return {"skipped": "the function saw no message within 60 s of a SendMessage (no queue mapping yet?)"}
        for i in range(5):
            if one(f"warm{i}", 30) is None:
                return {"skipped": "a warm-up message did not reach the function within 30 s"}
        samples = []
        for i in range(LAMBDA_N):
            ns = one(f"m{i}", 30)
            if ns is None:
                return {"skipped": f"message m{i} did not reach the function within 30 s"}
            samples.append(ns)
        samples.sort()
        # Each message the function returned without error is deleted by the mapping.
        time.sleep(1)
        left = depth(sqs, url)
        return {"first": first / 1e6, "p50": pct(samples, 50), "p99": pct(samples, 99),
                "max": samples[-1] / 1e6, "n": len(samples), "left": left}
    finally:
        stop(proc)


# --- the report ---------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--esb", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--moto", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--targets", default="esb,moto")
    args = ap.parse_args()
    targets = [t for t in args.targets.split(",") if t]
    for t in targets:
        if t not in ("esb", "moto"):
            raise SystemExit(f"unknown target {t} (esb, moto)")

    root = tempfile.mkdtemp(prefix="esb-bench-sqs-")
    results, idle, notes, to_lambda = {}, {}, [], None
    load_before = os.getloadavg()[0]
    started = time.time()
    try:
        if "esb" in targets:
            if "--sqs-port" not in esb_up_help(args.esb):
                notes.append("ESB: not measured: this `esb up` has no `--sqs-port` (no SQS service).")
                log(notes[-1])
                to_lambda = {"skipped": "ESB's SQS service is unavailable"}
            else:
                proc, state, endpoint, creds, ca = start_box(args.esb, args.venv, root, "esb", esb_template(root))
                try:
                    time.sleep(1)
                    idle["esb"] = proc_status(proc.pid)
                    results["esb"] = measure(endpoint, creds, ca, proc.pid)
                finally:
                    stop(proc)
                log("SQS -> Lambda")
                to_lambda = sqs_to_lambda(args.esb, args.venv, root)
                log(f"SQS -> Lambda: {to_lambda}")
        else:
            to_lambda = {"skipped": "ESB not among the targets of this run"}

        if "moto" in targets:
            port = free_port()
            proc = subprocess.Popen([args.moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            try:
                endpoint = f"http://127.0.0.1:{port}"
                wait_sqs(endpoint, ("bench", "bench"), None, proc)
                time.sleep(1)
                idle["moto"] = proc_status(proc.pid)
                results["moto"] = measure(endpoint, ("bench", "bench"), None, proc.pid)
            finally:
                stop(proc)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    load_after = os.getloadavg()[0]
    elapsed = time.time() - started

    moto_version = version_of(os.path.join(os.path.dirname(args.moto), "python"), "moto")
    esb_version = (subprocess.run([args.esb, "--version"], capture_output=True, text=True).stdout.strip()
                   if "esb" in results else None)
    names = {"esb": f"ESB ({esb_version}, HTTPS)", "moto": f"moto {moto_version} (HTTP)"}
    order = [k for k in ("esb", "moto") if k in results]

    lines = [
        "## SQS",
        "",
        machine() + f" Load average (1 min) {load_before:.1f} at the start, {load_after:.1f} at the end "
        f"(the machine is shared); the run took {elapsed:.0f} s.",
        "Servers, one after the other in the same run, each on a loopback port: " + "; ".join(
            {"esb": "`esb up --runtime process` serving SQS over HTTPS with the box's certificate (its other "
                    "AWS services off), every request signed with the box's key pair and checked",
             "moto": f"`moto_server` {moto_version} (plain HTTP, in memory, no durability, no signature "
                     "check; its server closes the connection after each answer, so its clients connect "
                     "anew for every request)"}[k] for k in order) + ".",
        f"Method: boto3 {boto3.__version__} (botocore {botocore.__version__}, SQS's JSON protocol) low-level "
        "clients, one per client process, each on one kept-alive connection, retries off. Concurrent clients "
        "are processes, not threads: botocore spends about a millisecond of CPU on each call (figures below), "
        "and threads would measure Python's interpreter lock. Standard queues; messages of "
        f"{BODY_SIZE} bytes with one String message attribute ({message_size()} bytes as SQS sizes them). "
        "SendMessage writes to queues of its own. ReceiveMessage (MaxNumberOfMessages 1, WaitTimeSeconds 0, "
        "MessageAttributeNames All) reads from queues prefilled (SendMessageBatch), each message staying in "
        "flight (VisibilityTimeout 43200) until DeleteMessage deletes it by the receipt handle its client "
        f"received, oldest first. No queue holds more than {DEPTH} messages: the clients of a row share a "
        f"queue and move on to the next, {DEPTH // 8} messages each with 8 clients, {DEPTH} with 1 (moto's "
        "SendMessage, ReceiveMessage and DeleteMessage walk the queue's list of messages, in flight ones "
        "included, so its figures grow with a queue's depth; BENCH_QUEUE_DEPTH sets it). The round trip is "
        "one SendMessage, one ReceiveMessage and the DeleteMessage of what it received, on a queue of its "
        "own that stays nearly empty (with 8 clients a client often receives another's message). "
        f"Per row: {WARMUP} warm-up requests per client, then {N} "
        f"requests with 1 client or {max(100, N // 8)} per client with 8 (half that for the round trip), or "
        f"fewer when a row passes {ROW_SECONDS:g} s (but at least 100 per client). Latency is each call as "
        "the client sees it (botocore's signing, serialisation and parsing included); throughput is the "
        "row's requests (round trips) over its wall time, clients and server sharing the same 2 cores. "
        "Compare servers within one run: this machine is shared.",
        f"Command: `{args.command}`",
        "",
    ]
    if notes:
        lines += notes + [""]
    lines += [
        "| server | clients | " + " | ".join(f"{OP_NAMES[o]} p50 ms | p99 ms | ops/s" for o in OPS) + " |",
        "|---|---:|" + "---:|" * (3 * len(OPS)),
    ]
    cut = False
    for key in order:
        for c in CONCURRENCY:
            cells = []
            for o in OPS:
                row = results[key]["rows"][(o, c)]
                mark = "*" if row["cut"] else ""
                cut = cut or row["cut"]
                cells.append(f"{row['p50']:.2f} | {row['p99']:.2f} | {row['rate']:.0f}{mark}")
            lines.append(f"| {names[key]} | {c} | " + " | ".join(cells) + " |")
    if cut:
        lines += ["", "\\* the row stopped at its time limit (DeleteMessage: or ran out of the messages its "
                  "ReceiveMessage row received): " + "; ".join(
                      f"{names[k]} {OP_NAMES[o]} x{c}: {results[k]['rows'][(o, c)]['n']} requests"
                      for k in order for c in CONCURRENCY for o in OPS if results[k]["rows"][(o, c)]["cut"]) + "."]
    empties = [f"{names[k]} {OP_NAMES[o]} x{c}: {results[k]['rows'][(o, c)]['empties']}"
               for k in order for c in CONCURRENCY for o in ("receive", "roundtrip")
               if results[k]["rows"][(o, c)]["empties"]]
    if empties:
        lines += ["", "Empty ReceiveMessage answers (not counted as samples in the ReceiveMessage rows; repeated "
                  "within the round trip, whose time includes them): " + "; ".join(empties) + "."]
    lines += [
        "",
        "Memory of each server process (VmRSS; VmHWM, its peak over its life) in MB"
        + (" (ESB: the whole `esb up` process, gateway and log store included; its function's process is not "
           "counted)" if "esb" in order else "") + ":",
        "",
        "| server | idle after start | after the runs | peak |",
        "|---|---:|---:|---:|",
    ]
    for key in order:
        s = results[key]["status"]
        lines.append(f"| {names[key]} | {idle[key]['VmRSS']:.1f} | {s['VmRSS']:.1f} | {s['VmHWM']:.1f} |")
    lines += [""]
    if to_lambda and "skipped" not in to_lambda:
        goal = "met" if to_lambda["p50"] < 20 else "not met"
        lines.append(
            f"SQS to Lambda (ESB): a standard queue mapped to a Python function (`Events: SQS`, BatchSize 1, "
            f"MaximumBatchingWindowInSeconds 0); after five warm-up messages, {to_lambda['n']} SendMessages one "
            "after the other, each timed from just before the call to the moment the function ran "
            "(time.time_ns() in the handler, same machine): "
            f"p50 {to_lambda['p50']:.1f} ms (goal: under 20 ms, {goal}), p99 {to_lambda['p99']:.1f} ms, "
            f"max {to_lambda['max']:.1f} ms; the first message, with the function's cold start, "
            f"{to_lambda['first']:.0f} ms. Messages left in the queue a second after the last: "
            f"{to_lambda['left']} (the mapping deletes each message its function handled).")
    else:
        lines.append(f"SQS to Lambda (send to invocation): not measured in this run: "
                     f"{(to_lambda or {}).get('skipped', 'ESB not measured')}.")
    lines.append("")
    if "esb" in order and "moto" in order:
        e, m = results["esb"]["rows"], results["moto"]["rows"]
        behind = []
        for o in OPS:
            for c in CONCURRENCY:
                lost = [what for what in ("p50", "p99") if e[(o, c)][what] >= m[(o, c)][what]]
                lost += ["ops/s"] if e[(o, c)]["rate"] <= m[(o, c)]["rate"] else []
                if lost:
                    behind.append(f"{OP_NAMES[o]} x{c} ({', '.join(lost)})")
        lines += [
            "Reading: moto's p50 over ESB's with one client is "
            + ", ".join(f"{m[(o, 1)]['p50'] / e[(o, 1)]['p50']:.1f}x for {OP_NAMES[o]}" for o in OPS)
            + "; with 8 clients ESB serves "
            + ", ".join(f"{e[(o, 8)]['rate'] / m[(o, 8)]['rate']:.1f}x moto's requests per second for {OP_NAMES[o]}"
                        for o in OPS)
            + ". Goal (ESB ahead of moto in every figure): "
            + ("met." if not behind else "not met: ESB is not ahead in " + ", ".join(behind) + "."),
            "",
        ]
    if order:
        cpu = {o: min(results[k]["rows"][(o, 1)]["client_cpu"] for k in order) for o in OPS}
        lines += [
            "Part of every figure is the client's own: botocore's CPU time per call (signing, serialising, "
            "parsing), measured in the client process with one client, was at least "
            + ", ".join(f"{cpu[o]:.2f} ms for {OP_NAMES[o]}" for o in OPS)
            + " (the round trip: its three calls); with 8 clients the client processes and the server share the "
            "same 2 cores.",
            "",
        ]
    section = "\n".join(lines)
    print(section)
    write_section(args.out, "## SQS", section)


main()
