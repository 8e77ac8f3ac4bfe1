#!/usr/bin/env bash
# Vendor the library versions named in published advisories (and their fixed successors) into
# tests/calibration/vulnerable_libs/.vendor/, never into the main environment. Idempotent; fails loudly.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
libs="$root/tests/calibration/vulnerable_libs"
vendor="$libs/.vendor"
mkdir -p "$vendor"

# Python: each version in its own directory, without dependencies. PyJWT 1.5.x verifies RSA signatures
# with cryptography's key.verifier(), removed in cryptography 37: those directories get cryptography 36.0.2,
# as the applications of that time had; the others use the main environment's cryptography.
install() {  # install DIR SPEC...
  local dir="$vendor/$1"; shift
  if [ ! -f "$dir/.installed" ]; then
    rm -rf "$dir"
    python -m pip install --quiet --disable-pip-version-check --no-deps --target "$dir" "$@"
    touch "$dir/.installed"
  fi
}
install pyjwt-1.5.0 pyjwt==1.5.0 cryptography==36.0.2
install pyjwt-1.5.2 pyjwt==1.5.2 cryptography==36.0.2
install pyjwt-2.3.0 pyjwt==2.3.0
install pyjwt-2.4.0 pyjwt==2.4.0
install pyjwt-2.10.0 pyjwt==2.10.0
install pyjwt-2.10.1 pyjwt==2.10.1
install pyjwt-2.11.0 pyjwt==2.11.0
install pyjwt-2.12.0 pyjwt==2.12.0
install authlib-1.3.0 authlib==1.3.0
install authlib-1.3.1 authlib==1.3.1
install python-jwt-3.3.3 python_jwt==3.3.3 jwcrypto==1.4.2 Deprecated==1.2.14 wrapt==1.16.0
install python-jwt-3.3.4 python_jwt==3.3.4 jwcrypto==1.4.2 Deprecated==1.2.14 wrapt==1.16.0

# Node: each application directory has a committed package-lock.json.
shopt -s nullglob
for app in "$libs"/node-*/; do
  [ -f "$app/package-lock.json" ] || { echo "$app has no package-lock.json" >&2; exit 1; }
  if [ ! -d "$app/node_modules" ] || [ "$app/package-lock.json" -nt "$app/node_modules" ]; then
    (cd "$app" && npm ci --silent --no-audit --no-fund)
    touch "$app/node_modules"
  fi
done
echo "vulnerable libraries vendored under $vendor and node-*/node_modules"
