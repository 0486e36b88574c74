"""The box's DynamoDB service against dynoxide's own server (the engine the box embeds,
run bare) and moto's server, side by side in one run: PutItem, GetItem (items of about
200 bytes) and a Query returning 100 items, p50/p99 latency and throughput with 1 and 8
concurrent clients; each server's memory (idle, after the runs, peak); and, for ESB
alone, how long a write takes to reach a Lambda function through DynamoDB Streams.

Usage: bench_dynamodb.py --esb ESB --venv RUNTIME_VENV --dynoxide BIN --moto MOTO_SERVER
                         --out docs/benchmarks.md --command CMD [--targets esb,dynoxide,moto]
Environment: BENCH_N (2000 requests per row with one client, 250 per client with 8),
BENCH_ROW_SECONDS (10: a row stops early past this), BENCH_STREAM_N (50).
"""
import argparse
import multiprocessing
import os
import random
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
STREAM_N = int(os.environ.get("BENCH_STREAM_N", "50"))
CONCURRENCY = (1, 8)
OPS = ("put", "get", "query")
OP_NAMES = {"put": "PutItem", "get": "GetItem", "query": "Query (100 items)"}
WARMUP = 50
GET_KEYS = 1000
QUERY_ITEMS = 100
TABLE = "bench"
WRITE_TABLE = "bench-writes"  # PutItem's, so the reads see the same items all along
REGION = "us-east-1"
PAYLOAD = "x" * 176  # pk "get-123" + sk "0" + n + payload: about 200 bytes as DynamoDB sizes items


def log(msg):
    print(f"bench-dynamodb: {msg}", file=sys.stderr, flush=True)


def client(endpoint, creds, ca):
    """A low-level client: one kept-alive connection when used by one thread, no
    retries (an error ends the benchmark instead of hiding in the latency)."""
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=creds[0],
                        aws_secret_access_key=creds[1], verify=ca if ca else False,
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"},
                                      max_pool_connections=1, tcp_keepalive=True))


def item(pk, sk):
    return {"pk": {"S": pk}, "sk": {"S": sk}, "n": {"N": "12345"}, "payload": {"S": PAYLOAD}}


def item_size(it):
    """DynamoDB's size of an item: attribute names plus values (strings as UTF-8,
    numbers roughly one byte per two digits plus one)."""
    size = 0
    for name, value in it.items():
        size += len(name.encode())
        (kind, v), = value.items()
        size += len(v.encode()) if kind == "S" else (len(v.lstrip("-")) + 1) // 2 + 1
    return size


# --- the client processes ---------------------------------------------------------
# Python threads share one interpreter lock, and botocore spends about as much CPU per
# request as a fast server: 8 threads would measure the lock. Each concurrent client is
# therefore a process of its own with one client (one connection), driven over a pipe.

def worker(conn, wid, endpoint, creds, ca):
    ddb = client(endpoint, creds, ca)
    seq = 0
    rng = random.Random(wid)
    while True:
        msg = conn.recv()
        if msg is None:
            return
        op, count, deadline, record = msg
        samples = []
        start, cpu = time.monotonic_ns(), time.process_time_ns()
        for _ in range(count):
            if op == "put":
                seq += 1
                t0 = time.perf_counter_ns()
                ddb.put_item(TableName=WRITE_TABLE, Item=item(f"put-{wid}-{seq}", "0"))
                samples.append(time.perf_counter_ns() - t0)
            elif op == "get":
                key = f"get-{rng.randrange(GET_KEYS)}"
                t0 = time.perf_counter_ns()
                r = ddb.get_item(TableName=TABLE, Key={"pk": {"S": key}, "sk": {"S": "0"}})
                samples.append(time.perf_counter_ns() - t0)
                if "Item" not in r:
                    raise SystemExit(f"GetItem {key}: no item")
            else:
                t0 = time.perf_counter_ns()
                r = ddb.query(TableName=TABLE, KeyConditionExpression="pk = :p",
                              ExpressionAttributeValues={":p": {"S": "q"}})
                samples.append(time.perf_counter_ns() - t0)
                if r["Count"] != QUERY_ITEMS:
                    raise SystemExit(f"Query returned {r['Count']} items, not {QUERY_ITEMS}")
            if time.monotonic() > deadline and len(samples) >= 100:
                break
        conn.send((samples if record else [], start, time.monotonic_ns(), time.process_time_ns() - cpu))


