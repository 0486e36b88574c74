"""A box on several nodes, each a network namespace joined by a veth pair (10.213.8x.0/24,
made and removed here), each with its own `esb agent --join` (process workers):

- warm invoke latency through the gateway of a function on the box's own node and of
  one on a remote node (the network hop and mutual TLS are the difference), interleaved;
- how long after a node dies (every process in it killed) the first request of its
  function is served by another node, the client retrying at once on each error;
- where 30 workers started at once land on 3 equal nodes (placement balance).

Usage: bench_nodes.py <esb> <venv> <benchmarks.md> <warm-n> <loss-rounds> <command>
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from bench_common import free_port, https_conn, machine, pct, start_esb_up, write_section

ESB, VENV, OUT, WARM, ROUNDS, COMMAND = sys.argv[1:7]
WARM, ROUNDS = int(WARM), int(ROUNDS)

APP = """import os, time
# A node keeps pushed code under its state dir (node-<name>/agent/artifacts/...).
NODE = next((p[5:] for p in os.path.realpath(__file__).split(os.sep) if p.startswith("node-")), "local")
def handler(event, context):
    time.sleep(event.get("seconds", 0))
    return {"node": NODE}
"""

TEMPLATE = """Globals:
  Function:
    Runtime: python3.11
    CodeUri: code
    Handler: app.handler
    Timeout: 30
Resources:
  Home:
    Type: AWS::Serverless::Function
    Metadata: {Esb: {AvoidNodeLabels: {pool: edge}}}
  Edge:
    Type: AWS::Serverless::Function
    Metadata: {Esb: {NodeLabels: {pool: edge}}}
  Spread:
    Type: AWS::Serverless::Function
    Metadata: {Esb: {NodeLabels: {pool: spread}}}
    Properties:
      ReservedConcurrentExecutions: 30
