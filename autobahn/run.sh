#!/usr/bin/env bash
# Run Autobahn|Testsuite against one of our servers or our client, then check
# the reports (autobahn/check.py). Exits non-zero unless every selected case
# passed.
#
#   autobahn/run.sh server NAME -- CMD...
#       Starts CMD (a WebSocket echo server), waits until it accepts on its
#       port, runs `wstest -m fuzzingclient` against it, stops it, checks.
#       NAME is the agent name in the reports.
#   autobahn/run.sh client [AGENT] -- CMD...
#       Starts `wstest -m fuzzingserver`, waits for its port, runs CMD (an
#       Autobahn client doing getCaseCount / runCase / updateReports), asks the
#       fuzzing server to write its reports, stops it, checks. AGENT (default
#       ws13) is the agent name CMD must use.
#
# Ports are free loopback ports picked at run time. In CMD these are replaced:
#   {port} the port, {addr} 127.0.0.1:PORT, {url} ws://127.0.0.1:PORT,
#   {agent} the agent name (NAME or AGENT)
# and the same values are exported as WS13_AUTOBAHN_PORT, WS13_AUTOBAHN_ADDR,
# WS13_AUTOBAHN_URL and WS13_AUTOBAHN_AGENT. Example:
#   autobahn/run.sh server sync_echo -- \
#       cargo run --release --example sync_echo -- --addr {addr}
#   autobahn/run.sh client ws13 -- \
#       cargo run --release --example autobahn_client -- --url {url} --agent {agent}
#
# Reports: autobahn/reports/servers/NAME/ and autobahn/reports/clients/AGENT/
# (index.html is the HTML report; wstest.log, server.log / client.log beside).
# Cases: autobahn/cases.json (shared by both modes); per-mode options:
# autobahn/fuzzingclient.json and autobahn/fuzzingserver.json.
#
# Environment (time limits in seconds; every wait is bounded):
#   WS13_AUTOBAHN_START_TIMEOUT  server CMD until its port accepts (600; covers
#                                a cargo build, though building first is better)
#   WS13_AUTOBAHN_RUN_TIMEOUT    the whole fuzzingclient run / client CMD (1800)
#   WS13_AUTOBAHN_REPORTS        reports root (default autobahn/reports)
#   WS13_AUTOBAHN_CASES          comma-separated case patterns replacing the
#                                "cases" of cases.json, for quick local runs
#                                (e.g. '6.4.*,7.1.5'); exclude-cases still apply
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
start_timeout="${WS13_AUTOBAHN_START_TIMEOUT:-600}"
run_timeout="${WS13_AUTOBAHN_RUN_TIMEOUT:-1800}"
reports="${WS13_AUTOBAHN_REPORTS:-$here/reports}"

log() { printf 'autobahn/run.sh: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 2
}
usage() {
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}" >&2
    exit 2
}