class Clients:
    def __init__(self, count, endpoint, creds, ca):
        ctx = multiprocessing.get_context("fork")
        self.pipes, self.procs = [], []
        for wid in range(count):
            mine, theirs = ctx.Pipe()
            p = ctx.Process(target=worker, args=(theirs, wid, endpoint, creds, ca), daemon=True)
            p.start()
            self.pipes.append(mine)
            self.procs.append(p)

    def run(self, op, count, record=True):
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
        return samples, wall, cpu_ms

    def close(self):
        for pipe in self.pipes:
            pipe.send(None)
        for proc in self.procs:
            proc.join(10)


def prepare(endpoint, creds, ca):
    ddb = client(endpoint, creds, ca)
    for table in (TABLE, WRITE_TABLE):
        ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}])
    deadline = time.time() + 60
    for table in (TABLE, WRITE_TABLE):
        while ddb.describe_table(TableName=table)["Table"]["TableStatus"] != "ACTIVE":
            if time.time() > deadline:
                raise SystemExit(f"table {table} did not become ACTIVE")
            time.sleep(0.2)
    items = [item(f"get-{i}", "0") for i in range(GET_KEYS)] + [item("q", f"{j:03d}") for j in range(QUERY_ITEMS)]
    for i in range(0, len(items), 25):
        batch = {TABLE: [{"PutRequest": {"Item": it}} for it in items[i:i + 25]]}
        while batch:
            batch = ddb.batch_write_item(RequestItems=batch).get("UnprocessedItems") or None


