"""Bearer token usage (RFC 6750) on protected resources.

- §2.1: ``Authorization: Bearer <b64token>``; the scheme compares case-insensitively (RFC 9110 §11.1),
  exactly one space, b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
- §2: a client MUST NOT use more than one method: a header plus ``access_token`` in the query or body
  is ``400 invalid_request``. Tokens in the query or body are not accepted on their own (§2.3: SHOULD NOT).
- §3.1: a request without any authentication information gets ``401`` with a bare ``Bearer`` challenge.
- §3.1: a malformed or failed token gets ``401`` with ``error="invalid_token"``; missing scope ``403`` with
  ``error="insufficient_scope"`` and the scope needed.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

from aiohttp import web

from .errors import BearerInvalidRequest, InsufficientScope, InvalidToken, MissingToken
from .scopes import token_scopes

B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


@dataclass(frozen=True)
class Principal:
    """Who a verified request acts for: the token's claims and, when there is one, the user record.

    ``memo`` holds values derived from the token alone (a serialised response, say): a principal cached
    with its verified token (TokenVerifier ``make``) computes them once per token, not once per request."""
    claims: dict
    scopes: frozenset[str]
    user: Any = None
    memo: dict = field(default_factory=dict, compare=False, hash=False, repr=False)


class Authenticator(Protocol):
    async def authenticate(self, token: str) -> Principal: ...


AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
PRINCIPAL = web.RequestKey("principal", Principal)


def bearer_token(request: web.Request) -> str:
    """Extract the one bearer token of a request, or raise the RFC 6750 error for its absence/shape."""
    headers = request.headers.getall("Authorization", [])
    in_query = bool(request.query_string) and "access_token" in request.query  # parse only if present
    if len(headers) > 1:
        raise BearerInvalidRequest("several Authorization headers")
    if not headers:
        if in_query:
            raise MissingToken("token in the query string is not accepted (RFC 6750 §2.3)")
        raise MissingToken("no Authorization header")
    if in_query:
        raise BearerInvalidRequest("token in the header and in the query (RFC 6750 §2)")
    scheme, sep, token = headers[0].partition(" ")
    if scheme.lower() != "bearer":
        raise MissingToken(f"authorization scheme {scheme[:20]!r} is not Bearer")
    if not sep or not B64TOKEN.fullmatch(token):
        raise InvalidToken("malformed Bearer credentials")
    return token


def cached_principal(request: web.Request, authenticator: Any) -> Principal | None:
    """The fast path of a repeated token: if the request carries exactly one ``Bearer`` credential and no
    query token, and the authenticator has that exact token verified in its cache (``cached(token)``), the
    principal; else None and the full path runs. A cache hit means this very string passed every check
    before, so re-checking its syntax would change nothing."""
    cached = getattr(authenticator, "cached", None)
    if cached is None or request.query_string:
        return None
    headers = request.headers.getall("Authorization", ())
    if len(headers) != 1 or headers[0][:7].lower() != "bearer ":
        return None
    return cached(headers[0][7:])


def check_scopes(principal: Principal, needed: tuple[str, ...]) -> None:
    """RFC 6750 §3.1 insufficient_scope: every needed scope must be in the token's scope claim."""
    if needed and not principal.scopes.issuperset(needed):
        raise InsufficientScope(needed, reason=f"token scopes {sorted(principal.scopes)} lack {needed}")


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def requires(*scopes: str) -> Callable[[Handler], Handler]:
    """Protect a handler: a valid bearer token carrying ``scopes``. Sets ``request[PRINCIPAL]``.

    The scopes are recorded on the handler (``handler.required_scopes``) for the OpenAPI document."""
    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def protected(request: web.Request) -> web.StreamResponse:
            authenticator = request.app[AUTHENTICATOR]
            principal = cached_principal(request, authenticator)
            if principal is None:  # the full path: RFC 6750 syntax, then the authenticator's checks
                principal = await authenticator.authenticate(bearer_token(request))
            check_scopes(principal, scopes)
            request[PRINCIPAL] = principal
            return await handler(request)
        protected.required_scopes = scopes  # type: ignore[attr-defined]
        return protected
    return wrap


def principal_from_claims(claims: dict, user: Any = None) -> Principal:
    return Principal(claims, token_scopes(claims), user)
