"""The gateway under concurrent load, measured with wrk against `esb up` (process
workers): throughput and latency at concurrency 1, 8 and 64 with matching reserved
concurrency, and the throttling path (ReservedConcurrentExecutions: 0 -> 429).

Usage: bench_gateway.py <esb> <venv> <python-functions> <benchmarks.md> <seconds> <command>
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

from bench_common import free_port, https_conn, machine, start_esb_up, write_section

ESB, VENV, FUNCTIONS, OUT, SECONDS, COMMAND = sys.argv[1:7]
LEVELS = (1, 8, 64)
BODY = '{"bench": true}'


def signed_lua(root, state, port, function):
    """A wrk script whose requests carry a Signature V4 made by botocore with the box's
    issued key (valid for 5 minutes, as Lambda accepts a signed request)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    values = dict(line.split(" = ", 1) for line in open(os.path.join(state, "credentials")).read().splitlines()
                  if " = " in line)
    creds = Credentials(values["aws_access_key_id"], values["aws_secret_access_key"])
    url = f"https://127.0.0.1:{port}/2015-03-31/functions/{function}/invocations"
    req = AWSRequest(method="POST", url=url, data=BODY, headers={"Content-Type": "application/json"})
    SigV4Auth(creds, "lambda", "us-east-1").add_auth(req)
    lines = ['wrk.method = "POST"', f"wrk.body = '{BODY}'"]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in req.headers.items()]
    path = os.path.join(root, f"{function}.lua")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def template(root):
    lines = ["Globals:", "  Function:", "    Runtime: python3.11", f"    CodeUri: {FUNCTIONS}",
             "    Handler: handlers.echo", "    Timeout: 10", "Resources:"]
    for c in LEVELS + (0,):
        lines += [f"  Echo{c}:", "    Type: AWS::Serverless::Function", "    Properties:",
                  f"      FunctionName: echo{c}", f"      ReservedConcurrentExecutions: {c}"]
    path = os.path.join(root, "template.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def to_ms(value):
    number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(root, state, port, function, connections):
    lua = signed_lua(root, state, port, function)
    out = subprocess.run(
        ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{SECONDS}s", "--latency", "-s", lua,
         f"https://127.0.0.1:{port}/2015-03-31/functions/{function}/invocations"],
        check=True, capture_output=True, text=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": rps, "p50": to_ms(latency["50"]), "p99": to_ms(latency["99"]), "total": total,
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "socket_errors": errors.group(0) if errors else ""}


def measure(root, path, levels, extra):
    """Runs a box (`extra`: more `esb up` flags) and measures each level, then the
    throttling path."""
    state = os.path.join(root, "state" + "".join(extra))
    os.makedirs(os.path.join(state, "runtimes"))
    os.symlink(VENV, os.path.join(state, "runtimes", "python"))
    port = free_port()
    proc, ca = start_esb_up([ESB, "up", "--template", path, "--state-dir", state, "--port", str(port),
                             "--runtime", "process", "--acquire-timeout", "10",
                             "--pause-idle-after", "0", *extra], state, port, 300)
    try:
        https_conn(port, ca).close()
        results = {}
        for c in levels:
            # Warm the pool to its size first, then measure.
            lua = signed_lua(root, state, port, f"echo{c}")
            subprocess.run(["wrk", "-t", str(min(2, c)), "-c", str(c), "-d", "3s", "-s", lua,
                            f"https://127.0.0.1:{port}/2015-03-31/functions/echo{c}/invocations"],
                           check=True, capture_output=True)
            results[c] = wrk(root, state, port, f"echo{c}", c)
        return results, wrk(root, state, port, "echo0", 8)
    finally:
        proc.terminate()
        proc.wait(timeout=120)


def main():
    root = tempfile.mkdtemp(prefix="esb-bench-gateway-")
    try:
        path = template(root)
        results, throttled = measure(root, path, LEVELS, [])
        open_results, _ = measure(root, path, (8,), ["--open-invoke-api"])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    table = [
        "## Gateway under load",
        "",
        machine(),
        f"wrk, {SECONDS} s per run after a 3 s warm-up, keep-alive HTTPS connections, 15-byte JSON event, "
        "`handlers.echo` under awslambdaric on process workers; each concurrency level against a function whose "
        "`ReservedConcurrentExecutions` equals it. Load generator and box share the 2 cores.",
        f"Command: `{COMMAND}`",
        "",
        "| concurrency | requests/s | p50 ms | p99 ms | requests | non-2xx |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for c, r in results.items():
        table.append(f"| {c} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['total']} | {r['non2xx']} |")
    table += [
        "",
        f"Throttling path (`ReservedConcurrentExecutions: 0`, every request 429 `TooManyRequestsException`, 8 "
        f"connections): {throttled['rps']:.0f} requests/s, p50 {throttled['p50']:.2f} ms, p99 {throttled['p99']:.2f} ms.",
        "",
        "Every request above is signed (Signature V4 by botocore with the box's issued key) and verified. The same "
        f"load at concurrency 8 on a box started with `--open-invoke-api` (no verification): {open_results[8]['rps']:.0f} "
        f"requests/s, p50 {open_results[8]['p50']:.2f} ms, p99 {open_results[8]['p99']:.2f} ms.",
        "",
    ]
    section = "\n".join(table)
    print(section)
    write_section(OUT, "## Gateway under load", section)


main()
