"""backend4 — a resource server for an RS256 authorization server (oauth-proxy by default).

It knows nothing of users or passwords: it trusts one issuer, whose keys it fetches, and believes what a
verified token says.

- The issuer's keys: the shared ``RemoteJWKS`` (servers/common/jwks.py) with RS256 only. Discovery
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
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from .common import docs
from .common.background import polling
from .common.app import SETTINGS, health
from .common.bearer import AUTHENTICATOR, PRINCIPAL, Principal, principal_from_claims, requires
from .common.discovery import DiscoveryError, check_http_url, fetch_json_if_changed
from .common.errors import InvalidToken
from .common.jwks import RemoteJWKS
from .common.middleware import add_routes, base_app
from .common.password_grant import ITEMS
from .common.settings import ConfigError, Settings
from .common.tokens import TokenPolicy, TokenVerifier

log = logging.getLogger("oauthlab.backend4")

DEFAULT_ISSUER = "http://127.0.0.1:9001"
DEFAULT_FRONTEND_ORIGINS = ("http://localhost:8080", "http://127.0.0.1:8080")
DOCS_CLIENT_ID = "backend4-docs"
SCOPES = {"me": "Read what the token says about you", "items": "Read your items"}
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "client_id", "jti")


# -- revocation: the issuer's list of revoked access tokens ----------------------------------------
MAX_REVOCATION_LIST_BYTES = 4 * 1024 * 1024
MAX_JTI_LENGTH = 256


def revoked_entries(document: dict, issuer: str) -> dict[str, float]:
    """jti -> exp from a revocation list ``{"issuer", "revoked": [{"jti", "exp"}]}``; a list of another
    issuer is not used; malformed entries are skipped (one bad entry must not hide the others)."""
    if "issuer" in document and document["issuer"] != issuer:
        raise DiscoveryError(f"revocation list of issuer {str(document['issuer'])[:80]!r}, not {issuer!r}")
    entries = document.get("revoked")
    if not isinstance(entries, list):
        raise DiscoveryError("the revocation list has no 'revoked' array")
    out: dict[str, float] = {}
    for e in entries:
        if not isinstance(e, dict):
            continue
        jti, exp = e.get("jti"), e.get("exp")
        if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
            continue
        if isinstance(exp, bool) or not isinstance(exp, (int, float)) or not math.isfinite(exp):
            continue
        out[jti] = max(float(exp), out.get(jti, -math.inf))
    return out


class RevocationList:
    """The revoked access-token jtis the issuer publishes (oauth-proxy ``GET /revocations``, advertised as
    ``revocation_list_endpoint`` in its metadata, or ``--revocation-list-uri``), polled every ``interval``
    seconds with a conditional GET. Entries are kept until their token's ``exp`` (+ leeway), even if the
    list forgets them; when the issuer is down the last list keeps being applied."""

    def __init__(self, issuer: str, uri: str | None = None, *, interval: float = 5.0, leeway: float = 30.0,
                 timeout: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self.issuer = issuer
        self.configured_uri = uri
        self.discovered_uri: str | None = None
        self.interval = interval
        self.leeway = leeway
        self.timeout = timeout
        self.clock = clock
        self.session: aiohttp.ClientSession | None = None
        self.revoked: dict[str, float] = {}  # jti -> exp
        self.etag: str | None = None
        self.polls = 0
        self.polled_at: float | None = None  # last successful poll (wall clock)
        self.failing = False
        self.on_revoked: Callable[[set[str]], None] | None = None

    @property
    def uri(self) -> str | None:
        return self.configured_uri or self.discovered_uri

    def use_metadata(self, metadata: dict) -> None:
        """The endpoint from the issuer's (RFC 8414 §3.3-checked) metadata, unless one is configured."""
        try:
            self.discovered_uri = check_http_url(metadata.get("revocation_list_endpoint"),
                                                 "revocation_list_endpoint")
        except DiscoveryError:
            self.discovered_uri = None

    def is_revoked(self, jti: str) -> bool:
        return jti in self.revoked

    def prune(self) -> None:
        cutoff = self.clock() - self.leeway
        for jti in [j for j, exp in self.revoked.items() if exp < cutoff]:
            del self.revoked[jti]

    async def poll(self) -> bool:
        """One poll. Newly revoked jtis are reported to ``on_revoked``; a failure keeps the list we have."""
        uri = self.uri
        if uri is None or self.session is None:
            return False
        self.polls += 1
        try:
            doc, etag = await fetch_json_if_changed(self.session, uri, self.etag, timeout=self.timeout,
                                                    max_bytes=MAX_REVOCATION_LIST_BYTES)
            entries = revoked_entries(doc, self.issuer) if doc is not None else {}
        except DiscoveryError as exc:
            if not self.failing:  # once per outage, not every few seconds
                log.warning("revocation list unavailable (%s); applying the last one (%d jti(s))", exc,
                            len(self.revoked))
            self.failing = True
            return False
        if self.failing:
            log.info("revocation list reachable again")
            self.failing = False
        new = {jti for jti in entries if jti not in self.revoked}
        for jti, exp in entries.items():
            self.revoked[jti] = max(exp, self.revoked.get(jti, -math.inf))
        self.etag = etag
        self.prune()
        self.polled_at = self.clock()
        if new:
            log.info("revocation list: %d newly revoked token(s)", len(new))
            if self.on_revoked is not None:
                self.on_revoked(new)
        return True

    async def run(self) -> None:
        while True:
            await self.poll()
            await asyncio.sleep(self.interval)


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
        principal = await self.verifier.verify(token)  # cached with the token (make=principal_from_claims)
        # After the (cached) verification: one set look-up. jti is a required claim here.
        if self.revocations is not None and self.revocations.is_revoked(principal.claims["jti"]):
            raise InvalidToken("token revoked at the issuer")
        return principal


