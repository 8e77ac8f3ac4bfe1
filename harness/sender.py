"""Sending the browser's requests of an authorization flow, and retrying a request that got no answer.

``fetch`` sends one request of a login walk with the flow's cookies (as a browser would: see
``harness.cookies``) and returns the ``Observation`` (password and cookie values masked) and the page text.

A server may close an idle keep-alive connection at the moment the harness reuses it; the request then gets
no answer at all (``ServerDisconnectedError``, a connection reset). That is not the target's fault: such a
request is sent once more on a new connection (``resend_once``). A timeout or a refused connection is not
retried: that is what the target did.
"""
from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

import aiohttp
from yarl import URL

from .client import BODY_LIMIT, all_values, first_values, json_body
from .cookies import OriginJar
from .scenario import Observation

PAGE_LIMIT = 1 << 20        # read at most 1 MiB of a page to parse it
STALE = ("ServerDisconnectedError", "ClientOSError", "ClientConnectionResetError", "ConnectionResetError",
         "BrokenPipeError")


def got_no_answer(obs: Observation) -> bool:
    """The request was sent on a connection the server had closed: no status, a disconnect error."""
    return obs.status is None and bool(obs.error) and obs.error.split(":", 1)[0] in STALE


async def resend_once(send: Callable[[], Awaitable[tuple[Observation, str]]]) -> tuple[Observation, str]:
    """``send()``, and once more if the first attempt got no answer (a stale keep-alive connection)."""
    obs, text = await send()
    if got_no_answer(obs):
        obs, text = await send()
    return obs, text


def mask_cookie(header: str | None) -> str:
    if not header:
        return ""
    return "; ".join(f"{part.split('=', 1)[0]}=***" for part in header.split("; "))


async def _fetch_once(session: aiohttp.ClientSession, method: str, url: str, hdrs: dict[str, str],
                      shown_headers: dict[str, str], data: str | None, shown_body: str | None, jar: OriginJar,
                      label: str) -> tuple[Observation, str]:
    start = time.monotonic()
    shown = shown_body if shown_body is not None else data
    try:
        async with session.request(method, URL(url, encoded=True), headers=hdrs, data=data,
                                   allow_redirects=False) as resp:
            raw = await resp.content.read(PAGE_LIMIT)
            text = raw.decode(resp.charset or "utf-8", "replace")
            jar.store(url, resp.headers.getall("Set-Cookie", []))
            parsed = json_body(resp.content_type, text)
            obs = Observation(label=label, method=method, url=url, request_headers=shown_headers,
                              request_body=shown, status=resp.status, headers=first_values(resp.headers),
                              body=text[:BODY_LIMIT], elapsed=time.monotonic() - start, json=parsed,
                              header_lists=all_values(resp.headers))
            return obs, text
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
        obs = Observation(label=label, method=method, url=url, request_headers=shown_headers, request_body=shown,
                          status=None, headers={}, body="", elapsed=time.monotonic() - start,
                          error=f"{exc.__class__.__name__}: {exc}")
        return obs, ""


async def fetch(session: aiohttp.ClientSession, method: str, url: str, *, jar: OriginJar, label: str,
                data: str | None = None, headers: dict[str, str] | None = None,
                shown_body: str | None = None, cross_site: bool = False) -> tuple[Observation, str]:
    """One request of a walk with the cookies a browser would attach (``cross_site``: started by another
    site's page); returns the Observation (password and cookies masked) and the page text (up to
    PAGE_LIMIT, for form parsing). Sent once more if it got no answer."""
    hdrs = dict(headers or {})
    cookie = jar.header(url, cross_site=cross_site, method=method)
    if cookie:
        hdrs["Cookie"] = cookie
    if data is not None:
        hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    shown_headers = {**hdrs, **({"Cookie": mask_cookie(cookie)} if cookie else {})}
    return await resend_once(lambda: _fetch_once(session, method, url, hdrs, shown_headers, data, shown_body,
                                                 jar, label))
