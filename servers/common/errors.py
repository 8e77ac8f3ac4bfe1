"""OAuth 2.0 error responses: RFC 6749 §5.2 (token endpoint), RFC 6749 §4.1.2.1 (authorization endpoint)
and RFC 6750 §3 (bearer resource access).

Every error is a small exception class carrying its wire values. Handlers raise them; the one error
middleware (servers.common.middleware) turns them into responses. The client sees the stable ``error``
code and a short generic description; the specific internal reason goes to the log only.
"""
from __future__ import annotations

import json
from typing import Any, ClassVar

from aiohttp import web

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(Exception):
    """Base: ``error`` and ``status`` are the wire values; ``reason`` is for the log only."""

    error: ClassVar[str] = "invalid_request"
    status: ClassVar[int] = 400
    description: ClassVar[str] = "The request is invalid."

    def __init__(self, reason: str = "", *, description: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(reason or self.description)
        self.reason = reason or self.description
        if description is not None:
            self.description = description  # type: ignore[misc]
        self.extra_headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "error_description": self.description}

    def headers(self) -> dict[str, str]:
        return dict(self.extra_headers)

    def to_response(self) -> web.Response:
        return web.Response(status=self.status, text=json.dumps(self.body()),
                            content_type="application/json", headers=self.headers())


# -- RFC 6749 §5.2 token endpoint errors -------------------------------------------------------------
class InvalidRequest(OAuthError):
    error = "invalid_request"
    description = "The request is missing a parameter, repeats one, or is otherwise malformed."


class InvalidClient(OAuthError):
    """Client authentication failed. RFC 6749 §5.2: 401 with a WWW-Authenticate challenge."""
    error = "invalid_client"
    status = 401
    description = "Client authentication failed."

    def __init__(self, reason: str = "", *, scheme: str = "Basic", status: int = 401, **kw: Any) -> None:
        super().__init__(reason, **kw)
        self.status = status  # type: ignore[misc]
        if status == 401:
            self.extra_headers.setdefault("WWW-Authenticate", f'{scheme} realm="oauth"')


class InvalidGrant(OAuthError):
    error = "invalid_grant"
    description = "The grant or credentials are invalid, expired or revoked."


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"
    description = "The client is not allowed to use this grant type."


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"
    description = "The grant type is not supported."


class InvalidScope(OAuthError):
    error = "invalid_scope"
    description = "The requested scope is invalid, unknown or exceeds what is allowed."


class AccessDenied(OAuthError):
    error = "access_denied"
    status = 403
    description = "Access denied."


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"
    description = "The response type is not supported."


class TooManyRequests(OAuthError):
    """Throttled (RFC 6749 §4.3.2: protect the endpoint against brute force). 429 with Retry-After."""
    error = "too_many_requests"
    status = 429
    description = "Too many failed attempts; try again later."

    def __init__(self, retry_after: int, reason: str = "") -> None:
        super().__init__(reason, headers={"Retry-After": str(max(1, int(retry_after)))})
        self.retry_after = max(1, int(retry_after))


class ServerError(OAuthError):
    error = "server_error"
    status = 500
    description = "The server met an unexpected condition."


class TemporarilyUnavailable(OAuthError):
    error = "temporarily_unavailable"
    status = 503
    description = "The service is temporarily unavailable; try again shortly."

    def __init__(self, reason: str = "", retry_after: int = 5) -> None:
        super().__init__(reason, headers={"Retry-After": str(retry_after)})


# -- generic HTTP errors, JSON bodies ----------------------------------------------------------------
class NotFound(OAuthError):
    error = "not_found"
    status = 404
    description = "No such resource."


class MethodNotAllowed(OAuthError):
    error = "method_not_allowed"
    status = 405
    description = "Method not allowed on this resource."


class PayloadTooLarge(OAuthError):
    error = "payload_too_large"
    status = 413
    description = "The request body is too large."


# -- RFC 6750 §3 bearer errors -----------------------------------------------------------------------
def _challenge(**attrs: str) -> str:
    """Build one ``Bearer`` challenge; attribute values are quoted-strings (RFC 6750 §3)."""
    if not attrs:
        return "Bearer"
    return "Bearer " + ", ".join(f'{k}="{v}"' for k, v in attrs.items())


class BearerError(OAuthError):
    """Errors of a protected resource: always carry a ``WWW-Authenticate: Bearer`` challenge."""

    def headers(self) -> dict[str, str]:
        h = super().headers()
        h["WWW-Authenticate"] = _challenge(error=self.error)
        return h


class MissingToken(BearerError):
    """RFC 6750 §3.1: a request without authentication information gets no error code."""
    error = "invalid_token"  # body only; the challenge carries no error attribute
    status = 401
    description = "Authentication required: send an access token as 'Authorization: Bearer <token>'."

    def body(self) -> dict[str, Any]:
        return {"error": "unauthorized", "error_description": self.description}

    def headers(self) -> dict[str, str]:
        h = dict(self.extra_headers)
        h["WWW-Authenticate"] = _challenge()
        return h


class InvalidToken(BearerError):
    error = "invalid_token"
    status = 401
    description = "The access token is invalid, expired or revoked."


class BearerInvalidRequest(BearerError):
    error = "invalid_request"
    status = 400
    description = "The request is malformed (for example it carries the token in more than one place)."


class InsufficientScope(BearerError):
    error = "insufficient_scope"
    status = 403
    description = "The access token does not carry the scope this resource needs."

    def __init__(self, needed: tuple[str, ...] | list[str], reason: str = "") -> None:
        super().__init__(reason)
        self.needed = " ".join(needed)

    def body(self) -> dict[str, Any]:
        return {**super().body(), "scope": self.needed}

    def headers(self) -> dict[str, str]:
        h = dict(self.extra_headers)
        h["WWW-Authenticate"] = _challenge(error=self.error, scope=self.needed)
        return h


HTTP_STATUS_ERRORS: dict[int, type[OAuthError]] = {
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
}
