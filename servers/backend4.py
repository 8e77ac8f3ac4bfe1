"""backend4 — a resource server for an RS256 authorization server (oauth-proxy by default).

It knows nothing of users or passwords: it trusts one issuer, whose keys it fetches, and believes what a
verified token says.

- Discovery (RFC 8414, then OpenID Connect) of ``--upstream-issuer`` finds the ``jwks_uri``, unless
  ``--jwks-uri`` is given. Start-up never waits for the issuer: a background task fetches the keys with
  backoff, and a request that finds no key fetches them itself.
- The JWKS (RFC 7517) is cached; keys are picked by ``kid``; an unknown ``kid`` refetches the set at most
  once per 30 s (RFC 9068 §4 "MUST use the keys provided by the authorization server"; the limit keeps
  forged kids from turning us into a load generator against the issuer). If the issuer is down the cached
  keys keep serving; if we never had keys the answer is 503 ``temporarily_unavailable``.
- Only keys that can be used for RS256 signatures are taken: ``kty`` RSA of >= 2048 bits (RFC 7518 §3.3),
  ``use`` absent or ``sig``, ``alg`` absent or ``RS256`` (RFC 8725 §3.1: "each key MUST be used with
  exactly one algorithm"), ``key_ops`` absent or containing ``verify``; no private members.
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
import base64
import logging
import math
import time
from contextlib import asynccontextmanager, suppress
from typing import Any, AsyncIterator, Callable
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers

from .common import docs
from .common.app import SETTINGS, health
from .common.bearer import AUTHENTICATOR, PRINCIPAL, Principal, principal_from_claims, requires
from .common.discovery import DiscoveryError, check_http_url, discover, fetch_json
from .common.errors import InvalidToken, TemporarilyUnavailable
from .common.middleware import add_routes, base_app
from .common.password_grant import ITEMS
from .common.settings import Settings
from .common.tokens import TokenPolicy, TokenVerifier

log = logging.getLogger("oauthlab.backend4")

DEFAULT_ISSUER = "http://127.0.0.1:9001"
DEFAULT_FRONTEND_ORIGINS = ("http://localhost:8080", "http://127.0.0.1:8080")
DOCS_CLIENT_ID = "backend4-docs"
SCOPES = {"me": "Read what the token says about you", "items": "Read your items"}
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub", "client_id", "jti")
MIN_RSA_BITS = 2048
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth")


# -- the issuer's keys ---------------------------------------------------------------------------------
def _b64url_uint(value: Any, name: str) -> int:
    if not isinstance(value, str) or not value or not all(c.isalnum() or c in "-_" for c in value):
        raise ValueError(f"{name} is not base64url")
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def rsa_verification_key(jwk: Any) -> RSAPublicKey | None:
    """An RS256 verification key from one JWK, or None if this JWK must not be used for RS256 (RFC 8725
    §3.1, RFC 7517 §4.2/§4.3, RFC 7518 §3.3)."""
    if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
        return None
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") != "RS256":
        return None
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return None
    if any(m in jwk for m in PRIVATE_MEMBERS):
        log.warning("the JWKS publishes a private key (kid %r): not used", str(jwk.get("kid"))[:40])
        return None
    try:
        n, e = _b64url_uint(jwk.get("n"), "n"), _b64url_uint(jwk.get("e"), "e")
        key = RSAPublicNumbers(e, n).public_key()
    except (ValueError, TypeError):
        return None
    return key if key.key_size >= MIN_RSA_BITS else None


def usable_keys(jwks: dict) -> dict[str | None, RSAPublicKey]:
    """kid -> key for every usable key of a JWK Set; a kid seen twice is ambiguous and dropped."""
    entries = jwks.get("keys")
    if not isinstance(entries, list):
        raise DiscoveryError("the JWK Set has no 'keys' array")
    keys: dict[str | None, RSAPublicKey] = {}
    dupes: set[str | None] = set()
    for jwk in entries:
        key = rsa_verification_key(jwk)
        kid = jwk.get("kid") if isinstance(jwk, dict) else None
        if key is None or (kid is not None and not isinstance(kid, str)):
            continue
        if kid in keys:
            dupes.add(kid)
        keys[kid] = key
    for kid in dupes:
        del keys[kid]
    return keys


class RemoteKeySet:
    """The issuer's signing keys, fetched from its jwks_uri (found by discovery unless configured)."""

    def __init__(self, issuer: str, jwks_uri: str | None = None, *, refetch_interval: float = 30.0,
                 retry_interval: float = 5.0, refresh_interval: float = 600.0, timeout: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.issuer = issuer
        self.configured_jwks_uri = jwks_uri
        self.refetch_interval = refetch_interval  # an unknown kid refetches at most this often
        self.retry_interval = retry_interval  # while we have no keys at all
        self.refresh_interval = refresh_interval  # background refresh (drops removed keys)
        self.timeout = timeout
        self.clock = clock
        self.session: aiohttp.ClientSession | None = None
        self.metadata: dict | None = None
        self.keys: dict[str | None, RSAPublicKey] = {}
        self.fetched_at: float | None = None  # last success
        self.attempted_at = -math.inf  # last attempt, successful or not
        self.fetches = 0
        self.on_keys_removed: Callable[[set], None] | None = None
        self.on_metadata: Callable[[dict], None] | None = None
        self._discovery_tried = False
        self._lock = asyncio.Lock()

    @property
    def jwks_uri(self) -> str | None:
        if self.configured_jwks_uri:
            return self.configured_jwks_uri
        return self.metadata.get("jwks_uri") if self.metadata else None

    def _due(self) -> bool:
        interval = self.refetch_interval if self.fetched_at is not None else self.retry_interval
        return self.clock() - self.attempted_at >= interval

    async def _discover(self) -> None:
        """Metadata once: needed for the jwks_uri unless configured; with --jwks-uri only tried once."""
        assert self.session is not None
        if self.metadata is not None or (self.configured_jwks_uri and self._discovery_tried):
            return
        self._discovery_tried = True
        try:
            meta = await discover(self.session, self.issuer, timeout=self.timeout)
            if not self.configured_jwks_uri:
                check_http_url(meta.get("jwks_uri"), "jwks_uri")
        except DiscoveryError:
            if self.configured_jwks_uri:
                return  # the metadata only feeds /docs then
            raise
        self.metadata = meta
        if self.on_metadata is not None:
            self.on_metadata(meta)

    async def fetch(self) -> bool:
        """Fetch the key set now (discovering first if needed). On failure keep what we had."""
        assert self.session is not None, "RemoteKeySet used outside its cleanup_ctx"
        self.attempted_at = self.clock()
        self.fetches += 1
        try:
            await self._discover()
            uri = self.jwks_uri
            if uri is None:
                raise DiscoveryError("no jwks_uri")
            keys = usable_keys(await fetch_json(self.session, uri, timeout=self.timeout))
        except DiscoveryError as exc:
            log.warning("JWKS of %s unavailable (%s); %s", self.issuer, exc,
                        f"serving {len(self.keys)} cached key(s)" if self.keys else "no keys yet")
            return False
        removed = set(self.keys) - set(keys)
        self.keys = keys
        self.fetched_at = self.clock()
        log.info("JWKS of %s: %d usable key(s)", self.issuer, len(keys))
        if removed and self.on_keys_removed is not None:
            self.on_keys_removed(removed)
        return True

    async def refetch_if_due(self) -> None:
        """One fetch at a time: a caller that finds a fetch in flight waits for it instead of starting
        another (so a request racing the start-up fetch is not turned away)."""
        if self._lock.locked():
            async with self._lock:
                return
        if not self._due():
            return
        async with self._lock:
            if self._due():
                await self.fetch()

    def pick(self, kid: str | None) -> RSAPublicKey | None:
        if kid is None and len(self.keys) == 1:  # RFC 7515 §4.1.4: kid is optional; one key is unambiguous
            return next(iter(self.keys.values()))
        return self.keys.get(kid) if kid is not None else None

    async def resolve(self, header: dict) -> RSAPublicKey:
        """The TokenVerifier's key resolver: the key named by ``kid``, refetching (rate-limited) if unknown."""
        kid = header.get("kid")
        key = self.pick(kid)
        if key is None:
            await self.refetch_if_due()
            key = self.pick(kid)
        if key is not None:
            return key
        if self.fetched_at is None:
            raise TemporarilyUnavailable("the issuer's keys could not be fetched yet", retry_after=5)
        raise InvalidToken("no key for this kid" if kid is not None else "no kid and several keys")

    async def run(self) -> None:
        """Background: fetch at start-up with backoff until it works, then refresh periodically."""
        delay = 1.0
        while True:
            ok = await self.fetch_locked()
            if ok:
                delay = 1.0
                await asyncio.sleep(self.refresh_interval)
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.refetch_interval)

    async def fetch_locked(self) -> bool:
        async with self._lock:
            return await self.fetch()


