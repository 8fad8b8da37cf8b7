#!/usr/bin/env bash
# A real browser over HTTP/2 (issue 16): Debian's Chromium, driven by
# playwright-core (e2e/h2.test.mjs), loads the axum example's page over
# https:// with HTTP/2 and opens wss:// to it; the test asserts from the
# server's record (/stats and its stdout) that the WebSocket arrived as an
# RFC 8441 extended CONNECT on HTTP/2, and that text and binary echo.
# Installs what it needs (apt: chromium, nodejs/npm; npm ci from the lock file).
# WS13_CHROMIUM_H2_FLAGS adds Chromium flags (none are needed by default).
set -euo pipefail
cd "$(dirname "$0")/.."
h2_start=$SECONDS
step() { printf '\n--- e2e/h2.sh: %s (%ds) ---\n' "$*" "$((SECONDS - h2_start))"; }

step "packages"
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v npm >/dev/null || missing+=(nodejs npm)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
chromium --version 2>/dev/null || true
[ -d e2e/node_modules/playwright-core ] || (cd e2e && timeout 120 npm ci --no-audit --no-fund --loglevel=error)

step "build axum_app and a development certificate"
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --features axum,tls --example axum_app --example gen_cert
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$target/debug/examples/gen_cert" --out "$work/cert" >/dev/null

step "Chromium over HTTP/2: node --test e2e/h2.test.mjs"
WS13_EXAMPLES="$target/debug/examples" WS13_CERT_DIR="$work/cert" \
    timeout 180 node --test --test-timeout=120000 e2e/h2.test.mjs

step "done"
echo "e2e/h2.sh: Chromium over HTTP/2 passed in $((SECONDS - h2_start))s"
