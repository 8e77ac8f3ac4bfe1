"""Request parameters of OAuth endpoints: form bodies and query strings (RFC 6749 §3.1, §3.2, Appendix B).

The one parser of the servers (the harness and the CLI keep their own, on purpose):

- a body is ``application/x-www-form-urlencoded`` and valid UTF-8, else ``invalid_request``;
- "Request and response parameters MUST NOT be included more than once" (§3.1, §3.2): a repeated
  parameter that the endpoint defines is ``invalid_request``;
- "The authorization server MUST ignore unrecognized request parameters" (§3.1): a parameter the endpoint
  does not define is ignored, also when it is repeated;
- parameters sent without a value are treated as omitted (§3.1).
"""
from __future__ import annotations

from urllib.parse import parse_qsl

from aiohttp import web

from .errors import InvalidRequest

MAX_FIELDS = 100
FORM_TYPE = "application/x-www-form-urlencoded"

# Client authentication in the body (RFC 6749 §2.3.1), defined wherever a client authenticates.
CLIENT_AUTH = frozenset({"client_id", "client_secret"})


def parse_pairs(text: str, defined: frozenset[str], where: str = "body",
                strict: bool = True) -> tuple[dict[str, str], set[str]]:
    """The parameters of urlencoded ``text`` (first value of each name, empty values dropped) and the set
    of ``defined`` names that were repeated. Unrecognized names are kept once and never count as repeated.
    ``strict`` refuses fields without ``=`` (bodies); query strings are read leniently."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=strict and bool(text), errors="strict",
                          max_num_fields=MAX_FIELDS)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"malformed {where}: {exc.__class__.__name__}") from None
    params: dict[str, str] = {}
    repeated: set[str] = set()
    for name, value in pairs:
        if name not in params:
            params[name] = value
        elif name in defined:
            repeated.add(name)
    return {k: v for k, v in params.items() if v != ""}, repeated


def reject_repeated(repeated: set[str], where: str = "body") -> None:
    """RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once"."""
    if repeated:
        raise InvalidRequest(f"parameter(s) {sorted(repeated)} repeated in the {where}")


def parse_params(text: str, defined: frozenset[str], where: str = "body") -> dict[str, str]:
    """Parse urlencoded pairs strictly; refuse a repeated defined parameter; drop empty values."""
    params, repeated = parse_pairs(text, defined, where)
    reject_repeated(repeated, where)
    return params


async def form_text(request: web.Request) -> str:
    """The body of a form POST as text: content type and UTF-8 checked."""
    # The header as clients send it is compared first; parsing it (parameters, case) only when it differs.
    if request.headers.get("Content-Type") != FORM_TYPE and request.content_type != FORM_TYPE:
        raise InvalidRequest(f"content type {request.content_type!r} is not application/x-www-form-urlencoded")
    raw = await request.read()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("body is not valid UTF-8") from None


async def read_form(request: web.Request, defined: frozenset[str]) -> dict[str, str]:
    """The form parameters of a POST: content type, UTF-8 and repeats of ``defined`` parameters checked."""
    return parse_params(await form_text(request), defined)


def require(params: dict[str, str], *names: str) -> tuple[str, ...]:
    """The values of required parameters; a missing one is ``invalid_request``."""
    missing = [n for n in names if n not in params]
    if missing:
        raise InvalidRequest(f"missing parameter(s) {missing}")
    return tuple(params[n] for n in names)