KEYSET = web.AppKey("keyset", RemoteKeySet)
VERIFIER = web.AppKey("verifier", TokenVerifier)


class JwtAuthenticator:
    """The AUTHENTICATOR of backend4: a verified token is the whole principal (no user store)."""

    def __init__(self, verifier: TokenVerifier) -> None:
        self.verifier = verifier

    async def authenticate(self, token: str) -> Principal:
        return principal_from_claims(await self.verifier.verify(token))


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
    """What the token says about its subject: the API has no user store of its own."""
    c = request[PRINCIPAL].claims
    body = {"username": c["sub"], "client_id": c["client_id"], "scope": c.get("scope", "")}
    body.update({k: c[k] for k in ("azp", "gty", "iss", "exp") if k in c})
    return web.json_response(body)


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
    """cleanup_ctx: the HTTP client session, the key set, its background fetcher, the verifier."""
    @asynccontextmanager
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        keyset = app[KEYSET]
        verifier = app[VERIFIER]
        # A key the issuer withdrew must stop working at once, cached verifications included.
        keyset.on_keys_removed = lambda kids: verifier.forget(lambda claims: True)
        keyset.on_metadata = lambda meta: use_discovered_endpoints(app[docs.OPENAPI], meta)
        async with aiohttp.ClientSession(headers={"User-Agent": "oauthlab-backend4"}) as session:
            keyset.session = session
            task = asyncio.create_task(keyset.run())
            try:
                yield
            finally:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
                keyset.session = None
    return ctx


def create_app(settings: Settings) -> web.Application:
    app = base_app(settings.max_body, extra_middlewares=(preflight_middleware,))
    app[SETTINGS] = settings
    app[ORIGINS] = frontend_origins(settings)
    keyset = RemoteKeySet(upstream_issuer(settings), settings.jwks_uri)
    verifier = TokenVerifier(token_policy(settings), keyset.resolve)
    app[KEYSET] = keyset
    app[VERIFIER] = verifier
    app[AUTHENTICATOR] = JwtAuthenticator(verifier)
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
