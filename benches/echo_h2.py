#!/usr/bin/env python3
"""ws13 over HTTP/2 against ws13 over HTTP/1.1: the server's CPU time per
echoed message, in the style of benches/echo.py (loopback only).

One server for both: the axum_app example (axum + ws13's extractor), which
speaks HTTP/1.1 and h2c on one port. The load client is
src/bin/echo_load_h2.rs, the ws13 client in both cases: with HTTP/2 its
--conns WebSockets are streams of one h2c connection (RFC 8441); with
HTTP/1.1 each has its own TCP connection. Every round restarts the server
and runs HTTP/1.1 and HTTP/2 interleaved (the order alternating by round)
for every configuration; the table shows medians with min-max over the
rounds.

    python3 benches/echo_h2.py                  # 5 rounds, about 3 minutes
    python3 benches/echo_h2.py --rounds 1 --secs 1
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

from common import REL, ROOT, TARGET, fmt_range, run_load, start_servers, stop_servers
SERVER = os.path.join(REL, "examples", "axum_app")
CLIENT = os.path.join(REL, "echo_load_h2")
PORT = 9301
CONFIGS = [(16, 16, 8), (1024, 16, 8), (65536, 16, 8)]


def build():
    env = dict(os.environ, CARGO_TARGET_DIR=TARGET)
    subprocess.run(["cargo", "build", "--release", "-q", "--features", "axum,tls",
                    "--example", "axum_app"], cwd=ROOT, check=True, env=env)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "ws13-benches",
                    "--features", "http2", "--bin", "echo_load_h2"],
                   cwd=ROOT, check=True, env=env)


def load(http, pid, size, conns, inflight, secs, warmup):
    cmd = [CLIENT, "--addr", f"127.0.0.1:{PORT}", "--path", "/ws", "--http", str(http),
           "--pid", str(pid), "--size", str(size), "--conns", str(conns),
           "--inflight", str(inflight), "--secs", str(secs), "--warmup", str(warmup)]
    return run_load(cmd, f"HTTP/{http}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--secs", type=float, default=2.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--no-build", action="store_true")
    args = ap.parse_args()
    if not args.no_build:
        build()
    print(f"# ws13 over HTTP/2 vs HTTP/1.1, {time.strftime('%Y-%m-%d %H:%M %Z')}, "
          f"load {open('/proc/loadavg').read().split()[:3]}, {os.cpu_count()} CPUs")
    results = {}
    for rnd in range(args.rounds):
        server = start_servers([("axum_app", [SERVER], PORT)])["axum_app"]
        try:
            order = [1, 2] if rnd % 2 == 0 else [2, 1]
            for size, conns, inflight in CONFIGS:
                for http in order:
                    r = load(http, server.pid, size, conns, inflight, args.secs, args.warmup)
                    if r is not None:
                        results.setdefault((size, conns, inflight), {}).setdefault(http, []).append(r)
        finally:
            stop_servers({"axum_app": server})
        print(f"round {rnd + 1}/{args.rounds} done", file=sys.stderr, flush=True)

    print(f"\n## ws13 over HTTP/2 (RFC 8441) vs HTTP/1.1: axum_app (axum + ws13), "
          f"ws13 client; medians of {args.rounds} interleaved rounds (min–max); "
          f"{args.secs:g} s per run after {args.warmup:g} s warm-up\n")
    print("| size | WebSockets × in flight | HTTP | messages/s | server CPU ns/message "
          "(schedstat) | server CPU ns/message (stat) | ratio to HTTP/1.1 |")
    print("|---:|---|---|---:|---:|---:|---:|")
    for (size, conns, inflight), by_http in results.items():
        base = statistics.median(r["server_ns_per_msg"] for r in by_http.get(1, [])) \
            if by_http.get(1) else None
        for http in (1, 2):
            runs = by_http.get(http)
            if not runs:
                continue
            cpu = [r["server_ns_per_msg"] for r in runs]
            ratio = f"{statistics.median(cpu) / base:.2f}" if base else "–"
            label = "1.1 (one TCP each)" if http == 1 else "2 (one h2c connection)"
            print(f"| {size} B | {conns} × {inflight} | {label} | "
                  f"{fmt_range([r['msgs_per_s'] for r in runs], 0)} | {fmt_range(cpu, 0)} | "
                  f"{fmt_range([r['server_stat_ns_per_msg'] for r in runs], 0)} | {ratio} |")


if __name__ == "__main__":
    main()
