"""Reading what an authorization server answered: the parts of an ``Observation`` the expectations judge
(a redirect's parameters and destination, a header, the JSON body), the ``AuthzObservation`` that knows which
redirect URI was sent and which one is registered, and ``analysis`` observations derived from a series."""
from __future__ import annotations

import base64
import json as jsonlib
from dataclasses import dataclass
from typing import Any, Callable

from .login import response_params
from .scenario import Check, Observation


def _short(value: Any, n: int = 60) -> str:
    text = str(value)
    return text if len(text) <= n else text[:n] + "..."


def _no_response(obs: Observation) -> list[str]:
    return [f"no response ({obs.error})"] if obs.status is None else []


@dataclass(frozen=True)
class AuthzObservation(Observation):
    """Where an authorization request's walk stopped, with the redirect URI sent and the registered one."""
    sent_redirect_uri: str | None = None
    registered_redirect_uri: str | None = None


def location_params(obs: Observation) -> dict[str, str] | None:
    """Parameters of the redirect in ``obs`` (query, then fragment; first value wins), or None."""
    loc = obs.headers.get("Location")
    if obs.status is None or not (300 <= obs.status < 400) or not loc:
        return None
    return response_params(loc)


def header(obs: Observation, name: str) -> str | None:
    for k, v in obs.headers.items():
        if k.lower() == name.lower():
            return v
    return None


def json_body(obs: Observation) -> dict:
    if isinstance(obs.json, dict):
        return obs.json
    try:
        value = jsonlib.loads(obs.body)
    except (ValueError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


def _is_at(location: str, uri: str | None) -> bool:
    """``location`` is ``uri`` with response parameters added (nothing else changed)."""
    if not uri:
        return False
    base = uri.split("#", 1)[0]
    return location == base or (location.startswith(base) and location[len(base)] in "?&#")


def redirect_goes_to(obs: Observation) -> str:
    """"sent" (the redirect URI of the request, not the registered one), "registered", or "elsewhere"."""
    loc = obs.headers.get("Location") or ""
    sent = getattr(obs, "sent_redirect_uri", None)
    registered = getattr(obs, "registered_redirect_uri", None)
    if sent and sent != registered and _is_at(loc, sent):
        return "sent"
    if _is_at(loc, registered):
        return "registered"
    return "elsewhere"


def token_scope(body: dict) -> list[str] | None:
    """The scope a token response grants: its ``scope`` parameter; else, for a JWT access token (read, not
    verified: the AS's own statement), its ``scope`` claim, none if it has none (RFC 9068 §2.2.3); else None
    (RFC 6749 §5.1: then it is the scope that was requested)."""
    if isinstance(body.get("scope"), str):
        return body["scope"].split()
    token = body.get("access_token")
    if isinstance(token, str) and token.count(".") == 2:
        try:
            part = token.split(".")[1]
            claims = jsonlib.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        except (ValueError, UnicodeDecodeError):
            return None
        if isinstance(claims, dict):
            return claims["scope"].split() if isinstance(claims.get("scope"), str) else []
    return None


# -- derived observations -----------------------------------------------------------------------------------
def analysis(label: str, facts: dict, basis: Observation) -> Observation:
    """A derived observation: ``facts`` measured over several requests, with the last request as context."""
    body = jsonlib.dumps(facts, default=str)
    return Observation(label=f"analysis: {label}", method=basis.method, url=basis.url,
                       request_headers=basis.request_headers, request_body=basis.request_body,
                       status=basis.status, headers=basis.headers, body=body[:4096], elapsed=basis.elapsed,
                       error=basis.error, json=facts)


def expect_facts(rule: Callable[[dict], list[str]]) -> Check:
    """Judge an analysis observation with ``rule(facts)`` (which returns Problems)."""
    def check(obs: Observation) -> list[str]:
        if not isinstance(obs.json, dict):
            return ["no analysis facts recorded"]
        return rule(obs.json)
    return check
