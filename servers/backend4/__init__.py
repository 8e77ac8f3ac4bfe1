"""backend4 — a resource server for an RS256 authorization server (oauth-proxy by default).

It knows nothing of users or passwords: it trusts one issuer, whose keys it fetches, and believes what a
verified token says.

- The issuer's keys: the shared ``RemoteJWKS`` (servers/common/jwks/remote.py) with RS256 only. Discovery
  (RFC 8414, then OpenID Connect) of ``--upstream-issuer`` finds the ``jwks_uri``, unless ``--jwks-uri`` is
  given. Start-up never waits for the issuer: a background task fetches the keys with backoff, and a
  request that finds no key fetches them itself. An unknown ``kid`` refetches at most once per 30 s
  (RFC 9068 §4 "MUST use the keys provided by the authorization server"; the limit keeps forged kids from
  turning us into a load generator against the issuer). If the issuer is down the cached keys keep
  serving; if we never had keys the answer is 503 ``temporarily_unavailable``. Only keys usable for RS256
  are taken (RFC 8725 §3.1, RFC 7518 §3.3: RSA >= 2048 bits, use sig, alg RS256 if present, key_ops
  verify, public only, unambiguous kid).
- Revocation: the issuer's list of revoked access-token jtis (``revocation_list_endpoint`` in its metadata,
  or ``--revocation-list-uri``) is polled every ``--revocation-poll-interval`` seconds (default 5) with a
  conditional GET; a token whose jti is listed is 401 ``invalid_token`` (one set look-up after the cached
  verification) and leaves the verified-token cache. If the list cannot be fetched the last one applies.
- Verification is the shared ``TokenVerifier`` with one fixed policy: RS256 only, ``typ`` at+jwt
  (RFC 9068 §4), ``iss`` = the upstream issuer, ``aud`` = this resource's identifier (``--audience``,
  default its public URL), exp/nbf/iat with <= 30 s leeway, required exp iat iss aud sub client_id jti.
- /users/me (scope ``me``), /users/me/items (``items``), /status (any valid token), /health; errors are
  RFC 6750's, exactly as on the password servers; CORS for the frontend's origins (tokens travel in the
  Authorization header, never in cookies, so no credentials mode).
- /docs: Swagger UI whose Authorize button runs Authorization Code + PKCE against the issuer with the
  public client ``backend4-docs``.

Modules: revocation.py (the polled revocation list), cors.py, routes.py (the protected routes), openapi.py
(the document for /docs); this one wires them into the app.
"""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from servers.common import docs
from servers.common.app import SETTINGS, health
from servers.common.background import polling
from servers.common.bearer import AUTHENTICATOR, Principal, principal_from_claims
from servers.common.errors import InvalidToken
from servers.common.jwks import RemoteJWKS
from servers.common.middleware import add_routes, base_app
from servers.common.settings import ConfigError, Settings
from servers.common.tokens import TokenPolicy, TokenVerifier

from .cors import ORIGINS, add_cors_headers, frontend_origins, preflight_middleware
from .openapi import SCOPES, openapi, upstream_issuer, use_discovered_endpoints
from .revocation import RevocationList
from .routes import ROUTES

log = logging.getLogger("oauthlab.backend4")

DOCS_CLIENT_ID = "backend4-docs"
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "client_id", "jti")


KEYSET = web.AppKey("keyset", RemoteJWKS)
REVOCATIONS = web.AppKey("revocations", RevocationList)
VERIFIER = web.AppKey("verifier", TokenVerifier)


class JwtAuthenticator:
    """The AUTHENTICATOR of backend4: a verified token is the whole principal (no user store)."""

    def __init__(self, verifier: TokenVerifier, revocations: RevocationList | None = None) -> None:
        self.verifier = verifier
        self.revocations = revocations

    def cached(self, token: str) -> Principal | None:
        """A principal verified before, not expired and not revoked since; None otherwise (the full path
        then runs and gives the exact error)."""
        principal = self.verifier.cached(token)
        if principal is None or (self.revocations is not None
                                 and self.revocations.is_revoked(principal.claims["jti"])):
            return None
        return principal

    async def authenticate(self, token: str) -> Principal:
        """RFC 9068 §4 verification, then RFC 7009 revocation as the issuer publishes it: a listed jti is
        ``invalid_token`` (RFC 6750 §3.1: "The access token provided is expired, revoked, ...")."""
        principal = await self.verifier.verify(token)  # cached with the token (make=principal_from_claims)
        # After the (cached) verification: one set look-up. jti is a required claim here.
        if self.revocations is not None and self.revocations.is_revoked(principal.claims["jti"]):
            raise InvalidToken("token revoked at the issuer")
        return principal


