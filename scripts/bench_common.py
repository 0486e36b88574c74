"""What the benchmark scripts share: ports, percentiles, machine description, and
replacing one section of docs/benchmarks.md."""
import datetime
import os
import platform
import socket


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
        text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(text.rstrip("\n") + "\n")
