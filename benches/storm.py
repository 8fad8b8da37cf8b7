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
best peer's.

With --modes (or --tls, short for --modes plain,tls-full,tls-resumed) it
measures `wss://` too, interleaved with plain TCP in every round: every
server then runs with --cert/--key (rustls, ring provider, one server
configuration for all: src/tls.rs of this crate) and the load client with
--tls: tls-full without session resumption (`Resumption::disabled()`),
tls-resumed with each of the 64 clients keeping rustls's default in-memory
session store, so it resumes the session of its own previous connection.
The TLS tables add the share of handshakes that resumed. The certificate
(ECDSA P-256, self-signed for `localhost`, made with the openssl CLI) goes
into a temporary directory unless --cert-dir names one to reuse.

    python3 benches/storm.py                    # 3 rounds of 10 000 connections
    python3 benches/storm.py --rounds 1 --total 2000
    python3 benches/storm.py --modes plain,tls-full,tls-resumed
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import REL, ROOT, TARGET, run_load, start_servers, stop_servers

SERVERS = [
    ("ws13", [os.path.join(REL, "examples", "async_echo")], 9401),
    ("tokio-tungstenite", [os.path.join(REL, "echo_tungstenite")], 9402),
    ("fastwebsockets", [os.path.join(REL, "echo_fastwebsockets")], 9403),
    ("tokio-websockets", [os.path.join(REL, "echo_tokio_websockets")], 9404),
    ("sockudo-ws", [os.path.join(REL, "echo_sockudo_deflate")], 9405),
    ("yawc", [os.path.join(REL, "echo_yawc_deflate")], 9406),
]
PEERS = [s[0] for s in SERVERS[1:]]
# Mode: (TLS?, storm_load's --resumption, port offset).
MODES = {
    "plain": (False, None, 0),
    "tls-full": (True, "off", 100),
    "tls-resumed": (True, "on", 200),
}


def build():
    env = dict(os.environ, CARGO_TARGET_DIR=TARGET)
    subprocess.run(["cargo", "build", "--release", "-q", "--example", "async_echo",
                    "--features", "tokio,libdeflate,tls"], cwd=ROOT, check=True, env=env,
                   timeout=3600)
    bins = ["storm_load", "echo_tungstenite", "echo_fastwebsockets", "echo_tokio_websockets",
            "echo_sockudo_deflate", "echo_yawc_deflate"]
    cmd = ["cargo", "build", "--release", "-q", "-p", "ws13-benches"]
    for b in bins:
        cmd += ["--bin", b]
    subprocess.run(cmd, cwd=ROOT, check=True, env=env, timeout=3600)