"""


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


class Node:
    """A network namespace with a veth pair: the box at .1, the node at .2."""

    def __init__(self, n, name, labels, root):
        self.n, self.name, self.labels = n, name, labels
        self.ns, self.host_if, self.peer_if = f"esbb{n}", f"esbbh{n}", f"esbbp{n}"
        self.host_ip, self.node_ip = f"10.213.{n}.1", f"10.213.{n}.2"
        self.state = os.path.join(root, f"node-{name}")
        self.agent = None
        ip("netns", "del", self.ns, check=False)
        ip("link", "del", self.host_if, check=False)
        ip("netns", "add", self.ns)
        ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.peer_if)
        ip("link", "set", self.peer_if, "netns", self.ns)
        ip("addr", "add", f"{self.host_ip}/24", "dev", self.host_if)
        ip("link", "set", self.host_if, "up")
        ip("-n", self.ns, "addr", "add", f"{self.node_ip}/24", "dev", self.peer_if)
        ip("-n", self.ns, "link", "set", self.peer_if, "up")
        ip("-n", self.ns, "link", "set", "lo", "up")
        os.makedirs(os.path.join(self.state, "runtimes"), exist_ok=True)
        link = os.path.join(self.state, "runtimes", "python")
        if not os.path.exists(link):
            os.symlink(VENV, link)

    def start_agent(self, token=None, box_port=None, extra=()):
        cmd = ["ip", "netns", "exec", self.ns, ESB, "agent", "--runtime", "process", "--name", self.name,
               "--listen", f"{self.node_ip}:50051", "--state-dir", self.state, *extra]
        if token:
            cmd += ["--join", f"https://{self.host_ip}:{box_port}", "--token", token]
        self.agent = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill_all(self):
        pids = ip("netns", "pids", self.ns, check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), 9)
            except OSError:
                pass
        if self.agent:
            self.agent.wait()
            self.agent = None

    def remove(self):
        self.kill_all()
        ip("netns", "del", self.ns, check=False)
        ip("link", "del", self.host_if, check=False)


def esb(state, *args):
    return subprocess.run([ESB, *args, "--state-dir", state], check=True, capture_output=True, text=True).stdout


def nodes_status(state):
    return {n["name"]: n for n in json.loads(esb(state, "status", "--json")).get("nodes", [])}


def wait_up(state, names, within=60):
    deadline = time.time() + within
    while time.time() < deadline:
        status = nodes_status(state)
        if all(status.get(n, {}).get("health") == "up" for n in names):
            return
        time.sleep(0.2)
    raise SystemExit(f"nodes {names} not up: {nodes_status(state)}")


def invoke(conn, function, body=b"{}"):
    t0 = time.perf_counter_ns()
    conn.request("POST", f"/2015-03-31/functions/{function}/invocations", body=body)
    resp = conn.getresponse()
    answer = resp.read()
    return time.perf_counter_ns() - t0, resp.status, answer


def warm(box):
    conn = https_conn(*box)
    samples = {"Home": [], "Edge": []}
    for f in samples:
        for _ in range(50):
            invoke(conn, f)
    for _ in range(WARM):
        for f, s in samples.items():
            ns, status, answer = invoke(conn, f)
            if status != 200:
                raise SystemExit(f"{f}: {status} {answer[:200]!r}")
            s.append(ns)
    return {f: sorted(s) for f, s in samples.items()}


def loss(box, state, edge_nodes, port):
    """Kills the node serving Edge; the time until a request is served by another."""
    times, errors = [], []
    conn = https_conn(*box)
    by_name = {n.name: n for n in edge_nodes}
    for _ in range(ROUNDS):
        wait_up(state, list(by_name))
        _, status, answer = invoke(conn, "Edge")
        victim = by_name[json.loads(answer)["node"]]
        t0 = time.perf_counter_ns()
        victim.kill_all()
        failed = 0
        while True:
            try:
                _, status, answer = invoke(conn, "Edge")
            except OSError:
                conn = https_conn(*box)
                failed += 1
                continue
            if status == 200 and json.loads(answer).get("node") not in ("", victim.name):
                break
            failed += 1
        times.append(time.perf_counter_ns() - t0)
        errors.append(failed)
        victim.start_agent()
    wait_up(state, list(by_name))
    return sorted(times), errors


def balance(box, state):
    """30 workers started at once on 3 equal nodes: how many each got."""
    threads = [threading.Thread(target=lambda: invoke(https_conn(*box), "Spread", b'{"seconds": 3}'))
               for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    status = nodes_status(state)
    return {n: status[n]["workers"].get("Spread", 0) for n in ("s1", "s2", "s3")}


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main():
    root = tempfile.mkdtemp(prefix="esb-bench-nodes-")
    nodes = []
    proc = None
    try:
        os.makedirs(os.path.join(root, "code"))
        with open(os.path.join(root, "code", "app.py"), "w") as f:
            f.write(APP)
        with open(os.path.join(root, "template.yaml"), "w") as f:
            f.write(TEMPLATE)
        nodes = [Node(81, "e1", "pool=edge", root), Node(82, "e2", "pool=edge", root),
                 Node(83, "s1", "pool=spread", root), Node(84, "s2", "pool=spread", root),
                 Node(85, "s3", "pool=spread", root)]
        state = os.path.join(root, "state")
        os.makedirs(os.path.join(state, "runtimes"))
        os.symlink(VENV, os.path.join(state, "runtimes", "python"))
        port = free_port()
        proc, ca = start_esb_up(
            [ESB, "up", "--open-invoke-api", "--template", os.path.join(root, "template.yaml"), "--state-dir", state,
             "--port", str(port), "--runtime", "process", "--s3-port", "off", "--dynamodb-port", "off",
             "--sqs-port", "off", "--cloudwatch-logs-port", "off", "--pause-idle-after", "0"], state, port, 300)
        box = (port, ca)
        for node in nodes:
            token = [w for w in esb(state, "node", "add", "--label", node.labels).split() if w.startswith("esbjoin1.")][0]
            node.start_agent(token, port, ["--memory-mb", "2048"])
        wait_up(state, [n.name for n in nodes])
        rss_idle = rss_mb(proc.pid)
        w = warm(box)
        loss_times, loss_errors = loss(box, state, nodes[:2], port)
        spread = balance(box, state)
        rss_after = rss_mb(proc.pid)
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=60)
        for node in nodes:
            node.remove()
        shutil.rmtree(root, ignore_errors=True)

    home, edge = w["Home"], w["Edge"]
    lines = [
        "## Nodes",
        "",
        f"`{COMMAND}`. {machine()} Process workers, Python 3.11; the box and every node on this "
        "machine, each node a network namespace behind a veth pair; gateway → remote agent over gRPC "
        "with mutual TLS, gateway → remote worker over HTTP/1.1 with mutual TLS on the veth (kept-alive connections).",
        "",
        "| warm invoke through the gateway | p50 ms | p99 ms |",
        "|---|---:|---:|",
        f"| worker on the box's own node | {pct(home, 50):.3f} | {pct(home, 99):.3f} |",
        f"| worker on a remote node | {pct(edge, 50):.3f} | {pct(edge, 99):.3f} |",
        f"| difference | {pct(edge, 50) - pct(home, 50):+.3f} | {pct(edge, 99) - pct(home, 99):+.3f} |",
        "",
        f"Node death → first request served by another node ({ROUNDS} rounds, the client retrying at once; a failed attempt is the request in flight "
        f"when the node died, answered `ServiceException`): "
        f"p50 {pct(loss_times, 50):.0f} ms, max {loss_times[-1] / 1e6:.0f} ms; failed attempts per round "
        f"{', '.join(map(str, loss_errors))}.",
        "",
        "Placement balance, 30 workers started at once on 3 equal nodes (2048 MB each): "
        + " / ".join(f"{n} {c}" for n, c in spread.items()) + ".",
        "",
        f"Gateway RSS: {rss_idle:.1f} MB with 5 nodes joined and idle, {rss_after:.1f} MB after the runs.",
    ]
    write_section(OUT, "## Nodes", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
