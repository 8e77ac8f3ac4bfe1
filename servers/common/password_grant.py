"""The Resource Owner Password Credentials grant (RFC 6749 §4.3) and the protected routes of the password
servers (backend, backend2, backend3). Each server plugs in how it issues and checks tokens (an
``Authority``: opaque or HS256 JWT) and which scopes it knows.

RFC 9700 §2.4 says the password grant MUST NOT be used; these servers exist to show the tutorial's flow done
correctly, and the documentation (docs/servers.md) says to prefer Authorization Code + PKCE (oauth-proxy).
"""
from __future__ import annotations

import hashlib
import secrets
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Protocol

from aiohttp import web

from . import docs
from .app import PASSWORDS, SETTINGS, STORE, THROTTLE, health, store_context
from .bearer import AUTHENTICATOR, PRINCIPAL, Principal, principal_from_claims, requires
from .errors import NO_STORE, InvalidGrant, InvalidRequest, InvalidToken, UnsupportedGrantType
from .forms import read_form, require
from .keys import HSKeySource
from .middleware import add_routes, base_app
from .scopes import grant_scopes, parse_scope
from .store import Store
from .tokens import TokenPolicy, TokenVerifier, issue_token, standard_claims


@dataclass(frozen=True)
class ScopeConfig:
    """The scopes a server declares (name -> description). Empty: the server has no scopes."""
    known: dict[str, str]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.known)


SCOPES = web.AppKey("scopes", ScopeConfig)
# The parameters of a password-grant token request (RFC 6749 §4.3.2); any other is ignored (§3.1).
PASSWORD_PARAMS = frozenset({"grant_type", "username", "password", "scope"})


class Authority(Protocol):
    """Issues access tokens and authenticates them (the AUTHENTICATOR of the server)."""
    async def issue(self, username: str, scopes: tuple[str, ...]) -> tuple[str, int]: ...
    async def authenticate(self, token: str) -> Principal: ...


async def active_user(store: Store, username: object):
    """RFC 6750 §3.1 ``invalid_token`` ("revoked, ... or invalid for other reasons"): the user a token speaks
    for must still exist and be enabled."""
    user = await store.get_user(username) if isinstance(username, str) else None
    if user is None or user.disabled:
        raise InvalidToken("the token's user is unknown or disabled")
    return user


class OpaqueAuthority:
    """Random opaque tokens (256 bits), stored server-side by their SHA-256 only, with an expiry."""

    def __init__(self, store: Store, ttl: int) -> None:
        self.store, self.ttl = store, ttl

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    async def issue(self, username: str, scopes: tuple[str, ...]) -> tuple[str, int]:
        token = secrets.token_urlsafe(32)
        await self.store.put("opaque-token", self._key(token),
                             {"sub": username, "scope": " ".join(scopes), "exp": int(time.time()) + self.ttl},
                             ttl=self.ttl)
        return token, self.ttl

    async def authenticate(self, token: str) -> Principal:
        record = await self.store.get("opaque-token", self._key(token))
        if record is None:
            raise InvalidToken("unknown or expired opaque token")
        user = await active_user(self.store, record["sub"])
        return principal_from_claims(record, user)


class HS256Authority:
    """HS256 JWT access tokens (RFC 9068 shape, ``typ: at+jwt``) verified with one fixed policy."""

    def __init__(self, store: Store, keys: HSKeySource, policy: TokenPolicy, ttl: int) -> None:
        self.store, self.keys, self.policy, self.ttl = store, keys, policy, ttl
        self.verifier = TokenVerifier(policy, self._resolve, make=principal_from_claims)

    async def _resolve(self, header: dict) -> bytes:
        """Our own secrets only, chosen by kid (a kid is never a path or a query); an unknown kid re-reads
        keys/secrets.json in case it was rotated, then fails."""
        kid = header.get("kid")
        keys = self.keys.current()
        if kid is None:
            return keys.signing_key
        key = keys.verify.get(kid) or self.keys.current(refresh=True).verify.get(kid)
        if key is None:
            raise InvalidToken("unknown kid")
        return key

    async def issue(self, username: str, scopes: tuple[str, ...]) -> tuple[str, int]:
        keys = self.keys.current(refresh=True)
        claims = standard_claims(issuer=self.policy.issuer, audience=self.policy.audience, subject=username,
                                 ttl=self.ttl, scope=" ".join(scopes) if scopes else None)
        token = issue_token(claims, keys.signing_key, "HS256", {"typ": "at+jwt", "kid": keys.signing_kid})
        return token, self.ttl

    async def authenticate(self, token: str) -> Principal:
        base = await self.verifier.verify(token)  # a Principal without user, cached with the token
        user = await active_user(self.store, base.claims["sub"])  # every request: disabled users fail
        hit = base.memo.get("with-user")
        if hit is not None and hit.user is user:  # the same cached user record: reuse the principal
            return hit
        principal = base.memo["with-user"] = replace(base, user=user)
        return principal


