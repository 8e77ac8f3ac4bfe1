#!/usr/bin/env bash
# Installs the jose resource server used by tests/test_calibration_rs.py (the committed lockfile, exactly).
# Idempotent; fails loudly when node/npm are missing or the install fails.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
fi
command -v node >/dev/null || { echo "install-node-rs: node is not installed (apt-get install nodejs npm)" >&2; exit 1; }
command -v npm >/dev/null || { echo "install-node-rs: npm is not installed (apt-get install npm)" >&2; exit 1; }
cd "$here/tests/calibration/node_rs"
npm ci --no-audit --no-fund
node -e "import('jose').then(() => console.log('install-node-rs: jose', require('./node_modules/jose/package.json').version))"
