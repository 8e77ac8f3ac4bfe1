#!/usr/bin/env bash
# What `python run.py bench peers` and its smoke test need: wrk and node >= 20 (apt), the locked node
# peers (npm ci in bench/peers/node), the FastAPI tutorial peer and uvloop (the [bench] and [speed] extras).
# Idempotent; fails loudly.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
command -v taskset >/dev/null || need_apt+=(util-linux)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "install-perf: node $(node --version) is too old, the bench peers need node >= 20" >&2
  exit 1
fi
(cd bench/peers/node && npm ci --no-audit --no-fund --loglevel=error)
python -m pip install -q -e ".[bench,speed]"