def hs256_policy(settings) -> TokenPolicy:
    return TokenPolicy(algorithms=("HS256",), issuer=settings.token_issuer, audience=settings.token_audience,
                       leeway=min(settings.leeway, 30), typ=("at+jwt",),
                       required=("exp", "iat", "iss", "aud", "sub", "jti"))


def token_response(body: dict) -> web.Response:
    """RFC 6749 §5.1: JSON, ``Cache-Control: no-store`` and ``Pragma: no-cache``."""
    return web.json_response(body, headers=NO_STORE)


async def token_endpoint(request: web.Request) -> web.Response:
    """POST /token with grant_type=password (RFC 6749 §4.3.2)."""
    params = await read_form(request, PASSWORD_PARAMS)
    if "grant_type" not in params:
        raise InvalidRequest("missing grant_type")
    if params["grant_type"] != "password":
        raise UnsupportedGrantType(f"grant_type {params['grant_type'][:40]!r}")
    username, password = require(params, "username", "password")
    scopes_cfg = request.app[SCOPES]
    requested = parse_scope(params.get("scope")) if scopes_cfg.known else ()
    app = request.app
    address = request.remote or "unknown"
    await app[THROTTLE].check(username, address)
    user = await app[PASSWORDS].authenticate(username, password)
    if user is None:
        await app[THROTTLE].failed(username, address)
        raise InvalidGrant("bad credentials or disabled user")  # one answer for every cause
    await app[THROTTLE].succeeded(username)
    granted = grant_scopes(requested, scopes_cfg.names, user.scopes) if scopes_cfg.known else ()
    token, expires_in = await app[AUTHENTICATOR].issue(user.username, granted)
    body = {"access_token": token, "token_type": "bearer", "expires_in": expires_in}
    if scopes_cfg.known:
        body["scope"] = " ".join(granted)
    return token_response(body)


ITEMS = ("Foo", "Bar")


def me_handler(*scopes: str):
    @requires(*scopes)
    async def read_users_me(request: web.Request) -> web.Response:
        return web.Response(body=request[PRINCIPAL].user.public_json, content_type="application/json")
    return read_users_me


def items_handler(*scopes: str):
    @requires(*scopes)
    async def read_own_items(request: web.Request) -> web.Response:
        owner = request[PRINCIPAL].user.username
        return web.json_response([{"item_id": i, "owner": owner} for i in ITEMS])
    return read_own_items


def status_handler(*scopes: str):
    @requires(*scopes)
    async def read_status(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})
    return read_status



def build_password_app(settings, *, title: str, description: str, scopes: ScopeConfig,
                       make_authority, routes: dict[str, tuple]) -> web.Application:
    """Assemble a password server: shared middleware, store lifetime, /token, /health, /docs and the
    protected ``routes`` ({path: (summary, handler, response schema)})."""
    app = base_app(settings.max_body)
    app[SETTINGS] = settings
    app[SCOPES] = scopes
    app.cleanup_ctx.append(store_context(settings))

    @asynccontextmanager
    async def authority_ctx(app: web.Application):
        app[AUTHENTICATOR] = make_authority(app[STORE], settings)
        yield

    app.cleanup_ctx.append(authority_ctx)
    defs = [web.post("/token", token_endpoint), web.get("/health", health)]
    paths: dict = {"/token": docs.password_token_operation(bool(scopes.known)),
                   "/health": docs.public_get("Liveness check (no auth)", docs.STATUS_SCHEMA)}
    for path, (summary, handler, schema) in routes.items():
        defs.append(web.get(path, handler))
        paths[path] = docs.protected_get(summary, schema, getattr(handler, "required_scopes", ()), "OAuth2")
    add_routes(app, defs)
    document = docs.openapi_document(title, description, paths,
                                     {"OAuth2": docs.password_scheme(scopes.known)})
    docs.add_docs(app, document, oauth={"scopes": " ".join(scopes.names)} if scopes.known else None)
    return app
