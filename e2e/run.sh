#!/usr/bin/env bash
# End-to-end tests against real programs, loopback only:
#   - nginx in front of async_echo (tests/e2e_nginx.rs, #[ignore]d in plain `cargo test`)
#   - Debian's Chromium driven by playwright-core (e2e/browser.test.mjs): ws:// and wss://
#     echoes, a 101 with two Connection lines, two chat tabs (screenshot)
#   - Chromium over HTTP/2 against the axum example (e2e/h2.sh): wss:// as an RFC 8441 CONNECT
#   - HTTP and SOCKS5 proxies from Debian (e2e/proxies.sh): tinyproxy, dante, microsocks, stunnel4
#   - the chat across processes (e2e/redis.sh): two chat processes on redis-server, nginx in front, failover
# Installs what it needs (apt: chromium, nginx, nodejs/npm; npm ci from the lock file).
# WS13_SCREENSHOT=docs/chat.png regenerates the README's screenshot.
set -euo pipefail
cd "$(dirname "$0")/.."
e2e_start=$SECONDS
step() { printf '\n--- e2e: %s (%ds) ---\n' "$*" "$((SECONDS - e2e_start))"; }

step "packages"
missing=()
command -v chromium >/dev/null || missing+=(chromium)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v npm >/dev/null || missing+=(nodejs npm)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
chromium --version 2>/dev/null || true
/usr/sbin/nginx -v
(cd e2e && timeout 120 npm ci --no-audit --no-fund --loglevel=error)

step "build the examples and a development certificate"
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --all-features --examples
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$target/debug/examples/gen_cert" --out "$work/cert"

step "nginx: cargo test --all-features --test e2e_nginx -- --ignored"
timeout 300 cargo test --all-features --test e2e_nginx -- --ignored

step "Chromium: node --test e2e/browser.test.mjs"
WS13_EXAMPLES="$target/debug/examples" WS13_CERT_DIR="$work/cert" \
    WS13_SCREENSHOT="${WS13_SCREENSHOT:-$work/chat.png}" \
    timeout 180 node --test --test-timeout=120000 e2e/browser.test.mjs

step "Chromium over HTTP/2 against the axum example: e2e/h2.sh"
timeout 600 e2e/h2.sh

step "HTTP and SOCKS5 proxies: e2e/proxies.sh"
timeout 600 e2e/proxies.sh

step "the chat across processes: Redis and nginx (e2e/redis.sh)"
timeout 600 e2e/redis.sh

step "done"
echo "e2e: nginx, Chromium, proxy and Redis tests passed in $((SECONDS - e2e_start))s"
