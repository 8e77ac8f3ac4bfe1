"""Form-encoded request bodies for OAuth endpoints (RFC 6749 §3.1, §3.2, Appendix B).

- the body is ``application/x-www-form-urlencoded`` and valid UTF-8, else ``invalid_request``;
- "Request and response parameters MUST NOT be included more than once" (§3.1, §3.2): a repeated
  parameter is ``invalid_request``;
- parameters sent without a value are treated as omitted (§3.1).
"""
from __future__ import annotations

from urllib.parse import parse_qsl

from aiohttp import web

from .errors import InvalidRequest


def parse_params(text: str, where: str = "body") -> dict[str, str]:
    """Parse urlencoded pairs strictly; reject repeats; drop empty values."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict",
                          max_num_fields=100)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"malformed {where}: {exc.__class__.__name__}") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise InvalidRequest(f"parameter {name!r} repeated in the {where}")
        params[name] = value
    return {k: v for k, v in params.items() if v != ""}


async def read_form(request: web.Request) -> dict[str, str]:
    """The form parameters of a POST: content type, UTF-8 and no repeats checked."""
    if request.content_type != "application/x-www-form-urlencoded":
        raise InvalidRequest(f"content type {request.content_type!r} is not application/x-www-form-urlencoded")
    raw = await request.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("body is not valid UTF-8") from None
    return parse_params(text)


def require(params: dict[str, str], *names: str) -> tuple[str, ...]:
    """The values of required parameters; a missing one is ``invalid_request``."""
    missing = [n for n in names if n not in params]
    if missing:
        raise InvalidRequest(f"missing parameter(s) {missing}")
    return tuple(params[n] for n in names)