(($# >= 1)) || usage
mode="$1"
shift
case "$mode" in
server)
    (($# >= 1)) || usage
    name="$1"
    shift
    ;;
client)
    name=ws13
    if (($# >= 1)) && [[ "$1" != -- ]]; then
        name="$1"
        shift
    fi
    ;;
*) usage ;;
esac
[[ "${1:-}" == -- ]] || usage
shift
(($# >= 1)) || usage
[[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || die "NAME/AGENT must match [A-Za-z0-9._-]+: $name"

# --- process handling: every child runs in its own session (process group) ---
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do stop_group "$pid"; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_bg LOG CMD... : runs CMD in a new session, output to LOG; sets $bg_pid.
start_bg() {
    local out="$1"
    shift
    setsid "$@" >"$out" 2>&1 </dev/null &
    bg_pid=$!
    pids+=("$bg_pid")
}

# stop_group PID : TERM the process group of PID (also when PID itself has
# already exited but something it started lives on), KILL it after 5 s.
stop_group() {
    local pid="$1" i
    kill -TERM -- "-$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 -- "-$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# wait_exit PID SECS : waits for PID to exit; returns its status, 124 on timeout.
wait_exit() {
    local pid="$1" end=$((SECONDS + $2)) rc=0
    while kill -0 "$pid" 2>/dev/null; do
        ((SECONDS < end)) || return 124
        sleep 0.2
    done
    wait "$pid" || rc=$?
    return "$rc"
}

# wait_port PORT SECS PID : until 127.0.0.1:PORT accepts; fails if PID exits.
wait_port() {
    local port="$1" end=$((SECONDS + $2)) pid="$3"
    # shellcheck disable=SC2016 # $1 is expanded by the inner bash
    while ! timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$port" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || return 1
        ((SECONDS < end)) || return 124
        sleep 0.2
    done
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

tail_log() {
    log "last lines of $1:"
    tail -n "${2:-30}" "$1" | sed 's/^/    /' >&2 || true
}

# --- setup -----------------------------------------------------------------
wstest="$("$here/install.sh")"
wstest_cases="$(dirname "$wstest")/wstest-cases"

if [[ "$mode" == server ]]; then
    outdir="$reports/servers/$name"
else
    outdir="$reports/clients/$name"
fi
rm -rf "$outdir"
mkdir -p "$outdir"
outdir="$(cd "$outdir" && pwd)"

port="$(free_port)"
export WS13_AUTOBAHN_PORT="$port" WS13_AUTOBAHN_ADDR="127.0.0.1:$port"
export WS13_AUTOBAHN_URL="ws://127.0.0.1:$port" WS13_AUTOBAHN_AGENT="$name"

cmd=()
for arg in "$@"; do
    arg="${arg//\{port\}/$port}"
    arg="${arg//\{addr\}/$WS13_AUTOBAHN_ADDR}"
    arg="${arg//\{url\}/$WS13_AUTOBAHN_URL}"
    arg="${arg//\{agent\}/$name}"
    cmd+=("$arg")
done

# The spec wstest gets: cases.json + the mode's config + this run's url/outdir.
spec="$outdir/spec.json"
python3 - "$here/cases.json" "$here/fuzzing$([[ $mode == server ]] && echo client || echo server).json" \
    "$mode" "$WS13_AUTOBAHN_URL" "$outdir" "$name" "${WS13_AUTOBAHN_CASES:-}" >"$spec" <<'EOF'
import json, sys
cases_file, mode_file, mode, url, outdir, agent, only = sys.argv[1:]
spec = json.load(open(mode_file))
spec.update(json.load(open(cases_file)))
if only.strip():
    spec["cases"] = [c.strip() for c in only.split(",") if c.strip()]
spec["outdir"] = outdir
if mode == "server":
    servers = spec.get("servers") or [{}]
    servers[0].update({"url": url, "agent": agent})
    spec["servers"] = servers[:1]
else:
    spec["url"] = url
json.dump(spec, sys.stdout, indent=3)
print()
EOF
timeout 120 "$wstest_cases" "$spec" >"$outdir/expected-cases.json"
ncases="$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$outdir/expected-cases.json")"
((ncases > 0)) || die "no cases selected (cases.json / WS13_AUTOBAHN_CASES)"
log "$mode $name: $ncases cases, port $port, reports in $outdir"

status=0
t0=$SECONDS

if [[ "$mode" == server ]]; then
    log "starting server: ${cmd[*]}"
    start_bg "$outdir/server.log" "${cmd[@]}"
    server_pid=$bg_pid
    rc=0
    wait_port "$port" "$start_timeout" "$server_pid" || rc=$?
    if ((rc == 124)); then
        tail_log "$outdir/server.log"
        die "server did not accept on 127.0.0.1:$port within ${start_timeout}s"
    elif ((rc != 0)); then
        tail_log "$outdir/server.log"
        die "server exited before accepting on 127.0.0.1:$port"
    fi
    log "server up after $((SECONDS - t0))s; running wstest -m fuzzingclient"
    t1=$SECONDS
    start_bg "$outdir/wstest.log" "$wstest" -m fuzzingclient -s "$spec"
    wstest_pid=$bg_pid
    rc=0
    wait_exit "$wstest_pid" "$run_timeout" || rc=$?
    log "wstest finished in $((SECONDS - t1))s (status $rc)"
    if ((rc == 124)); then
        log "error: wstest did not finish within ${run_timeout}s"
        status=1
    elif ((rc != 0)); then
        tail_log "$outdir/wstest.log"
        log "error: wstest exited with status $rc"
        status=1
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        src=0
        wait "$server_pid" || src=$?
        tail_log "$outdir/server.log"
        log "error: the server exited during the run (status $src)"
        status=1
    fi
    stop_group "$server_pid"
else
    start_bg "$outdir/wstest.log" "$wstest" -m fuzzingserver -s "$spec" --webport 0
    wstest_pid=$bg_pid
    rc=0
    wait_port "$port" 60 "$wstest_pid" || rc=$?
    if ((rc != 0)); then
        tail_log "$outdir/wstest.log"
        die "wstest fuzzingserver did not come up on 127.0.0.1:$port"
    fi
    log "fuzzing server up after $((SECONDS - t0))s; starting client: ${cmd[*]}"
    t1=$SECONDS
    start_bg "$outdir/client.log" "${cmd[@]}"
    client_pid=$bg_pid
    rc=0
    wait_exit "$client_pid" "$run_timeout" || rc=$?
    log "client finished in $((SECONDS - t1))s (status $rc)"
    stop_group "$client_pid"
    if ((rc == 124)); then
        log "error: the client did not finish within ${run_timeout}s"
        status=1
    elif ((rc != 0)); then
        tail_log "$outdir/client.log"
        log "error: the client exited with status $rc"
        status=1
    fi
    # Write the reports ourselves too (the client may have died before its
    # updateReports): the fuzzing server answers the handshake, writes them,
    # then sends a close frame.
    rc=0
    timeout 120 python3 - "$port" "$name" <<'EOF' || rc=$?
import base64, os, socket, sys
port, agent = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=100)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall((
    f"GET /updateReports?agent={agent} HTTP/1.1\r\n"
    f"Host: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
).encode())
data = b""
while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < 2:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
head, _, frame = data.partition(b"\r\n\r\n")
if not head.startswith(b"HTTP/1.1 101") or frame[:1] != b"\x88":
    sys.exit(f"updateReports: unexpected answer {data[:200]!r}")
EOF
    if ((rc != 0)); then
        log "error: asking wstest to write the reports failed (status $rc)"
        status=1
    fi
    if ! kill -0 "$wstest_pid" 2>/dev/null; then
        tail_log "$outdir/wstest.log"
        log "error: wstest fuzzingserver exited during the run"
        status=1
    fi
    stop_group "$wstest_pid"
fi

log "wall time: $((SECONDS - t0))s"
rc=0
python3 "$here/check.py" "$outdir" --agent "$name" --expected "$outdir/expected-cases.json" || rc=$?
if ((rc != 0 || status != 0)); then
    log "FAILED ($mode $name); HTML report: $outdir/index.html"
    exit 1
fi
log "passed ($mode $name); HTML report: $outdir/index.html"