def certificate(directory):
    """A self-signed ECDSA P-256 certificate for localhost in `directory`
    (made once, then reused): returns (cert.pem, key.pem)."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    if not (os.path.exists(cert) and os.path.exists(key)):
        os.makedirs(directory, exist_ok=True)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost",
                        "-addext", "basicConstraints=critical,CA:FALSE"],
                       check=True, capture_output=True, timeout=60)
    return cert, key


def start(servers, threads, tls_files=None, port_offset=0):
    tls_args = ["--cert", tls_files[0], "--key", tls_files[1]] if tls_files else []
    return start_servers([(name, cmd, port + port_offset) for name, cmd, port in servers],
                         ["--threads", str(threads)] + tls_args)


def storm(port, pid, total, parallel, timeout, cert=None, resumption=None):
    cmd = [os.path.join(REL, "storm_load"), "--addr", f"127.0.0.1:{port}", "--pid", str(pid),
           "--total", str(total), "--parallel", str(parallel)]
    if cert:
        cmd += ["--tls", cert, "--resumption", resumption]
    return run_load(cmd, f"storm on port {port}", timeout)


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
    ap.add_argument("--modes", default="plain",
                    help="comma-separated, of " + ", ".join(MODES))
    ap.add_argument("--tls", action="store_true",
                    help="short for --modes plain,tls-full,tls-resumed")
    ap.add_argument("--cert-dir", help="where the TLS certificate is made or reused "
                    "(default: a new temporary directory)")
    ap.add_argument("--timeout", type=float, default=120,
                    help="seconds each storm may take before it counts as failed")
    ap.add_argument("--raw", default=os.path.join(TARGET, "storm-raw.jsonl"))
    args = ap.parse_args()

    modes = "plain,tls-full,tls-resumed" if args.tls else args.modes
    modes = [m.strip() for m in modes.split(",") if m.strip()]
    for m in modes:
        if m not in MODES:
            sys.exit(f"unknown mode {m}: one of {', '.join(MODES)}")
    tls_files = None
    if any(MODES[m][0] for m in modes):
        tls_files = certificate(args.cert_dir or tempfile.mkdtemp(prefix="storm-tls-"))
    if not args.no_build:
        build()
    servers = list(SERVERS)
    if args.ws13:
        servers[0] = ("ws13", [args.ws13], servers[0][2])
    if args.compare:
        servers.append(("ws13-before", [args.compare], 9407))
    print(f"# connection storm, {time.strftime('%Y-%m-%d %H:%M %Z')}, "
          f"load {open('/proc/loadavg').read().split()[:3]}, {args.total} connections, "
          f"{args.parallel} at a time, {args.rounds} interleaved rounds, threads {args.threads}, "
          f"modes {','.join(modes)}")
    results = {m: {} for m in modes}
    started = time.time()
    with open(args.raw, "w") as raw:
        for rnd in range(args.rounds):
            for mode in modes[rnd % len(modes):] + modes[:rnd % len(modes)]:
                is_tls, resumption, offset = MODES[mode]
                procs = start(servers, args.threads, tls_files if is_tls else None, offset)
                order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
                try:
                    for name, _, port in order:
                        r = storm(port + offset, procs[name].pid, args.total, args.parallel,
                                  args.timeout, tls_files[0] if is_tls else None, resumption)
                        if r is None:
                            continue
                        r["server"], r["round"], r["mode"] = name, rnd, mode
                        raw.write(json.dumps(r) + "\n")
                        results[mode].setdefault(name, []).append(r)
                finally:
                    stop_servers(procs)
            print(f"round {rnd + 1}/{args.rounds} done at {time.time() - started:.0f} s",
                  file=sys.stderr, flush=True)
    for mode in modes:
        table(mode, servers, results[mode])
    print(f"\n(load average after: {open('/proc/loadavg').read().split()[:3]})")


def table(mode, servers, results):
    """One markdown table of a mode's medians (min–max over the rounds)."""
    is_tls = MODES[mode][0]

    def med(name, key):
        return statistics.median(r[key] for r in results[name])

    def cell(name, key, digits):
        v = [r[key] for r in results[name]]
        return f"{med(name, key):.{digits}f} ({min(v):.{digits}f}–{max(v):.{digits}f})"

    best = min((med(p, "server_cpu_us_per_conn") for p in PEERS if p in results),
               default=None)
    extra_head, extra_rule = (" resumed |", "---:|") if is_tls else ("", "")
    print(f"\n{mode}:\n\n| server | connections/s | server CPU µs per connection "
          f"| user-space share | user-space µs per connection | CPU / best peer's |{extra_head}")
    print(f"|---|---:|---:|---:|---:|---:|{extra_rule}")
    for name, _, _ in servers:
        if name not in results:
            print(f"| {name} | failed | | | | |" + (" |" if is_tls else ""))
            continue
        cpu = med(name, "server_cpu_us_per_conn")
        user = med(name, "server_user_share")
        ratio = f"{cpu / best:.2f}" if best else "–"
        extra = f" {100 * med(name, 'resumed_share'):.1f} % |" if is_tls else ""
        print(f"| {name} | {cell(name, 'conns_per_s', 0)} | "
              f"{cell(name, 'server_cpu_us_per_conn', 1)} | {user:.2f} | {cpu * user:.1f} | "
              f"{ratio} |{extra}")


if __name__ == "__main__":
    main()
