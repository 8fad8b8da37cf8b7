#!/usr/bin/env python3
"""The permessage-deflate echo benchmark: ws13's async_echo example (built
with the `libdeflate` feature, and optionally a zlib-rs-only build beside it)
against sockudo-ws and yawc echo servers with deflate on, over loopback only.

Every server runs on the same runtime (a current-thread runtime by default,
--threads N for N workers) and is restarted each round; servers are visited
in an order rotated every round (interleaved). The load client
(src/bin/deflate_load.rs, ws13's own client) offers permessage-deflate,
optionally with server_no_context_takeover and client_no_context_takeover
("reset": every message compressed on its own), sends chat JSON of 256 B,
1 KiB and 16 KiB, one message in flight per connection, and reads the
server's CPU time (all threads, /proc/PID/task/*/schedstat). Prints per
configuration the median (min-max) server CPU per echoed message and the
ratio of each to the best peer's median.

    python3 benches/deflate_echo.py                       # 3 rounds, about 5 minutes
    python3 benches/deflate_echo.py --rounds 1 --secs 1
    python3 benches/deflate_echo.py --zlib                # also ws13 without libdeflate
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from common import REL, ROOT, TARGET, run_load, start_servers, stop_servers

SERVERS = [
    ("ws13", [os.path.join(REL, "examples", "async_echo")], 9301),
    ("sockudo-ws", [os.path.join(REL, "echo_sockudo_deflate")], 9302),
    ("yawc", [os.path.join(REL, "echo_yawc_deflate")], 9303),
]
ZLIB = ("ws13 (zlib-rs only)", [os.path.join(REL, "async_echo_zlib")], 9304)
PEERS = ["sockudo-ws", "yawc"]


def build(zlib):
    env = dict(os.environ, CARGO_TARGET_DIR=TARGET)
    example = ["cargo", "build", "--release", "-q", "--example", "async_echo", "--features"]
    if zlib:
        subprocess.run(example + ["tokio"], cwd=ROOT, check=True, env=env)
        shutil.copy(os.path.join(REL, "examples", "async_echo"), ZLIB[1][0])
    subprocess.run(example + ["tokio,libdeflate"], cwd=ROOT, check=True, env=env)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "ws13-benches", "--bin",
                    "deflate_load", "--bin", "echo_sockudo_deflate", "--bin",
                    "echo_yawc_deflate"], cwd=ROOT, check=True, env=env)


def load(port, pid, size, conns, reset, secs, warmup):
    cmd = [os.path.join(REL, "deflate_load"), "--addr", f"127.0.0.1:{port}", "--pid", str(pid),
           "--size", str(size), "--conns", str(conns), "--secs", str(secs),
           "--warmup", str(warmup)]
    if reset:
        cmd.append("--reset")
    return run_load(cmd, f"port {port}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=float, default=2.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1,
                    help="runtime threads for every server (1: current-thread)")
    ap.add_argument("--zlib", action="store_true",
                    help="also measure ws13 built without libdeflate")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--raw", default=os.path.join(TARGET, "deflate-echo-raw.jsonl"))
    args = ap.parse_args()

    if not args.no_build:
        build(args.zlib)
    servers = SERVERS + ([ZLIB] if args.zlib else [])
    configs = [(size, reset) for size in [256, 1024, 16384] for reset in [False, True]]
    print(f"# deflate echo benchmark, {time.strftime('%Y-%m-%d %H:%M %Z')}, "
          f"load {open('/proc/loadavg').read().split()[:3]}, {args.conns} connections, "
          f"1 in flight, {args.rounds} interleaved rounds of {args.secs} s, "
          f"threads {args.threads}")
    results = {}
    started = time.time()
    with open(args.raw, "w") as raw:
        for rnd in range(args.rounds):
            procs = start_servers(servers, ["--threads", str(args.threads)])
            order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
            try:
                for size, reset in configs:
                    for name, _, port in order:
                        r = load(port, procs[name].pid, size, args.conns, reset, args.secs,
                                 args.warmup)
                        if r is None:
                            continue
                        r["server"], r["round"] = name, rnd
                        raw.write(json.dumps(r) + "\n")
                        results.setdefault((size, reset), {}).setdefault(name, []).append(r)
            finally:
                stop_servers(procs)
            print(f"round {rnd + 1}/{args.rounds} done at {time.time() - started:.0f} s",
                  file=sys.stderr, flush=True)

    print("\nServer CPU per echoed message, µs: median (min–max); ratio to the best "
          "peer's median\n")
    names = [s[0] for s in servers]
    print("| size | context takeover | " + " | ".join(names) + " | ws13 / best peer |")
    print("|---|---|" + "---:|" * (len(names) + 1))
    for (size, reset), by in sorted(results.items()):
        med = {n: statistics.median(r["server_cpu_ns_per_msg"] for r in rs) / 1000
               for n, rs in by.items()}
        cells = []
        for n in names:
            rs = by.get(n, [])
            if not rs:
                cells.append("–")
                continue
            v = [r["server_cpu_ns_per_msg"] / 1000 for r in rs]
            cells.append(f"{med[n]:.1f} ({min(v):.1f}–{max(v):.1f})")
        peers = [med[p] for p in PEERS if p in med]
        ratio = f"{med['ws13'] / min(peers):.2f}" if peers and "ws13" in med else "–"
        takeover = "no (reset per message)" if reset else "yes"
        print(f"| {size} B | {takeover} | " + " | ".join(cells) + f" | {ratio} |")


if __name__ == "__main__":
    main()
