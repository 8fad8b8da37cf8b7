#!/usr/bin/env python3
"""The fan-out benchmark: one publisher, N subscribers on loopback, 1 KiB
text; the server's CPU time per delivered message.

    python3 benches/broadcast.py [--rounds 3] [--subs 1000,10000] [--quick]

Builds the release binaries of ws13-benches (broadcast_ws13,
broadcast_tungstenite, broadcast_sockudo, broadcast_load), then for each
round runs every server in turn (the order rotated each round, a fresh
server per run) under broadcast_load, and prints the median and the range
of the rounds per row. The machine is shared: interleaving spreads other
load over every server alike.
"""

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import time

TARGET = os.environ.get("CARGO_TARGET_DIR", "target")
BIN = os.path.join(TARGET, "release")

# (row name, server command, deflate offered by the subscribers)
SERVERS = [
    ("ws13 prepared (Topic + relay)", ["broadcast_ws13", "--mode", "prepared"], False),
    ("ws13 Message per recipient", ["broadcast_ws13", "--mode", "message"], False),
    ("tokio-tungstenite, Bytes clone per recipient", ["broadcast_tungstenite"], False),
    ("sockudo-ws PubSub", ["broadcast_sockudo"], False),
    ("ws13 prepared, deflate compressed once (server_no_context_takeover)",
     ["broadcast_ws13", "--mode", "prepared", "--deflate", "reset"], True),
    ("ws13 Message per recipient, deflate per connection (no context takeover)",
     ["broadcast_ws13", "--mode", "message", "--deflate", "reset"], True),
    ("ws13 Message per recipient, deflate per connection (context takeover)",
     ["broadcast_ws13", "--mode", "message", "--deflate", "takeover"], True),
]


def messages_for(subs, deflate, quick):
    """Enough messages for a stable number, few enough for a shared machine."""
    base = {1000: 300, 10000: 40}.get(subs, max(20, 300_000 // subs))
    if deflate:
        base = max(10, base // 3)
    return max(10, base // 5) if quick else base


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "ws13-benches",
                    "--bin", "broadcast_ws13", "--bin", "broadcast_tungstenite",
                    "--bin", "broadcast_sockudo", "--bin", "broadcast_load"], check=True)


def run(server, deflate, subs, messages):
    port = free_port()
    proc = subprocess.Popen([os.path.join(BIN, server[0])] + server[1:] +
                            ["--addr", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError(f"{server[0]} did not listen")
                time.sleep(0.05)
        cmd = [os.path.join(BIN, "broadcast_load"), "--addr", f"127.0.0.1:{port}",
               "--pid", str(proc.pid), "--subs", str(subs), "--messages", str(messages),
               "--warmup", "10"]
        if deflate:
            cmd.append("--deflate")
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            raise RuntimeError(f"broadcast_load failed: {out.stderr}")
        return json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--subs", default="1000,10000")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    build()
    subs_list = [int(s) for s in args.subs.split(",")]
    results = {}  # (subs, row) -> [ns per delivery]
    started = time.time()
    for round_ in range(args.rounds):
        for subs in subs_list:
            order = SERVERS[round_ % len(SERVERS):] + SERVERS[:round_ % len(SERVERS)]
            for name, server, deflate in order:
                messages = messages_for(subs, deflate, args.quick)
                result = run(server, deflate, subs, messages)
                results.setdefault((subs, name), []).append(result["cpu_ns_per_delivery"])
                print(f"round {round_ + 1} subs {subs} {name}: "
                      f"{result['cpu_ns_per_delivery']:.0f} ns/delivery, "
                      f"{result['deliveries_per_s']:.0f} deliveries/s, {messages} messages",
                      file=sys.stderr, flush=True)
    print(f"\n{args.rounds} interleaved rounds in {time.time() - started:.0f} s; "
          f"load average now {os.getloadavg()[0]:.2f}\n")
    for subs in subs_list:
        print(f"### {subs} subscribers, 1 KiB text\n")
        print("| server | server CPU per delivered message (median, min–max) | vs ws13 prepared |")
        print("|---|---|---|")
        plain = statistics.median(results[(subs, SERVERS[0][0])])
        shared = statistics.median(results[(subs, SERVERS[4][0])])
        for name, _, deflate in SERVERS:
            values = results[(subs, name)]
            median = statistics.median(values)
            base = shared if deflate else plain
            print(f"| {name} | {median:,.0f} ns ({min(values):,.0f}–{max(values):,.0f}) | "
                  f"{median / base:.2f}× |")
        print()


if __name__ == "__main__":
    main()
