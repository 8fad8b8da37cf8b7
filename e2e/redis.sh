#!/usr/bin/env bash
# The chat example across processes (tests/e2e_redis.rs, #[ignore]d in plain
# `cargo test`): two chat processes share a room through a real redis-server,
# then nginx balances them, one is killed, and its client reconnects through
# nginx to the other and keeps talking. Loopback only, random ports; the test
# bounds every wait itself, and `timeout` bounds the whole run.
# Installs what it needs (apt: redis-server, nginx).
set -euo pipefail
cd "$(dirname "$0")/.."
redis_start=$SECONDS
step() { printf '\n--- e2e redis: %s (%ds) ---\n' "$*" "$((SECONDS - redis_start))"; }

step "packages"
missing=()
[ -x /usr/bin/redis-server ] || missing+=(redis-server)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
/usr/bin/redis-server --version
/usr/sbin/nginx -v

step "Redis + nginx: cargo test --all-features --test e2e_redis -- --ignored"
timeout 600 cargo test --all-features --test e2e_redis -- --ignored --nocapture

step "done"
echo "e2e redis: two chat processes, Redis and nginx failover passed in $((SECONDS - redis_start))s"
