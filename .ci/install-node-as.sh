#!/usr/bin/env bash
# node oidc-provider (tests/calibration/node_as) for tests/test_calibration_as.py: Node.js >= 18 from apt if
# it is missing, then the committed lockfile installed with npm ci. Idempotent; fails loudly.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 18 ]; then
  echo "install-node-as: node $(node --version) is too old, oidc-provider 8 needs >= 18" >&2
  exit 1
fi
cd tests/calibration/node_as
npm ci --no-audit --no-fund --loglevel=error
node -e 'import("oidc-provider").then(() => {}, (e) => { console.error(e); process.exit(1); })'
