"""What a new token is for: its audience (RFC 8707 §2 ``resource``) and its scope (RFC 6749 §3.3).

Used by the authorization endpoint and by every grant of the token endpoint (grants.py, exchange.py), so
that each picks the audience and the scope the same way.
"""
from __future__ import annotations

from servers.common.errors import InvalidScope
from servers.common.scopes import parse_scope

from .clients import Client
from .context import InvalidTarget


def pick_audience(params: dict, client: Client) -> str:
    """RFC 8707 §2: an explicit ``resource`` must be one of the client's audiences (else invalid_target);
    none sent: the client's default audience."""
    resource = params.get("resource")
    if resource is None:
        if not client.default_audience:
            raise InvalidTarget("client has no default audience")
        return client.default_audience
    if resource not in client.audiences:
        raise InvalidTarget(f"resource {resource[:80]!r} not allowed for {client.client_id}")
    return resource


def pick_scope(params: dict, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """RFC 6749 §3.3: the requested scope must lie within ``allowed`` (else invalid_scope); none requested:
    all of ``allowed``."""
    requested = parse_scope(params.get("scope"))
    beyond = [s for s in requested if s not in allowed]
    if beyond:
        raise InvalidScope(f"scope(s) {beyond} not allowed")
    return requested or allowed
