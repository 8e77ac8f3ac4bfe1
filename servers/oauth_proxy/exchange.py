"""OAuth 2.0 Token Exchange (RFC 8693) for tokens of trusted external issuers.

The proxy trusts only the issuers listed in its configuration (``--trusted-issuers FILE``, a JSON list)::

    [{"issuer": "https://idp.example", "jwks_uri": "https://idp.example/jwks", "audience": "oauthlab",
      "algorithms": ["RS256"], "scopes": ["me"], "accounts": {"external-sub": "johndoe"}}]

An external token is verified with THAT issuer's keys (the shared ``RemoteJWKS``: fetched from its configured
jwks_uri, never a URL from the token; only keys for the issuer's algorithms, each used with its own
algorithm family; refetch rate-limited, refreshed in the background) and policy (its algorithms, issuer, audience, required claims, <= 30 s leeway) by the shared
``TokenVerifier``. The external ``(iss, sub)`` is then linked to a local account: an existing link in the
store, else the ``accounts`` mapping of the config, else a new local account ``ext-<hash>`` (no password,
the issuer's ``scopes``). The client receives a proxy access token with the normalized claims and
``gty: token-exchange``.

Per RFC 8693 §2.2.2 an invalid, untrusted or unacceptable subject_token is ``invalid_request``.
"""
from __future__ import annotations

import hashlib
import logging
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from servers.common.app import STORE
from servers.common.errors import InvalidGrant, InvalidRequest, InvalidToken, OAuthError
from servers.common.jwks import ALG_FAMILIES, RemoteJWKS
from servers.common.settings import ConfigError
from servers.common.store import User
from servers.common.tokens import TokenPolicy, TokenVerifier, b64url_json, check_format

from .audience import pick_audience, pick_scope
from .clients import Client
from .context import PROXY, Proxy
from .issuer import ACCESS_TOKEN_TYPE

log = logging.getLogger("oauthlab.oauth_proxy")

SUBJECT_TOKEN_TYPES = (ACCESS_TOKEN_TYPE, "urn:ietf:params:oauth:token-type:jwt")
ASYMMETRIC = set(ALG_FAMILIES)
LINKS = "external-link"


@dataclass
class TrustedIssuer:
    issuer: str
    verifier: TokenVerifier
    jwks: RemoteJWKS
    scopes: tuple[str, ...]
    accounts: dict[str, str]


def parse_trusted(entries: tuple) -> list[dict]:
    """Validate the --trusted-issuers entries at start-up (a bad file is a configuration error)."""
    out = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise ConfigError(f"trusted issuer #{i} is not an object")
        missing = [k for k in ("issuer", "jwks_uri", "audience", "algorithms") if not e.get(k)]
        if missing:
            raise ConfigError(f"trusted issuer #{i} lacks {missing}")
        algs = tuple(e["algorithms"])
        if not set(algs) <= ASYMMETRIC:
            raise ConfigError(f"trusted issuer {e['issuer']}: algorithms must be asymmetric, got {list(algs)}")
        out.append({**e, "algorithms": algs})
    return out


