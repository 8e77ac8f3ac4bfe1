#!/usr/bin/env bash
# The Redis processes the store tests start: redis-server (with redis-cli from redis-tools, for
# `redis-cli --cluster create`) and redis-sentinel. Idempotent; fails loudly if they cannot be installed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
missing=()
for binary in redis-server redis-cli redis-sentinel; do
  command -v "$binary" >/dev/null || missing+=("$binary")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends redis-server redis-tools redis-sentinel >/dev/null
fi
for binary in redis-server redis-cli redis-sentinel; do
  command -v "$binary" >/dev/null || { echo "install-redis: $binary is still missing" >&2; exit 1; }
done
redis-server --version