def measure(endpoint, creds, ca, pid):
    prepare(endpoint, creds, ca)
    r = {"rows": {}}
    for c in CONCURRENCY:
        clients = Clients(c, endpoint, creds, ca)
        try:
            for op in OPS:
                clients.run(op, WARMUP, record=False)
                per_client = N if c == 1 else max(100, N // c)
                if op == "query":
                    per_client = max(100, per_client // 2)
                samples, wall, cpu_ms = clients.run(op, per_client)
                r["rows"][(op, c)] = {"n": len(samples), "p50": pct(samples, 50), "p99": pct(samples, 99),
                                      "rate": len(samples) / wall, "cut": len(samples) < per_client * c,
                                      "client_cpu": cpu_ms}
                row = r["rows"][(op, c)]
                log(f"{endpoint}: {op} x{c}: n={row['n']} p50 {row['p50']:.3f} ms p99 {row['p99']:.3f} ms "
                    f"{row['rate']:.0f}/s, client CPU {row['client_cpu']:.3f} ms/request")
        finally:
            clients.close()
    r["status"] = proc_status(pid)
    return r


# --- servers ----------------------------------------------------------------------


def wait_ddb(endpoint, creds, ca, proc, within=60):
    ddb = client(endpoint, creds, ca)
    deadline = time.time() + within
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the server behind {endpoint} exited early")
        try:
            ddb.list_tables()
            return
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError):
            if time.time() > deadline:
                raise SystemExit(f"nothing answers on {endpoint}")
            time.sleep(0.1)



def esb_has_dynamodb(esb):
    out = subprocess.run([esb, "up", "--help"], capture_output=True, text=True).stdout
    return "--dynamodb-port" in out


def start_box(esb, venv, root, name, template):
    """`esb up --runtime process` on `template` with the DynamoDB service on a free port;
    returns (process, state dir, endpoint, credentials, CA). The endpoint is the
    `dynamodb_url` the box records in box.json."""
    state = os.path.join(root, name)
    os.makedirs(os.path.join(state, "runtimes"))
    os.symlink(venv, os.path.join(state, "runtimes", "python"))
    port, ddb_port = free_port(), free_port()
    cmd = [esb, "up", "--template", template, "--state-dir", state, "--port", str(port), "--runtime", "process",
           "--s3-port", "off", "--dynamodb-port", str(ddb_port)]
    proc, ca = start_esb_up(cmd, state, port, 120)
    try:
        endpoint = box_url(state, "dynamodb_url", proc)
        creds = box_credentials(state)
        wait_ddb(endpoint, creds, ca, proc)
    except BaseException:
        stop(proc)
        raise
    return proc, state, endpoint, creds, ca


def esb_template(root, extra=""):
    path = os.path.join(root, f"template{len(extra)}.yaml")
    code = os.path.join(root, "functions")
    os.makedirs(code, exist_ok=True)
    with open(os.path.join(code, "sink.py"), "w") as f:
        f.write(SINK)
    with open(path, "w") as f:
        f.write("Transform: AWS::Serverless-2016-10-31\nResources:\n"
                "  Idle:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                f"      FunctionName: idle\n      Runtime: python3.11\n      CodeUri: {code}\n"
                "      Handler: sink.handler\n" + extra)
    return path


# --- DynamoDB Streams -> Lambda (ESB only) ------------------------------------------

SINK = '''import os, time

def handler(event, context):
    now = time.time_ns()
    lines = "".join(f"{r['dynamodb']['Keys']['pk']['S']} {now}\\n" for r in event.get("Records", []))
    path = os.environ.get("SINK_FILE")
    if path and lines:
        with open(path, "a") as f:
            f.write(lines)
    return {}
'''


def streams_to_lambda(esb, venv, root):
    """Write-to-invocation latency through DynamoDB Streams: a box whose template has a
    table with a stream (NEW_IMAGE) mapped to a function (BatchSize 1, no batching
    window, StartingPosition LATEST); the function appends each record's key and the
    time it ran (time.time_ns(), the same clock, the same machine) to a file. Each of
    STREAM_N PutItems, one after the other, is timed from just before the call to the
    function's line. Returns a dict of figures, or {"skipped": reason}."""
    sink_file = os.path.join(root, "sink.log")
    open(sink_file, "w").close()
    template = esb_template(root, f"""      Environment:
        Variables:
          SINK_FILE: {sink_file}
      Events:
        Changes:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt StreamTable.StreamArn
            StartingPosition: LATEST
            BatchSize: 1
            MaximumBatchingWindowInSeconds: 0
  StreamTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: bench-stream
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{{AttributeName: pk, AttributeType: S}}]
      KeySchema: [{{AttributeName: pk, KeyType: HASH}}]
      StreamSpecification: {{StreamViewType: NEW_IMAGE}}
""")
    check = subprocess.run([esb, "validate", "--template", template], capture_output=True, text=True)
    ignored = [re.sub(r"^\S+:\d+:\d+: ", "", line.strip()) for line in (check.stdout + check.stderr).splitlines()
               if "not supported by ESB" in line or "not run by ESB" in line]
    if check.returncode != 0 or ignored:
        return {"skipped": "`esb validate` " + ("; ".join(ignored) if ignored else f"failed: {check.stderr.strip()}")}
    try:
        proc, state, endpoint, creds, ca = start_box(esb, venv, root, "esb-streams", template)
    except SystemExit as e:
        return {"skipped": f"the box did not start with a stream mapping in its template ({e})"}
    try:
        ddb = client(endpoint, creds, ca)

        def one(key, within):
            t0 = time.time_ns()
            ddb.put_item(TableName="bench-stream", Item={"pk": {"S": key}, "payload": {"S": PAYLOAD}})
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
            return {"skipped": "the function saw no record within 60 s of a PutItem (no stream mapping yet?)"}
        for i in range(5):
            if one(f"warm{i}", 30) is None:
                return {"skipped": "a warm-up record did not reach the function within 30 s"}
        samples = []
        for i in range(STREAM_N):
            ns = one(f"s{i}", 30)
            if ns is None:
                return {"skipped": f"record s{i} did not reach the function within 30 s"}
            samples.append(ns)
        samples.sort()
        return {"first": first / 1e6, "p50": pct(samples, 50), "p99": pct(samples, 99),
                "max": samples[-1] / 1e6, "n": len(samples)}
    finally:
        stop(proc)


# --- the report ---------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--esb", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--dynoxide", required=True)
    ap.add_argument("--moto", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--targets", default="esb,dynoxide,moto")
    args = ap.parse_args()
    targets = [t for t in args.targets.split(",") if t]
    for t in targets:
        if t not in ("esb", "dynoxide", "moto"):
            raise SystemExit(f"unknown target {t} (esb, dynoxide, moto)")

    root = tempfile.mkdtemp(prefix="esb-bench-ddb-")
    results, idle, notes, streams = {}, {}, [], None
    load_before = os.getloadavg()[0]
    started = time.time()
    try:
        if "esb" in targets:
            if not esb_has_dynamodb(args.esb):
                notes.append("ESB: not measured: this `esb up` has no `--dynamodb-port` (no DynamoDB service).")
                log(notes[-1])
                streams = {"skipped": "ESB's DynamoDB service is unavailable"}
            else:
                proc, state, endpoint, creds, ca = start_box(args.esb, args.venv, root, "esb", esb_template(root))
                try:
                    time.sleep(1)
                    idle["esb"] = proc_status(proc.pid)
                    results["esb"] = measure(endpoint, creds, ca, proc.pid)
                finally:
                    stop(proc)
                log("DynamoDB Streams -> Lambda")
                streams = streams_to_lambda(args.esb, args.venv, root)
        else:
            streams = {"skipped": "ESB not among the targets of this run"}

        if "dynoxide" in targets:
            port = free_port()
            db = os.path.join(root, "dynoxide", "db.sqlite")
            os.makedirs(os.path.dirname(db))
            proc = subprocess.Popen([args.dynoxide, "serve", "--host", "127.0.0.1", "--port", str(port),
                                     "--db-path", db, "--log", "quiet"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                endpoint = f"http://127.0.0.1:{port}"
                wait_ddb(endpoint, ("bench", "bench"), None, proc)
                time.sleep(1)
                idle["dynoxide"] = proc_status(proc.pid)
                results["dynoxide"] = measure(endpoint, ("bench", "bench"), None, proc.pid)
            finally:
                stop(proc)

        if "moto" in targets:
            port = free_port()
            proc = subprocess.Popen([args.moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            try:
                endpoint = f"http://127.0.0.1:{port}"
                wait_ddb(endpoint, ("bench", "bench"), None, proc)
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
    names = {"esb": f"ESB ({esb_version}, HTTPS)", "dynoxide": "dynoxide-rs 3.2.0 (HTTP)",
             "moto": f"moto {moto_version} (HTTP)"}
    order = [k for k in ("esb", "dynoxide", "moto") if k in results]

    lines = [
        "## DynamoDB",
        "",
        machine() + f" Load average (1 min) {load_before:.1f} at the start, {load_after:.1f} at the end "
        f"(the machine is shared); the run took {elapsed:.0f} s.",
        "Servers, one after the other in the same run, each on a loopback port: "
        + ("`esb up --runtime process` serving DynamoDB over HTTPS with the box's certificate, every request "
           "signed with the box's key pair and checked (the embedded engine, dynoxide, behind ESB's front); "
           if "esb" in order else "")
        + "`dynoxide serve` (dynoxide's own server, the crate dynoxide-rs 3.2.0 built by scripts/dynoxide-bin.sh, "
        "product version 1.5.0: the engine ESB embeds, run bare; plain HTTP, no signature check, a SQLite "
        "database file in a temporary directory: WAL, one fsync per write) and `moto_server` "
        f"{moto_version} (plain HTTP, in memory, no durability, no signature check).",
        f"Method: boto3 {boto3.__version__} (botocore {botocore.__version__}) low-level clients, one per client "
        "process, each on one kept-alive connection, retries off. Concurrent clients are processes, not "
        "threads: botocore spends about a millisecond of CPU on each call (figures below), and threads would "
        "measure Python's interpreter lock. Tables keyed by `pk` and `sk` (strings), on-demand; items of "
        f"about {item_size(item('get-123', '0'))} bytes. PutItem writes new keys into a table of its own; the "
        f"reads go to another, preloaded with {GET_KEYS} items and one partition of {QUERY_ITEMS}: GetItem "
        "reads a random preloaded key (eventually consistent, the default), Query the whole "
        f"{QUERY_ITEMS}-item partition in one page. Per row: {WARMUP} warm-up requests per client, then {N} "
        f"requests with 1 client or {max(100, N // 8)} per client with 8 (half that for Query), or fewer when "
        f"a row passes {ROW_SECONDS:g} s (but at least 100 per client). Latency is each call as the client "
        "sees it (botocore's signing, serialisation and parsing included); throughput is the row's requests "
        "over its wall time, clients and server sharing the same 2 cores. Compare servers within one run: "
        "on this shared machine the 8-client rows (fsync-bound PutItem most) have differed by up to 2.5x "
        "between runs.",
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
        lines += ["", "\\* the row stopped at its time limit: " + "; ".join(
            f"{names[k]} {OP_NAMES[o]} x{c}: {results[k]['rows'][(o, c)]['n']} requests"
            for k in order for c in CONCURRENCY for o in OPS if results[k]["rows"][(o, c)]["cut"]) + "."]
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
    if streams and "skipped" not in streams:
        lines.append(
            f"DynamoDB Streams to Lambda (ESB): a table with a NEW_IMAGE stream mapped to a Python function "
            f"(BatchSize 1, no batching window); {streams['n']} PutItems one after the other, each timed from "
            "just before the call to the moment the function ran (time.time_ns() in the handler, same machine): "
            f"p50 {streams['p50']:.1f} ms, p99 {streams['p99']:.1f} ms, max {streams['max']:.1f} ms; the first "
            f"record, with the function's cold start, {streams['first']:.0f} ms.")
    else:
        lines.append(f"DynamoDB Streams to Lambda (write to invocation): not measured in this run: "
                     f"{(streams or {}).get('skipped', 'ESB not measured')}.")
    lines.append("")
    if "dynoxide" in order and "moto" in order:
        d, m = results["dynoxide"]["rows"], results["moto"]["rows"]
        lines += [
            "Reading: moto's p50 over dynoxide's with one client is "
            + ", ".join(f"{m[(o, 1)]['p50'] / d[(o, 1)]['p50']:.1f}x for {OP_NAMES[o]}" for o in OPS)
            + "; with 8 clients dynoxide serves "
            + ", ".join(f"{d[(o, 8)]['rate'] / m[(o, 8)]['rate']:.1f}x moto's requests per second for {OP_NAMES[o]}"
                        for o in OPS)
            + ".",
            "",
        ]
    if "esb" in order and "dynoxide" in order:
        e, d = results["esb"]["rows"], results["dynoxide"]["rows"]
        lines += [
            "ESB against the bare engine (what its front costs: TLS, the signature check, the limits): p50 "
            + ", ".join(f"{e[(o, 1)]['p50'] - d[(o, 1)]['p50']:+.2f} ms for {OP_NAMES[o]}" for o in OPS)
            + " with one client; with 8, "
            + ", ".join(f"{e[(o, 8)]['rate'] / d[(o, 8)]['rate']:.2f}x its requests per second for {OP_NAMES[o]}"
                        for o in OPS)
            + ".",
            "",
        ]
    if order:
        cpu = {o: min(results[k]["rows"][(o, 1)]["client_cpu"] for k in order) for o in OPS}
        lines += [
            "Part of every figure is the client's own: botocore's CPU time per call (signing, serialising, "
            "parsing), measured in the client process with one client, was at least "
            + ", ".join(f"{cpu[o]:.2f} ms for {OP_NAMES[o]}" for o in OPS)
            + "; with 8 clients the client processes and the server share the same 2 cores.",
            "",
        ]
    section = "\n".join(lines)
    print(section)
    write_section(args.out, "## DynamoDB", section)


main()
