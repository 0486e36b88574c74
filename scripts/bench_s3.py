"""The box's S3 service against moto's server, side by side in one run: 4 KiB PutObject
and GetObject latency (a raw signed client and boto3), 64 MiB PUT/GET throughput (and
reading the same file from the page cache), the first ListObjectsV2 page over a large
bucket, and for ESB its memory (idle, during a multipart upload of several GiB) and the
disk left after deleting that object.

Usage: bench_s3.py <esb> <runtime-venv> <python-functions> <moto_server> <benchmarks.md> <command>
Environment: BENCH_N (500), BENCH_BIG_MIB (64), BENCH_LIST_KEYS (100000),
BENCH_HUGE_GIB (5), BENCH_LOADERS (16), BENCH_LIST_RUNS (20).
"""
import concurrent.futures
import hashlib
import http.client
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from bench_common import free_port, machine, pct, proc_status, start_esb_up, stop, write_section

ESB, VENV, FUNCTIONS, MOTO, OUT, COMMAND = sys.argv[1:7]
N = int(os.environ.get("BENCH_N", "500"))
BIG_MIB = int(os.environ.get("BENCH_BIG_MIB", "64"))
LIST_KEYS = int(os.environ.get("BENCH_LIST_KEYS", "100000"))
HUGE_GIB = float(os.environ.get("BENCH_HUGE_GIB", "5"))
LOADERS = int(os.environ.get("BENCH_LOADERS", "16"))
LIST_RUNS = int(os.environ.get("BENCH_LIST_RUNS", "20"))
REGION = "us-east-1"
SMALL = 4096
MIB = 1 << 20


def log(msg):
    print(f"bench-s3: {msg}", file=sys.stderr, flush=True)


