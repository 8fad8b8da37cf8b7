#!/usr/bin/env bash
# End-to-end tests through real proxies (tests/e2e_proxies.rs, #[ignore]d in
# plain `cargo test`), loopback only, every proxy on a random port:
#   - tinyproxy: open, `ConnectPort 443` (refuses the server's port), `BasicAuth`
#   - dante-server (danted): SOCKS5 without authentication, socks5:// and socks5h://
#   - microsocks: SOCKS5 without and with a user name and password
#   - stunnel4 in front of tinyproxy: an https:// proxy (TLS to the proxy)
# ws:// and wss:// with the tokio client, ws:// with the blocking client, the
# refusals in words, NO_PROXY and ALL_PROXY through the `client` example, and
# the doctor through the refusing proxy. Installs what is missing with apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
step() { printf '\n--- e2e proxies: %s (%ds) ---\n' "$*" "$((SECONDS - start))"; }

step "packages"
missing=()
command -v tinyproxy >/dev/null || missing+=(tinyproxy)
[ -x /usr/sbin/danted ] || command -v danted >/dev/null || missing+=(dante-server)
command -v microsocks >/dev/null || missing+=(microsocks)
command -v stunnel4 >/dev/null || missing+=(stunnel4)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The packages start their own daemons on the default ports; the tests start
# their own on random ports and do not need them.
tinyproxy -v 2>&1 | head -1 || true
/usr/sbin/danted -v 2>&1 | head -1 || true

step "cargo test --all-features --test e2e_proxies -- --ignored --nocapture"
timeout 600 cargo test --all-features --test e2e_proxies -- --ignored --nocapture

step "done"
echo "e2e proxies: passed in $((SECONDS - start))s"
