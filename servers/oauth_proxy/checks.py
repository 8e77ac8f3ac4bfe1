"""The checks of an authorization request (RFC 6749 §4.1.1), run in order by authorize.py.

The first three (``PAGE_CHECKS``) decide whether the client and its redirect URI can be trusted; their
failures are shown as an error page and NEVER redirected (RFC 6749 §4.1.2.1, §10.6; RFC 9700 §4.1). The rest
(``REDIRECT_CHECKS``) redirect back to the verified redirect URI with ``error``.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable

from servers.common import pkce
from servers.common.errors import InvalidRequest, UnsupportedResponseType

from .audience import pick_audience, pick_scope
from .clients import CODE, Client
from .context import Proxy
from .pages import PageError

MAX_STATE = 4096
# The parameters /authorize reads (RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 8707 §2, OIDC ``prompt``); any other
# is ignored, also when repeated (RFC 6749 §3.1).
AUTHORIZE_PARAMS = frozenset({"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
                              "code_challenge_method", "resource", "prompt"})


class AuthzRequest:
    """The parameters of one authorization request and what the checks established."""

    def __init__(self, params: dict[str, str], repeated: set[str]) -> None:
        self.params, self.repeated = params, repeated
        self.client: Client | None = None
        self.redirect_uri = ""
        self.scope: tuple[str, ...] = ()
        self.audience = ""

    @property
    def state(self) -> str | None:
        return self.params.get("state")


def reject_repeated_identity_params(req: AuthzRequest, proxy: Proxy) -> None:
    """RFC 6749 §3.1: parameters MUST NOT be repeated; an ambiguous client or redirect is never redirected."""
    if req.repeated & {"client_id", "redirect_uri"}:
        raise PageError("invalid_request", f"repeated {sorted(req.repeated)}")


async def check_client(req: AuthzRequest, proxy: Proxy) -> None:
    """RFC 6749 §4.1.2.1: a missing or invalid client identifier is shown to the user, never redirected; the
    client_id must be registered and allowed to use the code flow."""
    client = await proxy.clients.get(req.params.get("client_id", ""))
    if client is None or CODE not in client.grant_types:
        raise PageError("invalid_client", f"unknown client {req.params.get('client_id', '')[:40]!r}")
    req.client = client


def check_redirect_uri(req: AuthzRequest, proxy: Proxy) -> None:
    """RFC 9700 §4.1.3: the redirect_uri is required and equal, character for character, to a registered one."""
    sent = req.params.get("redirect_uri")
    assert req.client is not None
    if sent is None or not any(secrets.compare_digest(sent.encode(), r.encode())
                               for r in req.client.redirect_uris):
        raise PageError("invalid_request", f"redirect_uri {str(sent)[:80]!r} is not registered")
    req.redirect_uri = sent


def reject_repeated_params(req: AuthzRequest, proxy: Proxy) -> None:
    """RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once"."""
    if req.repeated:
        raise InvalidRequest(f"repeated parameter(s) {sorted(req.repeated)}")


def check_response_type(req: AuthzRequest, proxy: Proxy) -> None:
    """Only response_type=code (RFC 9700 §2.1.2: no implicit grant)."""
    rt = req.params.get("response_type")
    if rt is None:
        raise InvalidRequest("missing response_type")
    if rt != "code":
        raise UnsupportedResponseType(f"response_type {rt[:40]!r}")


def check_state(req: AuthzRequest, proxy: Proxy) -> None:
    """RFC 6749 §4.1.2: ``state`` "REQUIRED if the "state" parameter was present in the client authorization
    request. The exact value received from the client"; an absurdly long one is refused."""
    if req.state is not None and len(req.state) > MAX_STATE:
        raise InvalidRequest("state too long")


def check_pkce(req: AuthzRequest, proxy: Proxy) -> None:
    """RFC 7636 §4.4.1 + RFC 9700 §2.1.1: code_challenge required, method S256 only (plain/absent refused)."""
    challenge, method = req.params.get("code_challenge"), req.params.get("code_challenge_method")
    if challenge is None:
        raise InvalidRequest("code challenge required (PKCE, S256)", description="code_challenge required")
    if method != pkce.METHOD:
        raise InvalidRequest(f"code_challenge_method {str(method)[:20]!r}",
                             description="transform algorithm not supported: use S256")
    if not pkce.is_valid_challenge(challenge):
        raise InvalidRequest("malformed code_challenge", description="malformed code_challenge")


def check_scope(req: AuthzRequest, proxy: Proxy) -> None:
    """RFC 6749 §3.3: the requested scope must lie within the client's; empty means the client's own."""
    assert req.client is not None
    req.scope = pick_scope(req.params, req.client.scopes)


def check_resource(req: AuthzRequest, proxy: Proxy) -> None:
    """RFC 8707 §2: an explicit resource must be one of the client's audiences; default: the first."""
    assert req.client is not None
    req.audience = pick_audience(req.params, req.client)


PAGE_CHECKS: tuple[Callable, ...] = (reject_repeated_identity_params, check_client, check_redirect_uri)
REDIRECT_CHECKS: tuple[Callable, ...] = (reject_repeated_params, check_response_type, check_state,
                                          check_pkce, check_scope, check_resource)