# -- settings ------------------------------------------------------------------------------------------
def upstream_issuer(settings: Settings) -> str:
    return settings.upstream_issuer or DEFAULT_ISSUER


def token_policy(settings: Settings) -> TokenPolicy:
    return TokenPolicy(algorithms=("RS256",), issuer=upstream_issuer(settings),
                       audience=settings.token_audience, leeway=min(settings.leeway, 30),
                       typ=("at+jwt",), required=REQUIRED_CLAIMS)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def frontend_origins(settings: Settings) -> frozenset[str]:
    """Origins allowed to call the API from a browser: the frontend's defaults plus any --frontend-url."""
    extra = tuple(getattr(settings, "frontend_urls", ()) or ())
    return frozenset(DEFAULT_FRONTEND_ORIGINS + tuple(origin_of(u) for u in extra))


# -- CORS (Fetch standard): the SPA calls the API with an Authorization header ------------------------
ORIGINS = web.AppKey("cors_origins", frozenset)
CORS_HEADERS = {"Access-Control-Allow-Methods": "GET", "Access-Control-Allow-Headers": "Authorization",
                "Access-Control-Max-Age": "600"}


@web.middleware
async def preflight_middleware(request: web.Request, handler) -> web.StreamResponse:
    """CORS preflight (OPTIONS with Access-Control-Request-Method) on any path: allowed origins get the
    methods/headers; others get no CORS headers (the browser then blocks the request)."""
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return await handler(request)
    resp = web.Response(status=204)
    if request.headers.get("Origin") in request.app[ORIGINS]:
        resp.headers.update(CORS_HEADERS)
    return resp


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every response (errors included, so the SPA can read a 401) to an allowed origin."""
    origin = request.headers.get("Origin")
    response.headers.add("Vary", "Origin")
    if origin is not None and origin in request.app[ORIGINS]:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "WWW-Authenticate"


# -- routes --------------------------------------------------------------------------------------------
TOKEN_USER_SCHEMA = {
    "type": "object", "required": ["username", "client_id", "scope"],
    "properties": {"username": {"type": "string", "description": "the token's sub"},
                   "client_id": {"type": "string"}, "azp": {"type": "string"},
                   "scope": {"type": "string"}, "gty": {"type": "string"},
                   "iss": {"type": "string"}, "exp": {"type": "integer"}},
}


@requires("me")
async def read_users_me(request: web.Request) -> web.Response:
    """What the token says about its subject: the API has no user store of its own. The body depends on
    the token only, so it is serialised once per token (kept with the cached principal)."""
    principal = request[PRINCIPAL]
    body = principal.memo.get("users/me")
    if body is None:
        c = principal.claims
        doc = {"username": c["sub"], "client_id": c["client_id"], "scope": c.get("scope", "")}
        doc.update({k: c[k] for k in ("azp", "gty", "iss", "exp") if k in c})
        body = principal.memo["users/me"] = json.dumps(doc).encode()
    return web.Response(body=body, content_type="application/json")


@requires("items")
async def read_own_items(request: web.Request) -> web.Response:
    owner = request[PRINCIPAL].claims["sub"]
    return web.json_response([{"item_id": i, "owner": owner} for i in ITEMS])


@requires()
async def read_status(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


ROUTES = {"/users/me": ("What the token says about you (scope me)", read_users_me, TOKEN_USER_SCHEMA),
          "/users/me/items": ("Your items (scope items)", read_own_items, docs.ITEMS_SCHEMA),
          "/status": ("Token check (any valid token)", read_status, docs.STATUS_SCHEMA)}


def openapi(settings: Settings) -> dict:
    issuer = upstream_issuer(settings)
    paths: dict = {"/health": docs.public_get("Liveness check (no auth)", docs.STATUS_SCHEMA)}
    for path, (summary, handler, schema) in ROUTES.items():
        paths[path] = docs.protected_get(summary, schema, handler.required_scopes, "OAuth2")
    scheme = {"type": "oauth2", "description": f"Authorization Code + PKCE (S256) at {issuer}",
              "flows": {"authorizationCode": {"authorizationUrl": issuer.rstrip("/") + "/authorize",
                                              "tokenUrl": issuer.rstrip("/") + "/token", "scopes": SCOPES}}}
    return docs.openapi_document(
        "oauthlab backend4 (resource server for RS256 tokens)",
        f"Tokens from {issuer} (RS256, typ at+jwt, aud {settings.token_audience}). Authorize runs "
        "Authorization Code + PKCE as the public client backend4-docs: log in as johndoe / secret.",
        paths, {"OAuth2": scheme})


def use_discovered_endpoints(document: dict, metadata: dict) -> None:
    """Point the docs' OAuth2 flow at the endpoints the issuer's metadata names."""
    flow = document["components"]["securitySchemes"]["OAuth2"]["flows"]["authorizationCode"]
    for ours, theirs in (("authorizationUrl", "authorization_endpoint"), ("tokenUrl", "token_endpoint")):
        if isinstance(metadata.get(theirs), str):
            flow[ours] = metadata[theirs]


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
