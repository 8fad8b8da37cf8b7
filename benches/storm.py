#!/usr/bin/env python3
"""The connection-storm benchmark: every client reconnecting at once.

Starts ws13's async_echo example and the echo servers of tungstenite
(tokio-tungstenite), fastwebsockets, tokio-websockets, sockudo-ws and yawc
(benches/src/bin; the sockudo-ws and yawc servers are the deflate echo
servers, which serve plain WebSockets to clients that offer no deflate, as
here), all on the same runtime (a current-thread runtime by default). Then,
for --rounds rounds with fresh servers visited in a rotated order, the load
client (src/bin/storm_load.rs) opens --total connections, --parallel at a
time, each: TCP connect, handshake with a browser's head, one 16-byte echo,
closing handshake. Prints per server the median (min-max) connections per
second and server CPU time per connection (kernel and user), the user-space
share of the server's CPU time, and the ratio of CPU per connection to the
best peer's. Plain TCP only (no TLS rows yet).

    python3 benches/storm.py                    # 3 rounds of 10 000 connections
    python3 benches/storm.py --rounds 1 --total 2000
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
REL = os.path.join(TARGET, "release")

SERVERS = [
    ("ws13", [os.path.join(REL, "examples", "async_echo")], 9401),
    ("tokio-tungstenite", [os.path.join(REL, "echo_tungstenite")], 9402),
    ("fastwebsockets", [os.path.join(REL, "echo_fastwebsockets")], 9403),
    ("tokio-websockets", [os.path.join(REL, "echo_tokio_websockets")], 9404),
    ("sockudo-ws", [os.path.join(REL, "echo_sockudo_deflate")], 9405),
    ("yawc", [os.path.join(REL, "echo_yawc_deflate")], 9406),
]
PEERS = [s[0] for s in SERVERS[1:]]


def build():
    env = dict(os.environ, CARGO_TARGET_DIR=TARGET)
    subprocess.run(["cargo", "build", "--release", "-q", "--example", "async_echo",
                    "--features", "tokio,libdeflate"], cwd=ROOT, check=True, env=env)
    bins = ["storm_load", "echo_tungstenite", "echo_fastwebsockets", "echo_tokio_websockets",
            "echo_sockudo_deflate", "echo_yawc_deflate"]
    cmd = ["cargo", "build", "--release", "-q", "-p", "ws13-benches"]
    for b in bins:
        cmd += ["--bin", b]
    subprocess.run(cmd, cwd=ROOT, check=True, env=env)


def start(servers, threads):
    procs = {}
    for name, cmd, port in servers:
        procs[name] = subprocess.Popen(
            cmd + ["--addr", f"127.0.0.1:{port}", "--threads", str(threads)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    for name, p in procs.items():
        if p.poll() is not None:
            sys.exit(f"server {name} exited at start")
    return procs


def stop(procs):
    for p in procs.values():
        p.terminate()
    for p in procs.values():
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()


def storm(port, pid, total, parallel):
    cmd = [os.path.join(REL, "storm_load"), "--addr", f"127.0.0.1:{port}", "--pid", str(pid),
           "--total", str(total), "--parallel", str(parallel)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        print(f"  storm client timed out on port {port}", file=sys.stderr)
        return None
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if out.returncode != 0 or not lines:
        print(f"  storm client failed on port {port}: {out.stderr.strip()[:300]}", file=sys.stderr)
        return None
    return json.loads(lines[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--total", type=int, default=10000)
    ap.add_argument("--parallel", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1,
                    help="runtime threads for every server (1: current-thread)")
    ap.add_argument("--ws13", help="another async_echo binary to measure as ws13")
    ap.add_argument("--compare", metavar="BIN",
                    help="an async_echo binary of another ws13 commit, as 'ws13-before'")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--raw", default=os.path.join(TARGET, "storm-raw.jsonl"))
    args = ap.parse_args()

    if not args.no_build:
        build()
    servers = list(SERVERS)
    if args.ws13:
        servers[0] = ("ws13", [args.ws13], servers[0][2])
    if args.compare:
        servers.append(("ws13-before", [args.compare], 9407))
    print(f"# connection storm, {time.strftime('%Y-%m-%d %H:%M %Z')}, "
          f"load {open('/proc/loadavg').read().split()[:3]}, {args.total} connections, "
          f"{args.parallel} at a time, {args.rounds} interleaved rounds, threads {args.threads}")
    results = {}
    started = time.time()
    with open(args.raw, "w") as raw:
        for rnd in range(args.rounds):
            procs = start(servers, args.threads)
            order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
            try:
                for name, _, port in order:
                    r = storm(port, procs[name].pid, args.total, args.parallel)
                    if r is None:
                        continue
                    r["server"], r["round"] = name, rnd
                    raw.write(json.dumps(r) + "\n")
                    results.setdefault(name, []).append(r)
            finally:
                stop(procs)
            print(f"round {rnd + 1}/{args.rounds} done at {time.time() - started:.0f} s",
                  file=sys.stderr, flush=True)

    def med(name, key):
        return statistics.median(r[key] for r in results[name])

    def cell(name, key, digits):
        v = [r[key] for r in results[name]]
        return f"{med(name, key):.{digits}f} ({min(v):.{digits}f}–{max(v):.{digits}f})"

    best = min((med(p, "server_cpu_us_per_conn") for p in PEERS if p in results),
               default=None)
    print("\n| server | connections/s | server CPU µs per connection | user-space share "
          "| user-space µs per connection | CPU / best peer's |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, _, _ in servers:
        if name not in results:
            print(f"| {name} | failed | | | | |")
            continue
        cpu = med(name, "server_cpu_us_per_conn")
        user = med(name, "server_user_share")
        ratio = f"{cpu / best:.2f}" if best else "–"
        print(f"| {name} | {cell(name, 'conns_per_s', 0)} | "
              f"{cell(name, 'server_cpu_us_per_conn', 1)} | {user:.2f} | {cpu * user:.1f} | "
              f"{ratio} |")


if __name__ == "__main__":
    main()
