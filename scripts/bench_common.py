"""What the benchmark scripts share: ports, percentiles, machine description, a box's
credentials and endpoints, and replacing one section of docs/benchmarks.md."""
import datetime
import http.client
import json
import os
import platform
import signal
import socket
import ssl
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(sorted_samples, p):
    """The p-th percentile of nanosecond samples, in milliseconds."""
    return sorted_samples[min(len(sorted_samples) - 1, int(len(sorted_samples) * p / 100))] / 1e6


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    return f"Measured {datetime.date.today()} on {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}."


def write_section(path, heading, section):
    """Replaces the section headed `heading` in `path` (or appends it)."""
    text = open(path).read() if os.path.exists(path) else (
        "# Benchmarks\n\nFigures written by the scripts under scripts/bench-*.sh; "
        "each compares ESB with a peer measured in the same run.\n")
    start = text.find(heading)
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section.rstrip("\n") + "\n\n" + (text[end + 1:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text.rstrip("\n") + "\n")


def start_esb_up(command, state, port, within, env=None, stderr=None):
    """Starts `esb up` (`command`) and waits until it answers HTTPS on `port`;
    returns the process and the box CA. `stderr`: a file for its log (else dropped)."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr or subprocess.DEVNULL,
                            env=env)
    ca = os.path.join(state, "certs", "ca.pem")
    deadline = time.time() + within
    while True:
        try:
            if os.path.exists(ca):
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return proc, ca
        except OSError:
            pass
        if time.time() > deadline or proc.poll() is not None:
            raise SystemExit(f"{' '.join(command[:2])} did not start")
        time.sleep(0.05)


def timed_invoke(conn, function, body):
    """One Invoke API call on a kept-alive connection: (nanoseconds, request id); a
    non-200 answer or a function error ends the benchmark."""
    t0 = time.perf_counter_ns()
    conn.request("POST", f"/2015-03-31/functions/{function}/invocations", body=body)
    resp = conn.getresponse()
    answer = resp.read()
    elapsed = time.perf_counter_ns() - t0
    if resp.status != 200 or resp.getheader("X-Amz-Function-Error"):
        raise SystemExit(f"{function}: {resp.status} {answer[:300]!r}")
    return elapsed, resp.getheader("x-amzn-RequestId")


def https_conn(port, ca):
    """A kept-alive HTTPS connection to the box, trusting its CA, without Nagle delays."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ssl.create_default_context(cafile=ca))
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def proc_status(pid):
    """VmRSS and VmHWM of a process, in MB."""
    out = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            out[k] = int(v.split()[0]) / 1024
    return out


def stop(proc):
    """SIGTERM, then SIGKILL after a minute."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def box_credentials(state):
    """The key pair of the box whose state dir is `state`: (access key id, secret)."""
    values = dict(line.split(" = ", 1) for line in open(os.path.join(state, "credentials")).read().splitlines()
                  if " = " in line)
    return values["aws_access_key_id"], values["aws_secret_access_key"]


def box_url(state, key, proc, within=60):
    """The endpoint `key` (`sqs_url`, `dynamodb_url`...) the box records in box.json,
    once it has written it; SystemExit if it does not within `within` s or exits."""
    deadline = time.time() + within
    while True:
        try:
            url = json.load(open(os.path.join(state, "box.json"))).get(key)
        except (OSError, ValueError):
            url = None
        if url is not None:
            return url
        if time.time() > deadline or proc.poll() is not None:
            raise SystemExit(f"no {key} in {state}/box.json")
        time.sleep(0.1)


def version_of(python, module):
    """`module.__version__` as `python` imports it, or "?"."""
    return subprocess.run([python, "-c", f"import {module}; print({module}.__version__)"],
                          capture_output=True, text=True).stdout.strip() or "?"