class TrustedIssuers:
    def __init__(self, entries: list[dict], leeway: int) -> None:
        self.by_issuer: dict[str, TrustedIssuer] = {}
        for e in entries:
            # The configured jwks_uri only: no discovery at an issuer we were told where to find keys.
            jwks = RemoteJWKS(e["issuer"], e["jwks_uri"], algorithms=e["algorithms"], discover_metadata=False)
            policy = TokenPolicy(algorithms=e["algorithms"], issuer=e["issuer"], audience=e["audience"],
                                 leeway=min(leeway, 30))
            verifier = TokenVerifier(policy, jwks.resolve, cache_size=0)
            self.by_issuer[e["issuer"]] = TrustedIssuer(e["issuer"], verifier, jwks,
                                                        tuple(e.get("scopes", ("me",))),
                                                        dict(e.get("accounts", {})))

    async def verify(self, token: str) -> tuple[TrustedIssuer, dict]:
        """RFC 8693 §2.2.2: a subject_token that is not a JWT of a trusted issuer, or fails that issuer's
        policy (RFC 8725 §3.8: "validate the issuer"), is ``invalid_request``."""
        try:
            check_format(token)
            iss = b64url_json(token.split(".")[1]).get("iss")
        except (InvalidToken, ValueError, UnicodeDecodeError, AttributeError, RecursionError):
            raise InvalidRequest("subject_token is not a JWT") from None
        trusted = self.by_issuer.get(iss) if isinstance(iss, str) else None
        if trusted is None:
            raise InvalidRequest(f"subject_token issuer {str(iss)[:80]!r} is not trusted")
        try:
            return trusted, await trusted.verifier.verify(token)
        except InvalidToken as exc:
            raise InvalidRequest(f"subject_token rejected: {exc.reason}") from None


def trusted_context(entries: list[dict], leeway: int):
    @asynccontextmanager
    async def ctx(app: web.Application):
        trusted = TrustedIssuers(entries, leeway)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session, \
                AsyncExitStack() as stack:
            for t in trusted.by_issuer.values():  # each issuer's keys, kept fresh in the background
                await stack.enter_async_context(t.jwks.running(session))
            app[PROXY].exchange = trusted
            yield
    return ctx


async def linked_account(request: web.Request, trusted: TrustedIssuer, claims: dict) -> User:
    """The local account of an external (iss, sub): stored link, config mapping, or a new account."""
    store = request.app[STORE]
    key = f"{trusted.issuer} {claims['sub']}"
    link = await store.get(LINKS, key)
    username = link["username"] if link else trusted.accounts.get(claims["sub"])
    if username is None:
        username = "ext-" + hashlib.sha256(key.encode()).hexdigest()[:16]
        if await store.get_user(username) is None:
            email = claims.get("email") if isinstance(claims.get("email"), str) else ""
            # "!" is not a bcrypt hash: nobody can log in with a password to an external account.
            await store.add_user(User(username, f"{claims['sub']} ({trusted.issuer})", email or "",
                                      trusted.scopes, False, "!"))
            log.info("token exchange: new local account %s for an external subject", username)
    if link is None:
        await store.put(LINKS, key, {"username": username, "iss": trusted.issuer, "sub": claims["sub"]})
    user = await store.get_user(username)
    if user is None or user.disabled:
        raise InvalidGrant("the linked local account is unknown or disabled")
    return user


async def exchange(request: web.Request, params: dict, client: Client, proxy: Proxy) -> dict:
    token, token_type = params.get("subject_token"), params.get("subject_token_type")
    if token is None or token_type is None:
        raise InvalidRequest("subject_token and subject_token_type are required (RFC 8693 §2.1)")
    if token_type not in SUBJECT_TOKEN_TYPES:
        raise InvalidRequest(f"subject_token_type {token_type[:60]!r} not supported")
    if "actor_token" in params or "actor_token_type" in params:
        raise InvalidRequest("delegation (actor_token) is not supported")
    if params.get("requested_token_type", ACCESS_TOKEN_TYPE) != ACCESS_TOKEN_TYPE:
        raise InvalidRequest("only access tokens can be requested")
    if "audience" in params and "resource" not in params:
        params = {**params, "resource": params["audience"]}
    if proxy.exchange is None:
        raise OAuthError("token exchange not configured")
    trusted, claims = await proxy.exchange.verify(token)
    user = await linked_account(request, trusted, claims)
    scope = pick_scope(params, tuple(s for s in client.scopes if s in user.scopes))
    aud = pick_audience(params, client)
    body = await proxy.tokens.issue(sub=user.username, aud=aud, client_id=client.client_id, scope=scope,
                                    gty="token-exchange")
    body["issued_token_type"] = ACCESS_TOKEN_TYPE
    return body
