#!/usr/bin/env python3
"""User-space instructions per echoed message, counted by valgrind's callgrind:
ws13's async_echo against the three peer echo servers of benches/echo.py
and the no-protocol floor (src/bin/echo_floor.rs).

CPU time per echo on a shared 2-core VM moves by 10-20% from run to run, and
most of it is the kernel's. The instruction count of the server process (all
of its user-space code: the library, tokio, libc) is exact and repeatable,
so it shows what a change to the library's own per-message work is worth.
One caveat: valgrind counts every iteration of a `rep`-prefixed string
instruction, so a server whose `memset`/`memcpy` goes through `rep stosb` or
`rep movsb` (glibc does for large blocks) scores one instruction per byte
there (tokio-tungstenite zero-fills a 128 KiB read buffer per read).
Every server runs on a current-thread runtime under callgrind (which
serialises threads anyway); the load client runs natively, `--warmup 0`, and
its message count over the run is the denominator. The count includes the
server's start and the handshakes, under 1% of a 6-second run.

    python3 benches/echo_instructions.py             # 4 servers and the floor x 3 configurations, about 4 minutes
    python3 benches/echo_instructions.py --secs 3 --only ws13

Needs valgrind (`apt install valgrind`).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

from echo import FLOOR, REL, SERVERS, build

CONFIGS = [(16, 16, 1), (16, 16, 8), (1024, 16, 8)]


def instructions(cmd, port, size, conns, inflight, secs):
    """(instructions, messages) for one server process and one load run."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        server = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
            + cmd + ["--addr", f"127.0.0.1:{port}", "--threads", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)  # valgrind starts slowly
        if server.poll() is not None:
            sys.exit(f"{cmd[0]} exited at start (port {port} in use?)")
        load = subprocess.run(
            [os.path.join(REL, "echo_load"), "--addr", f"127.0.0.1:{port}",
             "--size", str(size), "--conns", str(conns), "--inflight", str(inflight),
             "--secs", str(secs), "--warmup", "0"],
            capture_output=True, text=True, timeout=120)
        server.send_signal(2)  # SIGINT: every server exits and callgrind writes its file
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        lines = [l for l in load.stdout.splitlines() if l.startswith("{")]
        if load.returncode != 0 or not lines or not os.path.exists(out):
            sys.exit(f"run failed: {load.stderr.strip()[:300]}")
        messages = json.loads(lines[-1])["messages"]
        with open(out) as f:
            total = next(int(m.group(1)) for line in f
                         if (m := re.match(r"^(?:summary|totals): (\d+)", line)))
        return total, messages


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--secs", type=float, default=6.0)
    ap.add_argument("--only", help="measure only this server (e.g. ws13)")
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    if not args.no_build:
        build()
    servers = [s for s in SERVERS + [FLOOR] if args.only in (None, s[0])]
    print(f"# user-space instructions per echo (callgrind), {time.strftime('%Y-%m-%d %H:%M %Z')}, "
          "every server on a current-thread runtime\n")
    print("| size | connections | in flight | " + " | ".join(s[0] for s in servers) + " |")
    print("|---:|---:|---:|" + "---:|" * len(servers))
    for size, conns, inflight in CONFIGS:
        cells = []
        for name, cmd, port in servers:
            total, messages = instructions(cmd, port + 100, size, conns, inflight, args.secs)
            cells.append(f"{total / messages:,.0f}")
        print(f"| {size} B | {conns} | {inflight} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
