"""``run.py clients add|list|show|remove``: the OAuth clients of oauth-proxy (in the shared store).

The store is seeded with ``frontend``, ``backend4-docs`` and ``m2m`` on first use (by the server or by
this command). A confidential client's secret is 256 random bits, stored as a SHA-256 digest only: ``add``
prints it once; the seeded ``m2m`` secret is kept in ``keys/client-secret-m2m`` (mode 0600) so that
``clients show m2m`` can print it.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from servers.common.app import seed_users
from servers.common.keys import write_private
from servers.common.settings import ConfigError, env_int
from servers.common.store import open_store
from servers.oauth_proxy.clients import (ALL_GRANTS, CLIENT_CREDENTIALS, CODE, CONFIDENTIAL, DEFAULT_RESOURCE,
                                         NS, PUBLIC, REFRESH, SCOPES, Client, check_redirect_uri_registration,
                                         new_secret, secret_digest, secret_file, seed_clients)


def _print_client(c: Client, secret: str | None, as_json: bool) -> None:
    if as_json:
        print(json.dumps({**c.public_view(), **({"client_secret": secret} if secret else {})}, indent=2))
        return
    print(f"client_id:      {c.client_id}")
    print(f"type:           {c.type}")
    print(f"grant types:    {' '.join(c.grant_types) or '-'}")
    print(f"scopes:         {' '.join(c.scopes) or '-'}")
    print(f"audiences:      {' '.join(c.audiences) or '-'} (the first is the default)")
    for u in c.redirect_uris:
        print(f"redirect_uri:   {u}")
    for o in sorted(c.origins()):
        print(f"CORS origin:    {o}")
    if c.confidential:
        print(f"client_secret:  {secret}" if secret else
              "client_secret:  (not kept: it was shown once when the client was added)")


def _read_secret(keys_dir: Path, client: Client) -> str | None:
    path = secret_file(keys_dir, client.client_id)
    if not client.confidential or not path.exists():
        return None
    secret = path.read_text().strip()
    return secret if secret_digest(secret) == client.secret_sha256 else None


async def _run(args: argparse.Namespace) -> int:
    store = open_store(args.data_dir, args.store_url)
    try:
        await seed_users(store, env_int("OAUTHLAB_BCRYPT_ROUNDS", 12))
        await seed_clients(store, args.keys_dir)
        cmd = args.clients_command
        if cmd == "list":
            clients = [Client.from_record(r) for _, r in await store.list(NS)]
            if args.json:
                print(json.dumps([c.public_view() for c in clients], indent=2))
            for c in [] if args.json else clients:
                print(f"{c.client_id:<20} {c.type:<13} grants={','.join(c.grant_types):<45} "
                      f"scopes={' '.join(c.scopes)}")
            return 0
        record = await store.get(NS, args.client_id)
        if cmd == "add":
            return await _add(args, store, record)
        if record is None:
            raise ConfigError(f"no client {args.client_id!r}")
        client = Client.from_record(record)
        if cmd == "show":
            _print_client(client, _read_secret(args.keys_dir, client), args.json)
        elif cmd == "remove":
            await store.delete(NS, client.client_id)
            secret_file(args.keys_dir, client.client_id).unlink(missing_ok=True)
            print(f"removed {client.client_id} (its tokens stay valid until they expire; revoke them first)")
        return 0
    finally:
        await store.close()


async def _add(args: argparse.Namespace, store, existing) -> int:
    cid = args.client_id
    if existing is not None:
        raise ConfigError(f"client {cid!r} already exists")
    if not cid or len(cid) > 100 or any(ch.isspace() or ch == ":" for ch in cid):
        raise ConfigError("client_id must be 1-100 characters without spaces or ':'")
    # RFC 9700 §4.15.1: a client_credentials token has sub = client_id; it must never equal a user's sub.
    if await store.get_user(cid) is not None:
        raise ConfigError(f"client_id {cid!r} is the name of a user: a client's tokens would carry that sub")
    confidential = args.type == CONFIDENTIAL
    grants = tuple(args.grant) if args.grant else ((CLIENT_CREDENTIALS,) if confidential else (CODE, REFRESH))
    if not confidential and CLIENT_CREDENTIALS in grants:
        raise ConfigError("client_credentials needs a confidential client (RFC 6749 §4.4)")
    for uri in args.redirect_uri:
        check_redirect_uri_registration(uri)
    if CODE in grants and not args.redirect_uri:
        raise ConfigError("the authorization_code grant needs at least one --redirect-uri")
    scopes = tuple(args.scopes.split())
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ConfigError(f"unknown scope(s) {unknown}; known: {' '.join(SCOPES)}")
    secret = new_secret() if confidential else None
    client = Client(cid, args.type, tuple(args.redirect_uri), scopes, tuple(args.audience or (DEFAULT_RESOURCE,)),
                    grants, secret_digest(secret) if secret else None, tuple(args.cors_origin), int(time.time()))
    await store.put(NS, cid, client.to_record())
    if secret and args.keep_secret:
        write_private(secret_file(args.keys_dir, cid), secret + "\n")
    print(f"added {args.type} client {cid}")
    if secret:
        print(f"client_secret: {secret}")
        print("  (shown once; only its SHA-256 digest is stored" +
              (f"; also kept in {secret_file(args.keys_dir, cid)})" if args.keep_secret else ")"))
    return 0


def register(sub) -> None:
    p = sub.add_parser("clients", help="manage the OAuth clients of oauth-proxy",
                       description="Clients live in the store shared by oauth-proxy instances.")
    cs = p.add_subparsers(dest="clients_command", metavar="ACTION")
    cs.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=Path(".oauthlab"), help="default ./.oauthlab")
    common.add_argument("--store", dest="store_url", help="sqlite:PATH or a Redis URL (redis://, "
                        "redis+sentinel://, redis+cluster://; see docs/scaling.md)")
    common.add_argument("--keys-dir", type=Path, default=Path("keys"), help="default ./keys")
    a = cs.add_parser("add", parents=[common], help="register a client")
    a.add_argument("client_id")
    a.add_argument("--type", choices=[PUBLIC, CONFIDENTIAL], default=PUBLIC)
    a.add_argument("--redirect-uri", action="append", default=[], help="exact redirect URI (repeatable)")
    a.add_argument("--scopes", default="me items", help="allowed scopes (default 'me items')")
    a.add_argument("--audience", action="append", help=f"allowed resource (repeatable; the first is the "
                   f"default; default {DEFAULT_RESOURCE})")
    a.add_argument("--grant", action="append", choices=ALL_GRANTS,
                   help="allowed grant type (repeatable; default: code+refresh for public clients, "
                   "client_credentials for confidential ones)")
    a.add_argument("--cors-origin", action="append", default=[], help="extra browser origin (repeatable)")
    a.add_argument("--keep-secret", action="store_true", help="also keep the secret in keys/ (mode 0600) "
                   "so that `clients show` can print it")
    ls = cs.add_parser("list", parents=[common], help="list clients")
    ls.add_argument("--json", action="store_true")
    s = cs.add_parser("show", parents=[common], help="show one client (and its kept secret, e.g. m2m)")
    s.add_argument("client_id")
    s.add_argument("--json", action="store_true")
    r = cs.add_parser("remove", parents=[common], help="remove a client")
    r.add_argument("client_id")
    p.set_defaults(func=lambda args: asyncio.run(_run(args)))
