"""``run.py keys generate|show|rotate|prune``: key material under keys/ (mode 0600, gitignored)."""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from servers.common import keys
from servers.common.settings import ConfigError


def generate(args: argparse.Namespace) -> int:
    path, created = keys.generate_secret(args.keys_dir, force=args.force)
    print(f"{'wrote' if created else 'kept existing'} HS256 secret: {path} (mode 0600)"
          + ("" if created else "  (use --force to replace it)"))
    return 0


def show(args: argparse.Namespace) -> int:
    if os.environ.get(keys.ENV_SECRET) is not None:
        kid = keys.secret_kid(os.environ[keys.ENV_SECRET])
        print(f"HS256 secret: from ${keys.ENV_SECRET} (kid {kid}), overrides {keys.secrets_path(args.keys_dir)}")
    entries = keys.read_secrets(args.keys_dir)
    if not entries:
        print(f"no HS256 secret in {keys.secrets_path(args.keys_dir)} (python run.py keys generate)")
    for e in entries:
        state = "signing" if e.get("retired") is None else f"retired {time.ctime(e['retired'])}"
        print(f"HS256 kid={e.get('kid')} created={time.ctime(e.get('created', 0))} {state}")
    if args.reveal:
        for e in entries:
            print(f"  {e.get('kid')}: {e['secret']}")
    for pem in sorted(Path(args.keys_dir).glob("*.pem")):
        print(f"RSA key file: {pem} (mode {oct(pem.stat().st_mode & 0o777)})")
    return 0


def rotate(args: argparse.Namespace) -> int:
    """Rotate whatever key material the keys directory holds: the HS256 secrets of backend2/backend3 and
    the RS256 keys of oauth-proxy (holding the keys directory's lock, like a starting server)."""
    with keys.keys_lock(args.keys_dir):
        return _rotate(args)


def _rotate(args: argparse.Namespace) -> int:
    from servers.common import jwks  # RS256 keys of oauth-proxy

    rotated = False
    if keys.read_secrets(args.keys_dir):
        new = keys.rotate_secret(args.keys_dir)
        print(f"HS256: new signing secret kid={new['kid']}; older secrets still verify until "
              f"`keys prune` (after the longest token lifetime)")
        rotated = True
    if jwks.read_index(args.keys_dir) is not None:
        kid = jwks.rotate_keys(args.keys_dir, activate_after=args.activate_after)
        print(f"RS256: new key kid={kid} published now, signing in {args.activate_after:g} s (resource "
              f"servers find it on their next JWKS fetch); the old one stays in the JWKS until pruned")
        rotated = True
    if not rotated:
        raise ConfigError(f"nothing to rotate in {args.keys_dir}: no secrets.json and no oauth-proxy key index "
                          f"(run python run.py keys generate, or start a server once)")
    return 0


def prune(args: argparse.Namespace) -> int:
    with keys.keys_lock(args.keys_dir):
        return _prune(args)


def _prune(args: argparse.Namespace) -> int:
    from servers.common import jwks

    gone = keys.prune_secrets(args.keys_dir, args.max_token_age)
    print(f"HS256: pruned {len(gone)} retired secret(s) {gone if gone else ''}".rstrip())
    pruned = jwks.prune_keys(args.keys_dir, args.max_token_age)
    print(f"RS256: pruned {len(pruned)} retired key(s) {pruned if pruned else ''}".rstrip())
    return 0


def register(sub) -> None:
    p = sub.add_parser("keys", help="generate, show, rotate and prune key material",
                       description="Key material lives in keys/ (mode 0600, gitignored).")
    ks = p.add_subparsers(dest="keys_command", metavar="ACTION")
    ks.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--keys-dir", type=Path, default=Path("keys"), help="default ./keys")
    g = ks.add_parser("generate", parents=[common], help="write the HS256 secret to keys/secrets.json")
    g.add_argument("--force", action="store_true", help="replace an existing secret (invalidates tokens)")
    g.set_defaults(func=generate)
    s = ks.add_parser("show", parents=[common], help="list key material (secrets hidden)")
    s.add_argument("--reveal", action="store_true", help="also print the HS256 secrets")
    s.set_defaults(func=show)
    r = ks.add_parser("rotate", parents=[common], help="add new signing keys; old ones keep verifying")
    r.add_argument("--activate-after", type=float, default=60.0,
                   help="RS256: seconds between publishing the new key in the JWKS and signing with it "
                        "(default 60; keep it above your resource servers' JWKS refetch interval, 30 s for "
                        "backend4, so no request fails)")
    r.set_defaults(func=rotate)
    pr = ks.add_parser("prune", parents=[common], help="remove keys retired longer than the token lifetime")
    pr.add_argument("--max-token-age", type=int, default=1800 + 30,
                    help="seconds a retired key must have been retired (default 1830: 30 min + leeway)")
    pr.set_defaults(func=prune)
