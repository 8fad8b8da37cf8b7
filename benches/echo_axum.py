#!/usr/bin/env python3
"""The echo load benchmark for ws13 inside axum: the same axum 0.8 server
(`benches/src/bin/echo_axum.rs`, served by `axum::serve`) with the WebSocket
handled by ws13's extractor (`--impl ws13`) or by axum's built-in one
(`--impl axum`, tungstenite inside), measured by echo.py's load client,
interleaved, with the server's CPU time per echoed message. Takes echo.py's
flags (--rounds, --secs, --quick, --inflight-only, --idle, --threads, ...).

    python3 benches/echo_axum.py --quick --idle 1000
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import echo  # noqa: E402

ECHO_AXUM = os.path.join(echo.REL, "echo_axum")
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
