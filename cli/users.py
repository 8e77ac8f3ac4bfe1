"""``run.py users add|list|disable|enable|passwd``: the users of the store (shared by all servers)."""
from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from pathlib import Path

from servers.common.app import seed_users
from servers.common.passwords import hash_password
from servers.common.settings import ConfigError, env_int
from servers.common.store import User, open_store


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        pw = sys.stdin.readline().rstrip("\n")
    elif os.environ.get("OAUTHLAB_PASSWORD"):
        pw = os.environ["OAUTHLAB_PASSWORD"]
    elif sys.stdin.isatty():
        pw = getpass.getpass("password: ")
        if getpass.getpass("again: ") != pw:
            raise ConfigError("the passwords differ")
    else:
        raise ConfigError("no password: use --password-stdin or OAUTHLAB_PASSWORD (never a command-line argument)")
    if not pw:
        raise ConfigError("empty password")
    if len(pw.encode()) > 72:
        raise ConfigError("passwords are limited to 72 bytes (bcrypt)")
    return pw


async def _run(args: argparse.Namespace) -> int:
    store = open_store(args.data_dir, args.store_url)
    rounds = env_int("OAUTHLAB_BCRYPT_ROUNDS", 12)
    try:
        await seed_users(store, rounds)
        if args.users_command == "list":
            users = await store.list_users()
            if args.json:
                print(json.dumps([{**u.public(), "scopes": list(u.scopes)} for u in users], indent=2))
            else:
                for u in users:
                    print(f"{u.username:<16} {'disabled' if u.disabled else 'enabled ':<8} "
                          f"scopes={' '.join(u.scopes) or '-':<12} {u.full_name} <{u.email}>")
            return 0
        if args.users_command == "add":
            if await store.get_user(args.username):
                raise ConfigError(f"user {args.username!r} already exists")
            h = hash_password(_password(args), rounds)
            try:
                await store.add_user(User(args.username, args.full_name or "", args.email or "",
                                          tuple(args.scopes.split()), False, h))
            except KeyError:  # created by someone else since the check above
                raise ConfigError(f"user {args.username!r} already exists") from None
            print(f"added {args.username}")
            return 0
        if await store.get_user(args.username) is None:
            raise ConfigError(f"no user {args.username!r}")
        if args.users_command in ("disable", "enable"):
            await store.update_user(args.username, disabled=args.users_command == "disable")
            print(f"{args.users_command}d {args.username}")
        elif args.users_command == "passwd":
            await store.update_user(args.username, password_hash=hash_password(_password(args), rounds))
            print(f"password changed for {args.username}")
        return 0
    finally:
        await store.close()


def register(sub) -> None:
    p = sub.add_parser("users", help="manage users in the store",
                       description="Users are shared by all servers using the same data directory.")
    us = p.add_subparsers(dest="users_command", metavar="ACTION")
    us.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=Path(".oauthlab"), help="default ./.oauthlab")
    common.add_argument("--store", dest="store_url", help="sqlite:PATH or a Redis URL (redis://, "
                        "redis+sentinel://, redis+cluster://; see docs/scaling.md)")
    pw = argparse.ArgumentParser(add_help=False)
    pw.add_argument("--password-stdin", action="store_true", help="read the password from standard input "
                    "(else $OAUTHLAB_PASSWORD, else a prompt)")
    a = us.add_parser("add", parents=[common, pw], help="add a user")
    a.add_argument("username")
    a.add_argument("--full-name", default="")
    a.add_argument("--email", default="")
    a.add_argument("--scopes", default="me items", help="allowed scopes, space-separated (default 'me items')")
    ls = us.add_parser("list", parents=[common], help="list users")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    for action in ("disable", "enable"):
        x = us.add_parser(action, parents=[common], help=f"{action} a user (its tokens stop/start working)")
        x.add_argument("username")
    x = us.add_parser("passwd", parents=[common, pw], help="change a user's password")
    x.add_argument("username")
    p.set_defaults(func=lambda args: asyncio.run(_run(args)))
