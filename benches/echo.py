#!/usr/bin/env python3
"""The echo load benchmark: ws13's async_echo example against echo servers on
tokio-tungstenite, fastwebsockets and tokio-websockets, over loopback only.

Builds everything (release), starts the four servers, measures idle-connection
memory (VmRSS growth for --idle connections, servers fresh), then runs the
load client against the servers interleaved (A B C D, the order rotated and
the server processes restarted each round) for every configuration, --rounds
times, and prints per configuration the median with min-max of messages/s
and of the server's CPU time per message, the median p50/p99 latency, and
the ratio of each server's CPU per message to the best peer's. Raw results
go to --raw (JSON lines).

    python3 benches/echo.py                 # the full run, about 12 minutes
    python3 benches/echo.py --rounds 1 --secs 1 --quick
    python3 benches/echo.py --threads 1 --inflight-only --idle 0
    python3 benches/echo.py --floor         # with the no-protocol floor, about 15 minutes
    python3 benches/echo.py --threads 1 --floor --uring --sizes 16,1024 --conns 16,128 --idle 0
                                            # with the io_uring floor beside them

With --threads N every server runs on the same runtime: N tokio worker
threads, or a current-thread runtime for N = 1 (the shape of uWebSockets'
single-threaded event loop). Without it, each uses tokio's default
multi-thread runtime.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from common import REL, ROOT, TARGET, fmt_range, run_load, stop_servers  # noqa: F401
from common import start_servers as start_with

SERVERS = [
    ("ws13", [os.path.join(REL, "examples", "async_echo")], 9201),
    ("tokio-tungstenite", [os.path.join(REL, "echo_tungstenite")], 9202),
    ("fastwebsockets", [os.path.join(REL, "echo_fastwebsockets")], 9203),
    ("tokio-websockets", [os.path.join(REL, "echo_tokio_websockets")], 9204),
]
PEERS = ["tokio-tungstenite", "fastwebsockets", "tokio-websockets"]
# Not a WebSocket server: the same system calls with no protocol work (see
# src/bin/echo_floor.rs). With --floor it runs as a fifth server, outside the
# idle-memory table, and shows the lowest ratio to the best peer that any
# server on tokio could reach.
FLOOR = ("floor", [os.path.join(REL, "echo_floor")], 9205)
# With --uring: echo_floor's no-protocol echo on compio's io_uring runtime,
# one thread (src/bin/echo_floor_uring.rs), outside the idle-memory table.
# (Issue 19 also ran ws13's io_uring driver here as "ws13-uring"; by its
# decision rule the driver was not kept: benches/RESULTS.md.)
URING = [
    ("floor-uring", [os.path.join(REL, "echo_floor_uring")], 9208),
]


def configs(quick, inflight_only, sizes=None, conns=None):
    sizes = sizes or [16, 1024, 65536]
    conns = conns or ([1, 16] if quick else [1, 16, 128])
    out = [] if inflight_only else [(s, c, 1) for s in sizes for c in conns]
    out += [(s, 16, 8) for s in sizes]
    return out


def build():
    env = dict(os.environ, CARGO_TARGET_DIR=TARGET)
    subprocess.run(["cargo", "build", "--release", "-q", "--features", "tokio",
                    "--example", "async_echo"], cwd=ROOT, check=True, env=env)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "ws13-benches", "--bins"],
                   cwd=ROOT, check=True, env=env)


def start_servers(servers, threads):
    return start_with(servers, ["--threads", str(threads)] if threads else [])


# Extra load-client flags by server port (benches/echo_axum.py: --h2).
LOAD_FLAGS = {}


def load(port, pid, size, conns, inflight, secs, warmup, idle=0):
    cmd = [os.path.join(REL, "echo_load"), "--addr", f"127.0.0.1:{port}", "--pid", str(pid)]
    cmd += LOAD_FLAGS.get(port, [])
    if idle:
        cmd += ["--idle", str(idle)]
    else:
        cmd += ["--size", str(size), "--conns", str(conns), "--inflight", str(inflight),
                "--secs", str(secs), "--warmup", str(warmup)]
    return run_load(cmd, f"port {port}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--secs", type=float, default=2.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--idle", type=int, default=10000,
                    help="idle connections for the memory figure (0: skip)")
    ap.add_argument("--quick", action="store_true", help="skip the 128-connection rows")
    ap.add_argument("--inflight-only", action="store_true",
                    help="only the rows with 8 messages in flight")
    ap.add_argument("--threads", type=int, default=0,
                    help="runtime threads for every server (1: current-thread; default: tokio's)")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--ws13", help="another async_echo binary to measure as ws13")
    ap.add_argument("--compare", metavar="BIN",
                    help="an async_echo binary of another ws13 commit, measured beside ws13 "
                         "as 'ws13-before' in the same interleaved rounds")
    ap.add_argument("--no-peers", action="store_true",
                    help="leave out the peers' servers (with --compare: a before/after run)")
    ap.add_argument("--floor", action="store_true",
                    help="also run echo_floor, the no-protocol floor (a quarter longer)")
    ap.add_argument("--uring", action="store_true",
                    help="also run echo_floor_uring, the no-protocol floor on compio's "
                         "io_uring runtime (one thread)")
    ap.add_argument("--sizes", help="comma-separated message sizes (default 16,1024,65536)")
    ap.add_argument("--conns", help="comma-separated connection counts of the 1-in-flight "
                                    "rows (default 1,16,128)")
    ap.add_argument("--raw", default=os.path.join(TARGET, "echo-raw.jsonl"))
    args = ap.parse_args()

    started = time.time()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.idle + 64 > hard:
        args.idle = max(hard - 64, 0)
        print(f"(open-file limit {hard}: idle connections reduced to {args.idle})", file=sys.stderr)
    if not args.no_build:
        build()
    servers = list(SERVERS)
    if args.ws13:
        servers[0] = ("ws13", [args.ws13], servers[0][2])
    if args.no_peers:
        servers = [s for s in servers if s[0] not in PEERS]
    if args.compare:
        servers.append(("ws13-before", [args.compare], 9206))
    if args.floor:
        servers.append(FLOOR)
    if args.uring:
        servers.extend(URING)
    sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else None
    conns = [int(x) for x in args.conns.split(",")] if args.conns else None
    runtime = (f"a runtime with {args.threads} worker threads" if args.threads > 1 else
               "a current-thread runtime" if args.threads == 1 else
               "tokio's default multi-thread runtime")
    print(f"# echo benchmark, {time.strftime('%Y-%m-%d %H:%M %Z')}, "
          f"load {open('/proc/loadavg').read().split()[:3]}, every server on {runtime}")

    procs = start_servers(servers, args.threads)
    try:
        if args.idle:
            print(f"\n## Idle connections: server VmRSS growth for {args.idle} connections\n")
            print("| server | RSS before (KiB) | RSS after (KiB) | per connection (bytes) |")
            print("|---|---:|---:|---:|")
            for name, _, port in servers:
                if name == FLOOR[0] or name in (u[0] for u in URING):
                    continue
                r = load(port, procs[name].pid, 0, 0, 0, 0, 0, idle=args.idle)
                if r:
                    print(f"| {name} | {r['rss_before_kib']} | {r['rss_after_kib']} | "
                          f"{r['rss_per_conn_bytes']:.0f} |", flush=True)

        results = {}
        raw = open(args.raw, "w")
        for rnd in range(args.rounds):
            # Fresh servers every round (and after the idle run, whose memory
            # stays). Whether the kernel's copies of 64 KiB messages hit the
            # CPU's slow 4 KiB-aliasing path depends on where the process's
            # and the kernel's buffers happen to lie: 22 vs 40 us per echo
            # for the same binary across restarts. Each round draws anew.
            stop_servers(procs)
            procs = start_servers(servers, args.threads)
            order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
            for size, n_conns, inflight in configs(args.quick, args.inflight_only, sizes, conns):
                for name, _, port in order:
                    r = load(port, procs[name].pid, size, n_conns, inflight, args.secs,
                             args.warmup)
                    if r is None:
                        continue
                    r["server"] = name
                    r["round"] = rnd
                    raw.write(json.dumps(r) + "\n")
                    results.setdefault((size, n_conns, inflight), {}).setdefault(name, []).append(r)
            print(f"round {rnd + 1}/{args.rounds} done at {time.time() - started:.0f} s",
                  file=sys.stderr, flush=True)
        raw.close()
    finally:
        stop_servers(procs)

    print("\n## Echo: medians of", args.rounds, "interleaved rounds (min–max);",
          f"{args.secs:g} s per run after {args.warmup:g} s warm-up\n")
    print("CPU/msg is the server's CPU time (all threads, /proc/PID/task/*/schedstat) per echoed"
          " message; 'vs best peer' divides it by the lowest peer median.\n")
    for (size, conns, inflight), by_server in results.items():
        print(f"### {size} B, {conns} connection(s), {inflight} in flight\n")
        cpu = {n: statistics.median(r["cpu_us_per_msg"] for r in rs) for n, rs in by_server.items()}
        before = cpu.get("ws13-before")
        extra = " vs ws13-before |" if before else ""
        print(f"| server | messages/s | p50 µs | p99 µs | server CPU µs/msg | vs best peer |{extra}")
        print("|---|---:|---:|---:|---:|---:|" + ("---:|" if before else ""))
        peer_cpu = [cpu[p] for p in PEERS if p in cpu]
        best = min(peer_cpu) if peer_cpu else None
        for name, _, _ in servers:
            rs = by_server.get(name)
            if not rs:
                continue
            ratio = f"{cpu[name] / best:.2f}×" if best else "–"
            print(f"| {name} | {fmt_range([r['msgs_per_s'] for r in rs], 0)} | "
                  f"{statistics.median(r['p50_us'] for r in rs):.1f} | "
                  f"{statistics.median(r['p99_us'] for r in rs):.1f} | "
                  f"{fmt_range([r['cpu_us_per_msg'] for r in rs], 2)} | {ratio} |"
                  + (f" {cpu[name] / before:.3f}× |" if before else ""))
        pairs = [("ws13", "floor"), ("floor-uring", "floor")]
        ratios = [f"{a} / {b} = {cpu[a] / cpu[b]:.2f}×" for a, b in pairs
                  if a in cpu and b in cpu]
        if args.uring and ratios:
            print("\nServer CPU per message, medians: " + "; ".join(ratios) + ".")
        print()
    print(f"total time {time.time() - started:.0f} s; load now "
          f"{open('/proc/loadavg').read().split()[:3]}; raw results in {args.raw}")


if __name__ == "__main__":
    main()