def token_policy(settings: Settings) -> TokenPolicy:
    return TokenPolicy(algorithms=("RS256",), issuer=upstream_issuer(settings),
                       audience=settings.token_audience, leeway=min(settings.leeway, 30),
                       typ=("at+jwt",), required=REQUIRED_CLAIMS)


def keyset_context(settings: Settings):
    """cleanup_ctx: the HTTP client session, the key set and the revocation list with their background
    tasks, wired to the verifier's cache."""
    @asynccontextmanager
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        keyset, revocations, verifier = app[KEYSET], app[REVOCATIONS], app[VERIFIER]
        # A key the issuer withdrew must stop working at once, cached verifications included.
        keyset.on_keys_removed = lambda kids: verifier.forget(lambda claims: True)
        # A revoked token leaves the cache too (the per-request set look-up refuses it anyway).
        revocations.on_revoked = lambda jtis: verifier.forget(lambda claims: claims.get("jti") in jtis)

        def on_metadata(meta: dict) -> None:
            use_discovered_endpoints(app[docs.OPENAPI], meta)
            revocations.use_metadata(meta)
        keyset.on_metadata = on_metadata
        async with aiohttp.ClientSession(headers={"User-Agent": "oauthlab-backend4"}) as session, \
                polling(revocations, session), keyset.running(session):
            yield
    return ctx


def create_app(settings: Settings) -> web.Application:
    app = base_app(settings.max_body, extra_middlewares=(preflight_middleware,))
    app[SETTINGS] = settings
    app[ORIGINS] = frontend_origins(settings)
    policy = token_policy(settings)
    # discover_metadata: even with --jwks-uri, the metadata feeds /docs and names the revocation list.
    if not 0.1 <= settings.jwks_refetch_interval <= 3600:
        raise ConfigError(f"jwks_refetch_interval must be between 0.1 and 3600 s, got {settings.jwks_refetch_interval!r}")
    keyset = RemoteJWKS(policy.issuer, settings.jwks_uri, algorithms=policy.algorithms, discover_metadata=True,
                        refetch_interval=settings.jwks_refetch_interval)
    interval = settings.revocation_poll_interval
    if not isinstance(interval, (int, float)) or not 0.1 <= interval <= 3600:
        raise ConfigError(f"revocation_poll_interval must be between 0.1 and 3600 s, got {interval!r}")
    revocations = RevocationList(policy.issuer, settings.revocation_list_uri, interval=float(interval),
                                 leeway=policy.leeway)
    verifier = TokenVerifier(policy, keyset.resolve, make=principal_from_claims)
    app[KEYSET] = keyset
    app[REVOCATIONS] = revocations
    app[VERIFIER] = verifier
    app[AUTHENTICATOR] = JwtAuthenticator(verifier, revocations)
    app.cleanup_ctx.append(keyset_context(settings))
    app.on_response_prepare.append(add_cors_headers)
    defs = [web.get("/health", health)] + [web.get(path, h) for path, (_, h, _) in ROUTES.items()]
    add_routes(app, defs)
    document = openapi(settings)
    # RFC 8707: ask for a token for THIS resource (its exact identifier), so the aud is right even when the
    # issuer serves several resources; an issuer that does not know it answers invalid_target up front.
    docs.add_docs(app, document, oauth={"clientId": DOCS_CLIENT_ID, "usePkceWithAuthorizationCodeGrant": True,
                                        "scopes": " ".join(SCOPES),
                                        "additionalQueryStringParams": {"resource": settings.token_audience}})
    return app
