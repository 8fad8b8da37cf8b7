#!/usr/bin/env python3
"""The echo load benchmark for ws13 inside axum: the same axum 0.8 server
(`benches/src/bin/echo_axum.rs`, served by `axum::serve`) with the WebSocket
handled by ws13's extractor (`--impl ws13`) or by axum's built-in one
(`--impl axum`, tungstenite inside), measured by echo.py's load client,
interleaved, with the server's CPU time per echoed message. Takes echo.py's
flags (--rounds, --secs, --quick, --inflight-only, --idle, --threads, ...).

    python3 benches/echo_axum.py --quick --idle 1000
    python3 benches/echo_axum.py --h2-vs-h1 --quick    # ws13 over HTTP/2 against HTTP/1.1

With --h2-vs-h1 the two servers are both `--impl ws13`: one measured with
HTTP/1.1 upgrades, the other with extended CONNECTs over h2c (echo_load
--h2, one HTTP/2 connection per WebSocket); the ratio is HTTP/2's CPU per
message to HTTP/1.1's. No idle-memory table in that mode.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import echo  # noqa: E402

ECHO_AXUM = os.path.join(echo.REL, "echo_axum")
if "--h2-vs-h1" in sys.argv:
    sys.argv.remove("--h2-vs-h1")
    sys.argv += ["--idle", "0"]
    echo.SERVERS = [
        ("ws13 over HTTP/2", [ECHO_AXUM, "--impl", "ws13"], 9213),
        ("ws13 over HTTP/1.1", [ECHO_AXUM, "--impl", "ws13"], 9211),
    ]
    echo.PEERS = ["ws13 over HTTP/1.1"]
    echo.LOAD_FLAGS[9213] = ["--h2"]
else:
    echo.SERVERS = [
        ("axum+ws13", [ECHO_AXUM, "--impl", "ws13"], 9211),
        ("axum built-in", [ECHO_AXUM, "--impl", "axum"], 9212),
    ]
    echo.PEERS = ["axum built-in"]


def build():
    env = dict(os.environ, CARGO_TARGET_DIR=echo.TARGET)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "ws13-benches",
                    "--bin", "echo_axum", "--bin", "echo_load"],
                   cwd=echo.ROOT, check=True, env=env)


echo.build = build

if __name__ == "__main__":
    echo.main()
