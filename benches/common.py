"""What the benchmark scripts share: where the binaries are, starting and
stopping servers on loopback ports, running a load client that prints one
JSON line, and the median (min-max) format of the tables.

Every wait is bounded: servers get 0.5 s to start and 5 s to stop, a load
client 120 s (or the caller's timeout) to finish.
"""

import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
REL = os.path.join(TARGET, "release")


def start_servers(servers, extra=None):
    """Starts each (name, command, port) with `--addr 127.0.0.1:PORT` and the
    `extra` arguments; exits if one of them dies at start. Returns the
    processes by name."""
    procs = {}
    for name, cmd, port in servers:
        procs[name] = subprocess.Popen(
            cmd + ["--addr", f"127.0.0.1:{port}"] + (extra or []),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    for name, p in procs.items():
        if p.poll() is not None:
            stop_servers(procs)
            sys.exit(f"server {name} exited at start")
    return procs


def stop_servers(procs):
    """SIGTERM, then SIGKILL whatever has not exited within 5 s."""
    for p in procs.values():
        p.terminate()
    for p in procs.values():
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()


def run_load(cmd, what, timeout=120):
    """Runs a load client and returns its last JSON line as a dict, or None
    (with the reason on stderr) if it failed."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"  load client timed out ({what})", file=sys.stderr)
        return None
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if out.returncode != 0 or not lines:
        print(f"  load client failed ({what}): {out.stderr.strip()[:300]}", file=sys.stderr)
        return None
    return json.loads(lines[-1])


def fmt_range(values, digits):
    """`median (min–max)` with `digits` decimals."""
    med = statistics.median(values)
    return f"{med:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"
