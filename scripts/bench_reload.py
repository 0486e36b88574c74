"""Hot reload and scale to zero, through `esb up --watch` on process and docker workers:
how long from saving a change to the first answer from the new code, for a Python and
a Rust (`provided.al2023`) function, and the cold start of a function whose workers were
all removed after --idle-timeout.

Reload is measured from the file write to the first answer after the box reports the
reload (idle workers of the old code are gone by then, so that answer is a new worker's);
"reloaded in" is the box's own figure (rebuild + pool swap).

Usage: bench_reload.py <esb> <rust-bootstrap> <venv> <python-functions> <benchmarks.md> <rounds> <command>
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from bench_common import free_port, https_conn, machine, pct, write_section

ESB, BOOTSTRAP, VENV, FUNCTIONS, OUT, ROUNDS, COMMAND = sys.argv[1:8]
ROUNDS = int(ROUNDS)
IDLE_TIMEOUT = 1.0
EVENTS = {"python": b'{"k": 1}', "rust": b'{"action": "echo"}'}


def make_project(root):
    shutil.copytree(FUNCTIONS, os.path.join(root, "py"), ignore=shutil.ignore_patterns("__pycache__"))
    os.makedirs(os.path.join(root, "rs"))
    shutil.copy(BOOTSTRAP, os.path.join(root, "rs", "bootstrap"))
    with open(os.path.join(root, "template.yaml"), "w") as f:
        f.write("Resources:\n"
                "  Py:\n    Type: AWS::Serverless::Function\n    Properties: {FunctionName: python, CodeUri: py, "
                "Handler: handlers.echo, Runtime: python3.11, Timeout: 10}\n"
                "  Rs:\n    Type: AWS::Serverless::Function\n    Properties: {FunctionName: rust, CodeUri: rs, "
                "Runtime: provided.al2023, Timeout: 10}\n")


def change(root, lang, n):
    """A real change of the function's files: a new line of Python, or bytes appended to
    the Rust binary (ignored by the loader, but a new image content hash)."""
    if lang == "python":
        with open(os.path.join(root, "py", "handlers.py"), "a") as f:
            f.write(f"\nRELOAD_MARK = {n}\n")
    else:
        # A running executable cannot be written (ETXTBSY): replace the file, as a
        # build that copies its output into place does.
        target = os.path.join(root, "rs", "bootstrap")
        fresh = target + ".new"
        shutil.copy(BOOTSTRAP, fresh)
        with open(fresh, "ab") as f:
            f.write(f"reload-{n}".encode())
        os.replace(fresh, target)


def invoke(conn, function):
    conn.request("POST", f"/2015-03-31/functions/{function}/invocations", body=EVENTS[function])
    resp = conn.getresponse()
    resp.read()
    if resp.status != 200:
        raise SystemExit(f"{function}: {resp.status}")


def workers(conn, function):
    conn.request("GET", "/esb/v1/status")
    resp = conn.getresponse()
    status = json.loads(resp.read())
    f = next(f for f in status["functions"] if f["name"] == function)
    return sum(f["workers"].values())


def wait_for_log(log_path, count, pattern, within=600):
    deadline = time.time() + within
    while time.time() < deadline:
        found = re.findall(pattern, open(log_path).read())
        if len(found) >= count:
            return found
        time.sleep(0.005)
    raise SystemExit(f"no '{pattern}' #{count} in {log_path}")


def measure(runtime):
    root = tempfile.mkdtemp(prefix=f"esb-bench-reload-{runtime}-")
    try:
        make_project(root)
        state = os.path.join(root, ".esb")
        os.makedirs(os.path.join(state, "runtimes"))
        os.symlink(VENV, os.path.join(state, "runtimes", "python"))
        port = free_port()
        log_path = os.path.join(root, "box.log")
        log = open(log_path, "w")
        # Unsigned clients: this measures reloads; bench-gateway.sh measures Signature V4.
        cmd = [ESB, "up", "--watch", "--open-invoke-api", "--template", os.path.join(root, "template.yaml"),
               "--port", str(port), "--runtime", runtime, "--idle-timeout", str(IDLE_TIMEOUT),
               "--pause-idle-after", "0", "--standby-workers", "0"]
        proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        try:
            start_esb_up_wait(state, port, proc)
            conn = https_conn(port, os.path.join(state, "certs", "ca.pem"))
            results = {}
            reloads = 0
            for lang in ("python", "rust"):
                invoke(conn, lang)
                total, reported, cold = [], [], []
                for n in range(ROUNDS):
                    invoke(conn, lang)
                    t0 = time.perf_counter_ns()
                    change(root, lang, n)
                    reloads += 1
                    lines = wait_for_log(log_path, reloads, r"reloaded (\w+) in (\d+) ms")
                    invoke(conn, lang)
                    total.append(time.perf_counter_ns() - t0)
                    reported.append(int(lines[-1][1]) * 1_000_000)
                for _ in range(ROUNDS):
                    invoke(conn, lang)
                    while workers(conn, lang) > 0:
                        time.sleep(0.05)
                    t0 = time.perf_counter_ns()
                    invoke(conn, lang)
                    cold.append(time.perf_counter_ns() - t0)
                results[lang] = (sorted(total), sorted(reported), sorted(cold))
            conn.close()
            return results
        finally:
            proc.terminate()
            proc.wait(timeout=120)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def start_esb_up_wait(state, port, proc):
    deadline = time.time() + 900
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit("esb up stopped")
        if os.path.exists(os.path.join(state, "box.json")):
            return
        time.sleep(0.05)
    raise SystemExit("esb up did not serve")


def main():
    rows = []
    for runtime in ("process", "docker"):
        for lang, (total, reported, cold) in measure(runtime).items():
            rows.append(f"| {runtime} | {lang} | {pct(total, 50):.0f} | {pct(total, 90):.0f} | "
                        f"{pct(reported, 50):.0f} | {pct(cold, 50):.1f} | {pct(cold, 90):.1f} |")
    section = "\n".join([
        "## Hot reload and scale to zero",
        "",
        machine(),
        f"`esb up --watch`, {ROUNDS} changes per function, each measured from the file write to the first answer "
        "of the new code (the box's watcher settles 200 ms of events first; with docker workers the function's image "
        "is rebuilt). \"reported\" is the box's own \"reloaded in\" figure. Cold start after scale to zero: the "
        f"function's last worker removed after `--idle-timeout {IDLE_TIMEOUT:g}`, then one invoke (no standby "
        "containers: `--standby-workers 0`).",
        f"Command: `{COMMAND}`",
        "",
        "| runtime | function | reload p50 ms | reload p90 ms | reported p50 ms | cold after scale-to-zero p50 ms | p90 ms |",
        "|---|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
    ])
    print(section)
    write_section(OUT, "## Hot reload and scale to zero", section)


main()