class Raw:
    """One kept-alive HTTP(S) connection; each request signed (Signature V4) by botocore's
    SigV4Auth before the clock starts, so the figures are the exchange alone."""

    def __init__(self, endpoint, creds, ca=None):
        u = urllib.parse.urlsplit(endpoint)
        self.endpoint = endpoint
        if u.scheme == "https":
            self.conn = http.client.HTTPSConnection(u.hostname, u.port, context=ssl.create_default_context(cafile=ca))
        else:
            self.conn = http.client.HTTPConnection(u.hostname, u.port)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.signer = SigV4Auth(creds, "s3", REGION)

    def signed(self, method, path, query="", body=b""):
        url = self.endpoint + path + ("?" + query if query else "")
        sha = hashlib.sha256(body).hexdigest()
        req = AWSRequest(method=method, url=url, data=body, headers={"X-Amz-Content-SHA256": sha})
        self.signer.add_auth(req)
        headers = dict(req.headers.items())
        headers["Content-Length"] = str(len(body))
        return path + ("?" + query if query else ""), headers

    def exchange(self, method, target, headers, body=b""):
        """Sends a signed request; returns (nanoseconds, status, body)."""
        t0 = time.perf_counter_ns()
        self.conn.request(method, target, body=body if body else None, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        elapsed = time.perf_counter_ns() - t0
        if resp.status >= 300:
            raise SystemExit(f"{method} {target}: {resp.status} {(data or b'')[:300]!r}")
        return elapsed, resp.status, data

    def call(self, method, path, query="", body=b""):
        target, headers = self.signed(method, path, query, body)
        return self.exchange(method, target, headers, body)


def summary(samples):
    s = sorted(samples)
    return {"p50": pct(s, 50), "p99": pct(s, 99)}


def latency_raw(client, bucket):
    body = os.urandom(SMALL)
    for i in range(20):
        client.call("PUT", f"/{bucket}/warm{i}", body=body)
        client.call("GET", f"/{bucket}/warm{i}")
    puts = [client.call("PUT", f"/{bucket}/small/{i:05d}", body=body)[0] for i in range(N)]
    gets = []
    for i in range(N):
        _, _, data = client.call("GET", f"/{bucket}/small/{(i * 7919) % N:05d}")
        assert len(data) == SMALL
    for i in range(N):
        gets.append(client.call("GET", f"/{bucket}/small/{(i * 7919) % N:05d}")[0])
    return summary(puts), summary(gets)


def latency_boto3(s3, bucket):
    body = os.urandom(SMALL)
    for i in range(20):
        s3.put_object(Bucket=bucket, Key=f"bwarm{i}", Body=body)
        s3.get_object(Bucket=bucket, Key=f"bwarm{i}")["Body"].read()
    puts, gets = [], []
    for i in range(N):
        t0 = time.perf_counter_ns()
        s3.put_object(Bucket=bucket, Key=f"bsmall/{i:05d}", Body=body)
        puts.append(time.perf_counter_ns() - t0)
    for i in range(N):
        t0 = time.perf_counter_ns()
        s3.get_object(Bucket=bucket, Key=f"bsmall/{(i * 7919) % N:05d}")["Body"].read()
        gets.append(time.perf_counter_ns() - t0)
    return summary(puts), summary(gets)


def curl(creds, ca, *args):
    """One curl transfer signed with --aws-sigv4 (UNSIGNED-PAYLOAD); returns what -w printed."""
    cmd = ["curl", "-sS", "--fail", "--aws-sigv4", f"aws:amz:{REGION}:s3", "--user",
           f"{creds.access_key}:{creds.secret_key}", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-o", "/dev/null"]
    if ca:
        cmd += ["--cacert", ca]
    return subprocess.run(cmd + list(args), check=True, capture_output=True, text=True).stdout


def throughput(endpoint, creds, ca, bucket, path, runs=3):
    """Median MB/s of `runs` PUTs and GETs of the file at `path` with curl."""
    url = f"{endpoint}/{bucket}/big"
    put_rates, get_rates = [], []
    curl(creds, ca, "-T", path, url + "-warm", "-w", "%{speed_upload}")
    curl(creds, ca, url + "-warm", "-w", "%{speed_download}")
    for r in range(runs):
        put_rates.append(float(curl(creds, ca, "-T", path, f"{url}{r}", "-w", "%{speed_upload}")) / MIB)
    for r in range(runs):
        get_rates.append(float(curl(creds, ca, f"{url}{r}", "-w", "%{speed_download}")) / MIB)
    return statistics.median(put_rates), statistics.median(get_rates)


SENDFILE_SERVER = """
import os, socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
size = os.path.getsize(sys.argv[1])
while True:
    c, _ = s.accept()
    c.recv(65536)
    c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n" % size)
    with open(sys.argv[1], "rb") as f:
        c.sendfile(f)
    c.close()
"""


def loopback_ceiling(path):
    """curl's GET rate from a trivial server that sendfile(2)s the file: what loopback
    TCP and the client allow on this machine."""
    server = subprocess.Popen([sys.executable, "-c", SENDFILE_SERVER, path], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        rates = []
        for _ in range(6):
            out = subprocess.run(["curl", "-sS", "--fail", "-o", "/dev/null", "-w", "%{speed_download}",
                                  f"http://127.0.0.1:{port}/"], check=True, capture_output=True, text=True).stdout
            rates.append(float(out) / MIB)
        return statistics.median(rates[1:])
    finally:
        server.kill()
        server.wait()


def load_keys(endpoint, creds, ca, bucket, count):
    """PUTs `count` empty objects with LOADERS concurrent connections; returns seconds."""
    body = b""
    local = threading.local()

    def put_range(start):
        if not hasattr(local, "client"):
            local.client = Raw(endpoint, creds, ca)
        for i in range(start, min(count, start + 500)):
            local.client.call("PUT", f"/{bucket}/k{i:07d}", body=body)

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(LOADERS) as pool:
        list(pool.map(put_range, range(0, count, 500)))
    return time.perf_counter() - t0


def list_first_page(client, bucket):
    """LIST_RUNS timed first pages (after 2 warm-ups), or fewer when 20 s are spent."""
    samples = []
    deadline = time.time() + 20
    for r in range(LIST_RUNS + 2):
        ns, _, data = client.call("GET", f"/{bucket}", query="list-type=2&max-keys=1000")
        keys = data.count(b"<Key>")
        if keys != min(1000, LIST_KEYS) or (LIST_KEYS > 1000 and b"<IsTruncated>true" not in data):
            raise SystemExit(f"ListObjectsV2 returned {keys} keys: {data[:300]!r}")
        if r >= 2:
            samples.append(ns)
        if len(samples) >= 3 and time.time() > deadline:
            break
    return {**summary(samples), "runs": len(samples)}


def cat_rate(path, size):
    subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)
    rates = []
    for _ in range(5):
        t0 = time.perf_counter_ns()
        subprocess.run(["sh", "-c", f'cat "{path}" > /dev/null'], check=True)
        rates.append(size / MIB / ((time.perf_counter_ns() - t0) / 1e9))
    return statistics.median(rates)



def du_mb(path):
    return int(subprocess.run(["du", "-sb", path], check=True, capture_output=True, text=True).stdout.split()[0]) / 1e6


def wait_port(port, proc, within=60):
    deadline = time.time() + within
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited early")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing answers on port {port}")


def box_credentials(state):
    values = dict(line.split(" = ", 1) for line in open(os.path.join(state, "credentials")).read().splitlines()
                  if " = " in line)
    return Credentials(values["aws_access_key_id"], values["aws_secret_access_key"])


def start_box(root, name, plain):
    state = os.path.join(root, name)
    os.makedirs(os.path.join(state, "runtimes"))
    os.symlink(VENV, os.path.join(state, "runtimes", "python"))
    template = os.path.join(root, "template.yaml")
    port, s3_port = free_port(), free_port()
    cmd = [ESB, "up", "--template", template, "--state-dir", state, "--port", str(port), "--runtime", "process",
           "--s3-port", str(s3_port)] + (["--s3-plain-http"] if plain else [])
    proc, ca = start_esb_up(cmd, state, port, 120)
    wait_port(s3_port, proc)
    scheme = "http" if plain else "https"
    return proc, state, f"{scheme}://127.0.0.1:{s3_port}", box_credentials(state), (None if plain else ca)



def boto_client(endpoint, creds, ca):
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=creds.access_key,
                        aws_secret_access_key=creds.secret_key, verify=ca if ca else False,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def measure(endpoint, creds, ca, big_file, pid, full):
    """Everything but the huge upload, against one server."""
    r = {}
    s3 = boto_client(endpoint, creds, ca)
    for b in ("bench", "bench-list"):
        s3.create_bucket(Bucket=b)
    client = Raw(endpoint, creds, ca)
    log(f"{endpoint}: 4 KiB latency")
    r["raw_put"], r["raw_get"] = latency_raw(client, "bench")
    r["boto_put"], r["boto_get"] = latency_boto3(s3, "bench")
    log(f"{endpoint}: {BIG_MIB} MiB throughput")
    r["big_put"], r["big_get"] = throughput(endpoint, creds, ca, "bench", big_file)
    if full:
        log(f"{endpoint}: loading {LIST_KEYS} keys")
        r["load_s"] = load_keys(endpoint, creds, ca, "bench-list", LIST_KEYS)
        log(f"{endpoint}: {LIST_KEYS} keys in {r['load_s']:.1f} s")
        log(f"{endpoint}: ListObjectsV2")
        # A new connection: servers close one left idle that long (ESB after 30 s).
        r["list"] = list_first_page(Raw(endpoint, creds, ca), "bench-list")
    r["status"] = proc_status(pid)
    return r


def huge_upload(endpoint, creds, state, pid, root):
    """upload_file of a sparse HUGE_GIB file (read from disk, never held in RAM) while a
    thread samples the box's VmRSS; then delete it and measure what is left on disk."""
    path = os.path.join(root, "huge.bin")
    size = int(HUGE_GIB * (1 << 30))
    with open(path, "wb") as f:
        f.truncate(size)
    s3 = boto_client(endpoint, creds, None)
    s3.create_bucket(Bucket="bench-huge")
    before_mb = du_mb(os.path.join(state, "s3"))
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM
    samples, done = [], threading.Event()

    def sample():
        while not done.is_set():
            samples.append(proc_status(pid)["VmRSS"])
            time.sleep(0.1)

    t = threading.Thread(target=sample)
    t.start()
    t0 = time.perf_counter()
    try:
        s3.upload_file(path, "bench-huge", "huge", Config=TransferConfig(multipart_chunksize=8 * MIB))
    finally:
        done.set()
        t.join()
    seconds = time.perf_counter() - t0
    head = s3.head_object(Bucket="bench-huge", Key="huge")
    assert head["ContentLength"] == size, head
    after = proc_status(pid)
    stored_mb = du_mb(os.path.join(state, "s3"))
    s3.delete_object(Bucket="bench-huge", Key="huge")
    time.sleep(0.5)
    deleted_mb = du_mb(os.path.join(state, "s3"))
    os.unlink(path)
    return {"seconds": seconds, "rate": size / MIB / seconds, "rss_peak": max(samples), "hwm": after["VmHWM"],
            "rss_after": after["VmRSS"], "before_mb": before_mb, "stored_mb": stored_mb, "deleted_mb": deleted_mb,
            "size_gib": size / (1 << 30)}


def curl_version():
    return subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split()[1]


def row(name, client, put, get):
    return f"| {name} | {client} | {put['p50']:.3f} | {put['p99']:.3f} | {get['p50']:.3f} | {get['p99']:.3f} |"


def main():
    root = tempfile.mkdtemp(prefix="esb-bench-s3-")
    results, huge, idle = {}, None, None
    load_before = os.getloadavg()[0]
    try:
        with open(os.path.join(root, "template.yaml"), "w") as f:
            f.write(f"Transform: AWS::Serverless-2016-10-31\nResources:\n  Echo:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                    f"      FunctionName: echo\n      Runtime: python3.11\n      CodeUri: {FUNCTIONS}\n"
                    f"      Handler: handlers.echo\n")
        big_file = os.path.join(root, "big.bin")
        with open(big_file, "wb") as f:
            f.write(os.urandom(BIG_MIB * MIB))
        cat = cat_rate(big_file, BIG_MIB * MIB)
        ceiling = loopback_ceiling(big_file)

        proc, state, endpoint, creds, ca = start_box(root, "esb-http", plain=True)
        try:
            time.sleep(1)
            idle = proc_status(proc.pid)
            results["esb"] = measure(endpoint, creds, ca, big_file, proc.pid, full=True)
            log(f"{endpoint}: {HUGE_GIB} GiB multipart upload")
            huge = huge_upload(endpoint, creds, state, proc.pid, root)
        finally:
            stop(proc)

        proc, state, endpoint, creds, ca = start_box(root, "esb-https", plain=False)
        try:
            results["esb-tls"] = measure(endpoint, creds, ca, big_file, proc.pid, full=False)
        finally:
            stop(proc)

        port = free_port()
        moto = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            wait_port(port, moto)
            results["moto"] = measure(f"http://127.0.0.1:{port}", Credentials("bench", "bench"), None, big_file,
                                      moto.pid, full=True)
        finally:
            stop(moto)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    load_after = os.getloadavg()[0]
    moto_version = subprocess.run([os.path.join(os.path.dirname(MOTO), "python"), "-c",
                                   "import moto; print(moto.__version__)"], capture_output=True, text=True).stdout.strip()
    e, t, m = results["esb"], results["esb-tls"], results["moto"]
    names = {"esb": "ESB (HTTP)", "esb-tls": "ESB (HTTPS)", "moto": f"moto {moto_version} (HTTP)"}
    def ratio(a, b):
        return a / b

    lines = [
        "## S3",
        "",
        machine() + f" Load average (1 min) {load_before:.1f} at the start, {load_after:.1f} at the end "
        "(the machine is shared).",
        f"`esb up --runtime process` serving S3 on a loopback port (`--s3-plain-http`; and HTTPS with the box's "
        f"certificate) against `moto_server` {moto_version} (plain HTTP; in memory, no durability, no signature "
        "check), one after the other in the same run. ESB acknowledges a write once its bytes and catalogue row "
        "are on disk (fsync of the blob file and of its folder, then the SQLite WAL commit with synchronous=FULL) "
        f"and verifies every signature. Latency: {N} PUTs of 4 KiB objects, then {N} GETs of them, one client "
        "on one kept-alive connection, after 20 warm-ups. \"raw\": each request signed by botocore's SigV4Auth "
        "(payload SHA-256) before the clock starts, then sent with Python's http.client, so the figure is the "
        f"exchange alone; \"boto3\": `put_object`/`get_object` calls (boto3 {boto3.__version__}, with its default "
        "CRC32 request checksums), most of whose time is botocore's own. Garage is not measured (AGPL, and a long "
        "build).",
        f"Command: `{COMMAND}`",
        "",
        "| server | client | PUT p50 ms | PUT p99 ms | GET p50 ms | GET p99 ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for key in ("esb", "moto", "esb-tls"):
        lines.append(row(names[key], "raw", results[key]["raw_put"], results[key]["raw_get"]))
    for key in ("esb", "moto", "esb-tls"):
        lines.append(row(names[key], "boto3", results[key]["boto_put"], results[key]["boto_get"]))
    lines += [
        "",
        f"Throughput: median of 3 PUTs and 3 GETs of one {BIG_MIB} MiB file with curl "
        f"({curl_version()}, `--aws-sigv4`, `UNSIGNED-PAYLOAD`, body to /dev/null), MiB/s. For scale: `cat` of "
        f"the same file from a warm page cache to /dev/null runs at {cat:.0f} MiB/s, and curl's GET of it from "
        f"a 15-line Python server that sendfile(2)s it (the loopback ceiling here) at {ceiling:.0f} MiB/s. "
        f"Listing: the first ListObjectsV2 page (1000 keys, raw client) over a bucket of {LIST_KEYS} keys (empty "
        f"objects PUT by {LOADERS} concurrent raw clients; the load time is in the table), {LIST_RUNS} runs or "
        "as many as 20 s allow (at least 3).",
        "",
        f"| server | PUT {BIG_MIB} MiB MiB/s | GET {BIG_MIB} MiB MiB/s | GET: cat / server | GET: ceiling / server "
        f"| list p50 ms | list p99 ms | list runs | load {LIST_KEYS} keys s | keys/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key in ("esb", "moto", "esb-tls"):
        r = results[key]
        listing = (f"{r['list']['p50']:.2f} | {r['list']['p99']:.2f} | {r['list']['runs']} | {r['load_s']:.1f} "
                   f"| {LIST_KEYS / r['load_s']:.0f}" if "list" in r else "– | – | – | – | –")
        lines.append(f"| {names[key]} | {r['big_put']:.0f} | {r['big_get']:.0f} | {ratio(cat, r['big_get']):.2f} "
                     f"| {ratio(ceiling, r['big_get']):.2f} | {listing} |")
    lines += [
        "",
        f"Memory of the `esb up` process (VmRSS, and VmHWM, its peak): {idle['VmRSS']:.1f} MB idle after start; "
        f"{e['status']['VmRSS']:.1f} MB after the runs above (VmHWM {e['status']['VmHWM']:.1f} MB). During a "
        f"{huge['size_gib']:g} GiB `upload_file` (boto3 multipart: 8 MiB parts, 10 threads, read from a sparse "
        f"file) at {huge['rate']:.0f} MiB/s: VmRSS at most {huge['rss_peak']:.1f} MB (sampled every 100 ms), "
        f"VmHWM {huge['hwm']:.1f} MB (reset just before the upload), {huge['rss_after']:.1f} MB after it. "
        f"moto's server after its runs (without the big upload): VmRSS {m['status']['VmRSS']:.0f} MB, VmHWM "
        f"{m['status']['VmHWM']:.0f} MB. Disk (`du -sb <state>/s3`): {huge['before_mb']:.1f} MB before the "
        f"upload, {huge['stored_mb']:.1f} MB with it, {huge['deleted_mb']:.1f} MB after its DeleteObject (a "
        "deleted object's blobs go once the delete commits).",
        "",
        f"Reading: ESB's p50 over moto's (raw client) is {ratio(e['raw_put']['p50'], m['raw_put']['p50']):.2f} "
        f"for a 4 KiB PUT, {ratio(e['raw_get']['p50'], m['raw_get']['p50']):.2f} for a GET and "
        f"{ratio(e['list']['p50'], m['list']['p50']):.3f} for the first page of the {LIST_KEYS}-key listing. "
        "Over half of ESB's PUT is the three fsyncs that make it durable before it is acknowledged (strace: "
        "blob file, then the WAL commit, then far less for the folder); moto keeps objects in memory. Its "
        "listing is a range scan of the catalogue's key index, where moto sorts every key of the bucket. A "
        f"{BIG_MIB} MiB GET reaches {ratio(e['big_get'], ceiling):.0%} of the loopback ceiling; `cat` crosses "
        f"no socket, hence {ratio(cat, e['big_get']):.1f}x (no server over loopback TCP comes within 2x of it "
        "here). A large PUT is bound by the MD5 of the body (the ETag S3 clients expect), computed as it "
        "streams in.",
        "",
    ]
    section = "\n".join(lines)
    print(section)
    write_section(OUT, "## S3", section)


main()
