"""oauth-proxy — an OAuth 2.0 authorization server (``run.py serve oauth-proxy``, port 9001).

Authorization Code + PKCE (S256 only) for public clients, client_credentials for confidential ones,
refresh token rotation with reuse detection, token exchange (RFC 8693) for trusted external issuers,
revocation (RFC 7009) and introspection (RFC 7662). Access tokens are RS256 JWTs (RFC 9068) verifiable by
anyone with the JWKS.

Modules, one concern each:
    metadata.py   RFC 8414 / OIDC discovery, JWKS
    authorize.py  /authorize: parks the request or redirects with a code
    checks.py     the checks of an authorization request, in order
    login.py      /login: the login form and its submission
    pages.py      the HTML pages (login form, error page) and their security headers
    grants.py     /token: authorization_code, refresh_token, client_credentials
    exchange.py   /token: token exchange with trusted issuers
    audience.py   the audience and scope of a new token (used by authorize and every grant)
    revoke.py     /revoke, /introspect, /revocations
    openapi.py    the OpenAPI document (/openapi.json, Swagger UI at /docs)
    clients.py    client records, client authentication, seeding
    issuer.py     signing, refresh token families, codes, revocation bookkeeping
"""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from aiohttp import web

from servers.common import docs
from servers.common.app import SETTINGS, STORE, health, store_context
from servers.common.jwks import KeyRing
from servers.common.middleware import add_routes, base_app
from servers.common.settings import Settings

from . import authorize, grants, login, metadata, openapi, revoke
from .clients import ClientRegistry, seed_clients
from .context import PROXY, Proxy, cors_middleware
from .exchange import parse_trusted, trusted_context
from .issuer import TokenService

log = logging.getLogger("oauthlab.oauth_proxy")


def create_app(settings: Settings) -> web.Application:
    keyring = KeyRing(settings.keys_dir)  # generates the first RSA-2048 key (0600) if there is none
    trusted = parse_trusted(settings.trusted_issuers)
    app = base_app(settings.max_body, extra_middlewares=(cors_middleware,))
    app[SETTINGS] = settings
    app.cleanup_ctx.append(store_context(settings))

    @asynccontextmanager
    async def proxy_ctx(app: web.Application):
        store = app[STORE]
        if await seed_clients(store, settings.keys_dir):
            log.info("new store: seeded clients frontend, backend4-docs and m2m (secret in %s)",
                     settings.keys_dir / "client-secret-m2m")
        issuer = settings.token_issuer
        app[PROXY] = Proxy(settings=settings, issuer=issuer, base_url=settings.base_url, keyring=keyring,
                           clients=ClientRegistry(store, settings),
                           tokens=TokenService(store, keyring, issuer, settings.access_token_ttl,
                                               settings.leeway))
        yield

    app.cleanup_ctx.append(proxy_ctx)
    app.cleanup_ctx.append(trusted_context(trusted, settings.leeway))
    add_routes(app, [*metadata.routes, *authorize.routes, *login.routes, *grants.routes, *revoke.routes,
                     web.get("/health", health)])
    # /openapi.json and Swagger UI at /docs; Authorize = client_secret_basic (see openapi.py for why).
    docs.add_docs(app, openapi.openapi(settings.token_issuer))
    return app
