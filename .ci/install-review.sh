#!/usr/bin/env bash
# The review tests run `profile init` against node oidc-provider (tests/oidc_provider): Node.js, npm and the
# committed lockfile's packages. Idempotent; fails loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
(cd tests/oidc_provider && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/oidc_provider && node --input-type=module -e 'await import("oidc-provider"); console.log("oidc-provider ready")')
