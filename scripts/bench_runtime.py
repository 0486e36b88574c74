"""Worker runtimes compared through the whole `esb up` path (client -> HTTPS gateway
Invoke API -> pool -> worker): cold start, resume from pause and warm latency, process
vs docker vs containerd, for a Python function and a Rust `provided.al2023` function,
and where a containerd cold start spends its time (the agent logs each phase).

Cold start: K identical functions per language, each invoked once, a second apart (no
worker exists yet, the image is built and present). Standby: a second worker of each function, started
while the first is busy, once the docker runtime has a paused standby ready for it.
Resume: the box pauses idle workers after PAUSE_AFTER s; the client waits past that,
then invokes. Warm: back-to-back invokes.

Usage: bench_runtime.py <esb> <rust-bootstrap> <venv> <python-functions> <benchmarks.md>
                        <cold-k> <warm-n> <resume-n> <command>
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from bench_common import free_port, https_conn as connect, machine, pct, start_esb_up, timed_invoke, write_section

ESB, BOOTSTRAP, VENV, FUNCTIONS, OUT, COLD, WARM, RESUME, COMMAND = sys.argv[1:10]
COLD, WARM, RESUME = int(COLD), int(WARM), int(RESUME)
PAUSE_AFTER = 0.3
COLD_GAP = 1.0
LANGS = {"python": b'{"seconds": 0}', "rust": b'{"action": "echo", "bench": true}'}
BUSY = {"python": b'{"seconds": 2}', "rust": b'{"action": "sleep", "seconds": 2}'}
# BENCH_RUNTIMES=containerd measures one runtime alone (for tuning; the table in
# docs/benchmarks.md always comes from a run of all three).
RUNTIMES = tuple(os.environ.get("BENCH_RUNTIMES", "process,docker,containerd,containerd-bare").split(","))
# What each row runs: `containerd-bare` is containerd with nothing prepared ahead
# (`--standby-workers 0`), so every start is made from scratch and its phases show.
CONFIGS = {
    "process": ["--runtime", "process"],
    "docker": ["--runtime", "docker"],
    "containerd": ["--runtime", "containerd"],
    "containerd-bare": ["--runtime", "containerd", "--standby-workers", "0"],
}
# The containerd runtime's phases of a start from scratch, as its agent logs them.
PHASES = ("network", "snapshot", "container", "task_create", "task_start", "ready")


def make_project(root):
    shutil.copytree(FUNCTIONS, os.path.join(root, "py"))
    os.makedirs(os.path.join(root, "rs"))
    shutil.copy(BOOTSTRAP, os.path.join(root, "rs", "bootstrap"))
    lines = ["Resources:"]
    for i in range(COLD):
        lines += [f"  Py{i}:", "    Type: AWS::Serverless::Function", "    Properties:",
                  f"      FunctionName: python{i}", "      CodeUri: py", "      Handler: handlers.sleep",
                  "      Runtime: python3.11", "      Timeout: 10",
                  f"  Rs{i}:", "    Type: AWS::Serverless::Function", "    Properties:",
                  f"      FunctionName: rust{i}", "      CodeUri: rs", "      Runtime: provided.al2023",
                  "      Timeout: 10"]
    with open(os.path.join(root, "template.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")


def build_images(root):
    subprocess.run([ESB, "build", "--template", os.path.join(root, "template.yaml")], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_box(root, runtime):
    """The box of configuration `runtime` (a key of CONFIGS)."""
    state = os.path.join(root, f"state-{runtime}")
    os.makedirs(os.path.join(state, "runtimes"))
    os.symlink(VENV, os.path.join(state, "runtimes", "python"))
    port = free_port()
    t0 = time.time()
    # Unsigned clients: this measures workers; bench-gateway.sh measures Signature V4.
    env = dict(os.environ, ESB_LOG="info,s3s=off,dynoxide=error,esb_agent::runtime::containerd=debug")
    log = open(os.path.join(root, f"{runtime}.log"), "w")
    proc, ca = start_esb_up(
        [ESB, "up", "--open-invoke-api", "--template", os.path.join(root, "template.yaml"), "--state-dir", state,
         "--port", str(port), *CONFIGS[runtime], "--pause-idle-after", str(PAUSE_AFTER)], state, port, 900,
        env=env, stderr=log)
    return proc, (port, ca), time.time() - t0


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def phases(root):
    """Each containerd start from scratch's phases (ms), by function, from the agent's log."""
    out = {}
    with open(os.path.join(root, "containerd-bare.log")) as f:
        for line in f:
            if "containerd worker started" not in line:
                continue
            worker = re.search(r'worker="?([^"\s]+)', line)
            fields = dict(re.findall(r"(\w+)_ms=([\d.]+)", line))
            if worker and all(p in fields for p in PHASES):
                out[worker.group(1)] = {p: float(fields[p]) for p in PHASES}
    return out


def invoke(conn, function, body):
    return timed_invoke(conn, function, body)[0]


def cold_start(conn, function, body):
    """A first worker's invoke, after a quiet second: each cold start stands alone, as
    a function's first request does, not behind the background work (ready namespaces,
    standbys) the previous one set off."""
    time.sleep(COLD_GAP)
    return invoke(conn, function, body)


def second_worker(box, function, lang):
    """Time an invoke that needs a second worker: the first is kept busy meanwhile."""
    busy = threading.Thread(target=lambda: invoke(connect(*box), function, BUSY[lang]))
    busy.start()
    time.sleep(0.3)
    elapsed = invoke(connect(*box), function, LANGS[lang])
    busy.join()
    return elapsed


def measure(box):
    conn = connect(*box)
    cold = {lang: sorted(cold_start(conn, f"{lang}{i}", body) for i in range(COLD)) for lang, body in LANGS.items()}
    # The docker runtime prepares standbys once no worker has started for a moment.
    time.sleep(2 * COLD + 2)
    out = {}
    for lang, body in LANGS.items():
        name = lang
        second = sorted(second_worker(box, f"{name}{i}", lang) for i in range(COLD))
        time.sleep(2)
        # A fresh kept-alive connection: the gateway closes ones idle this long.
        conn = connect(*box)
        warm = sorted(invoke(conn, f"{name}0", body) for _ in range(WARM))
        resume = []
        for _ in range(RESUME):
            invoke(conn, f"{name}0", body)
            time.sleep(PAUSE_AFTER * 2 + 0.1)
            resume.append(invoke(conn, f"{name}0", body))
        out[lang] = {"cold": cold[lang], "second": second, "warm": warm, "resume": sorted(resume)}
    return out


def row(runtime, lang, s):
    c, n, w, r = s["cold"], s["second"], s["warm"], s["resume"]
    return (f"| {runtime} | {lang} | {pct(c, 50):.1f} | {pct(c, 90):.1f} | {pct(n, 50):.1f} | {pct(n, 90):.1f} "
            f"| {pct(r, 50):.2f} | {pct(r, 90):.2f} | {pct(w, 50):.3f} | {pct(w, 99):.3f} |")


def main():
    root = tempfile.mkdtemp(prefix="esb-bench-runtime-")
    results, startup = {}, {}
    try:
        make_project(root)
        build_images(root)
        for runtime in RUNTIMES:
            proc, box, startup[runtime] = start_box(root, runtime)
            try:
                results[runtime] = measure(box)
            finally:
                proc.terminate()
                proc.wait(timeout=120)
        started = phases(root) if "containerd-bare" in RUNTIMES else {}
    finally:
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    table = [
        "## Worker runtimes: cold start, resume, warm",
        "",
        machine(),
        "Whole path: client -> HTTPS gateway Invoke API -> pool -> worker. Cold: the first invoke of each of "
        f"{COLD} identical functions per language, {COLD_GAP:.0f} s apart (no worker yet; images already built, and "
        "imported into containerd by `esb up`). Second worker: "
        "an invoke that needs a new worker because the first is busy (docker: the function's standby container is promoted; "
        "containerd: the function's created, unstarted standby task is started; process: a new process). Resume: the "
        f"first invoke after the idle worker was paused (`--pause-idle-after {PAUSE_AFTER}`), {RESUME} samples. "
        f"Warm: {WARM} back-to-back invokes. Python: `handlers.sleep` (0 s) under awslambdaric; Rust: the "
        "`lambda_runtime` fixture. Docker: Debian docker.io 20.10, overlay2, cgroup v1, workers reached by container IP. "
        "containerd: Debian containerd 1.6.20 and runc 1.1.5, overlayfs snapshotter, CNI bridge, one runc shim per box; "
        "its first worker of each function is a task created (not started) when the gateway began serving the function. "
        "containerd-bare: the same with `--standby-workers 0`, every worker made from scratch.",
        f"Command: `{COMMAND}`",
        "",
        "| runtime | function | cold p50 ms | cold p90 ms | second worker p50 ms | second worker p90 ms "
        "| resume p50 ms | resume p90 ms | warm p50 ms | warm p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for runtime in RUNTIMES:
        for lang in LANGS:
            table.append(row(runtime, lang, results[runtime][lang]))
    table += ["", "Box start to first HTTPS answer (images built; the run's first containerd box also "
              "imports into containerd whatever images changed since the last run, in one `docker save`): "
              + ", ".join(f"{r} {startup[r]:.2f} s" for r in RUNTIMES) + ".", ""]
    table += ["### Where a containerd cold start goes", "",
              "The agent's own timing of each first worker made from scratch (the `containerd-bare` box: "
              "`--standby-workers 0`, nothing prepared), p50 over the cold functions; "
              "`ready` runs from the task's start until the worker's `esb rie` answers. The rest of the cold "
              "figure above is the gateway, the runtime's init and the invocation itself.", "",
              "| function | " + " | ".join(f"{p} ms" for p in PHASES) + " | agent total ms | cold p50 ms |",
              "|---|" + "---:|" * (len(PHASES) + 2)]
    for lang in LANGS:
        samples = [v for k, v in started.items() if k.startswith(lang)]
        if not samples:
            continue
        med = {p: median(s[p] for s in samples) for p in PHASES}
        total = median(sum(s.values()) for s in samples)
        table.append(f"| {lang} | " + " | ".join(f"{med[p]:.1f}" for p in PHASES)
                     + f" | {total:.1f} | {pct(results['containerd-bare'][lang]['cold'], 50):.1f} |")
    table.append("")
    section = "\n".join(table)
    print(section)
    write_section(OUT, "## Worker runtimes: cold start, resume, warm", section)


main()
