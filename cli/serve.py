"""``run.py serve NAME``: start one of the reference servers."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

from servers.common.settings import DEFAULT_PORTS, ConfigError, Settings, env_int

from . import SERVER_NAMES, setup_logging


def add_server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: backends 9000, oauth-proxy 9001, frontend 8080)")
    p.add_argument("--data-dir", type=Path, default=Path(".oauthlab"),
                   help="where the SQLite store lives (default ./.oauthlab)")
    p.add_argument("--keys-dir", type=Path, default=Path("keys"), help="key material (default ./keys)")
    p.add_argument("--public-url", help="this server's public base URL (default http://HOST:PORT)")
    p.add_argument("--issuer", help="the issuer of this server's tokens (default: the public URL)")
    p.add_argument("--audience", help="this resource's identifier, the aud of its tokens (default: public URL)")
    p.add_argument("--store", dest="store_url", help="sqlite:PATH (default), redis://HOST:PORT/DB, "
                   "redis+sentinel://HOST:PORT[,HOST:PORT...]/SERVICE[/DB] or redis+cluster://HOST:PORT[,...]")
    p.add_argument("--upstream-issuer", help="backend4/frontend: the authorization server's issuer URL "
                   "(default http://127.0.0.1:9001)")
    p.add_argument("--jwks-uri", help="backend4: the JWKS URL (default: from the issuer's metadata)")
    p.add_argument("--revocation-list-uri", help="backend4: the issuer's list of revoked access tokens "
                   "(default: revocation_list_endpoint from the issuer's metadata)")
    p.add_argument("--revocation-poll-interval", type=float, metavar="SECONDS",
                   help="backend4: how often the revocation list is polled (default 5)")
    p.add_argument("--jwks-refetch-interval", type=float, metavar="SECONDS",
                   help="backend4: an unknown kid refetches the JWKS at most this often (default 30)")
    p.add_argument("--api-url", dest="frontend_api", help="frontend: the API it calls (default "
                   "http://127.0.0.1:9000)")
    p.add_argument("--trusted-issuers", type=Path, help="oauth-proxy: JSON file of external issuers "
                   "trusted for token exchange")
    p.add_argument("--frontend-url", action="append", default=[], metavar="URL",
                   help="oauth-proxy: an SPA base URL; URL/callback becomes a redirect of the frontend client "
                   "and URL a CORS origin; backend4: an extra CORS origin for the SPA (repeatable)")
    p.add_argument("--resource-url", action="append", default=[], metavar="URL",
                   help="oauth-proxy: a resource server base URL; URL/docs/oauth2-redirect.html becomes a "
                   "redirect of backend4-docs; the first is the default audience (repeatable)")


def settings_from_args(args: argparse.Namespace, name: str) -> Settings:
    trusted: tuple = ()
    if getattr(args, "trusted_issuers", None):
        try:
            trusted = tuple(json.loads(Path(args.trusted_issuers).read_text()))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--trusted-issuers {args.trusted_issuers}: {exc}") from exc
    return Settings(
        name=name, host=args.host, port=args.port or DEFAULT_PORTS[name], data_dir=args.data_dir,
        keys_dir=args.keys_dir, public_url=args.public_url, issuer=args.issuer, audience=args.audience,
        store_url=args.store_url, upstream_issuer=args.upstream_issuer, jwks_uri=args.jwks_uri,
        frontend_api=args.frontend_api, trusted_issuers=trusted,
        frontend_urls=tuple(getattr(args, "frontend_url", None) or ()),
        resource_urls=tuple(getattr(args, "resource_url", None) or ()),
        bcrypt_rounds=env_int("OAUTHLAB_BCRYPT_ROUNDS", 12),
        revocation_list_uri=getattr(args, "revocation_list_uri", None),
        **({"revocation_poll_interval": args.revocation_poll_interval}
           if getattr(args, "revocation_poll_interval", None) is not None else {}),
        **({"jwks_refetch_interval": args.jwks_refetch_interval}
           if getattr(args, "jwks_refetch_interval", None) is not None else {}),
    )


def check_writable(settings: Settings) -> None:
    """A read-only or full data directory is a clear start-up error, not a crash on the first login.
    The probe is a file of this process's own (a unique name), so servers starting at the same moment on
    one directory never remove each other's."""
    for d in (settings.data_dir, settings.keys_dir):
        try:
            d.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=d)
            try:
                os.write(fd, b"ok")
            finally:
                os.close(fd)
                os.unlink(probe)
        except OSError as exc:
            raise ConfigError(f"{d} is not writable ({exc.strerror or exc}); choose another with "
                              f"--data-dir/--keys-dir or fix its permissions or free space") from exc


def run(args: argparse.Namespace) -> int:
    from aiohttp import web

    from servers.common.app import new_event_loop
    from servers.common.middleware import AccessLogger
    from servers.registry import app_factory

    setup_logging(args.log_level)
    settings = settings_from_args(args, args.name)
    check_writable(settings)
    app = app_factory(args.name)(settings)
    log = logging.getLogger("oauthlab")
    loop, loop_name = new_event_loop(not args.no_uvloop)
    log.info("%s on %s (data %s, keys %s, %s)", args.name, settings.base_url, settings.data_dir.resolve(),
             settings.keys_dir.resolve(), loop_name)
    try:
        web.run_app(app, host=settings.host, port=settings.port, access_log_class=AccessLogger,
                    access_log=logging.getLogger("oauthlab.access"), print=None, loop=loop)
    except OSError as exc:
        print(f"error: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return 0


def register(sub) -> None:
    p = sub.add_parser("serve", help="start a reference server",
                       description="Start a reference server. Logs one line per request (never a token).")
    p.add_argument("name", choices=SERVER_NAMES, metavar="NAME", help=" | ".join(SERVER_NAMES))
    add_server_options(p)
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--no-uvloop", action="store_true", help="serve on asyncio's event loop even if uvloop "
                   "(the [speed] extra) is installed; OAUTHLAB_UVLOOP=0 does the same")
    p.set_defaults(func=run)
