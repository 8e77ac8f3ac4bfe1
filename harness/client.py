"""HTTP to targets: every request the harness makes goes through ``send`` and comes back as an
``Observation`` (status, headers, body excerpt, timing), never an exception."""
from __future__ import annotations

import asyncio
import json as jsonlib
import time
from typing import Any

import aiohttp

from .scenario import Observation

BODY_LIMIT = 4096


def new_session(timeout: float = 10.0) -> aiohttp.ClientSession:
    """A session that never follows redirects by itself and keeps no cookies unless asked."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout),
                                 cookie_jar=aiohttp.DummyCookieJar())


def json_body(content_type: str, text: str) -> Any:
    """The parsed body of an ``application/json`` response, else None (an unparsable body is evidence, not
    an error)."""
    if content_type != "application/json":
        return None
    try:
        return jsonlib.loads(text)
    except ValueError:
        return None


def first_values(headers: Any) -> dict[str, str]:
    """The first value of each response header (original spelling of the name)."""
    out: dict[str, str] = {}
    for k, v in headers.items():
        out.setdefault(k, v)
    return out


def all_values(headers: Any) -> dict[str, tuple[str, ...]]:
    """Every value of each response header, name lower-cased: a repeated WWW-Authenticate is evidence."""
    out: dict[str, list[str]] = {}
    for k, v in headers.items():
        out.setdefault(k.lower(), []).append(v)
    return {k: tuple(v) for k, v in out.items()}


async def send(session: aiohttp.ClientSession, method: str, url: str, *, label: str = "",
               headers: dict[str, str] | None = None, data: Any = None, params: Any = None,
               allow_redirects: bool = False) -> Observation:
    """Send one request; transport failures become an Observation with ``status=None`` and ``error``."""
    headers = dict(headers or {})
    if isinstance(data, bytes):
        body_text = data.decode("utf-8", "replace")
    else:
        body_text = data if isinstance(data, str) else (None if data is None else str(data))
    start = time.monotonic()
    try:
        async with session.request(method, url, headers=headers, data=data, params=params,
                                   allow_redirects=allow_redirects) as resp:
            raw = await resp.content.read(BODY_LIMIT)
            text = raw.decode("utf-8", "replace")
            parsed = json_body(resp.content_type, text)
            return Observation(label=label, method=method, url=str(resp.url) if params else str(url),
                               request_headers=headers, request_body=body_text, status=resp.status,
                               headers=first_values(resp.headers), body=text,
                               elapsed=time.monotonic() - start, json=parsed,
                               header_lists=all_values(resp.headers))
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
        return Observation(label=label, method=method, url=str(url), request_headers=headers,
                           request_body=body_text, status=None, headers={}, body="",
                           elapsed=time.monotonic() - start, error=f"{exc.__class__.__name__}: {exc}")
