"""A browser and an OAuth client talking to several oauth-proxy instances that share one store: each
step names the instance it is sent to, as a load balancer would choose. Used by the tests of one Redis,
Sentinel and Cluster.

- ``proxies(tmp_path, store_url)``: two real instances (``run.py serve oauth-proxy``), same store, same
  keys directory, same public URL; each with a data directory of its own.
- ``code_via(http, authorize_at, form_at, submit_at, verifier)``: a code+PKCE authorization across them.
- ``redeem``, ``refresh``, ``introspect``: the token endpoint and introspection at a chosen instance.
- fixtures to import into a test module: ``proxies_fixture`` (``proxies``: two instances on the module's
  ``store_url`` fixture) and ``http_fixture`` (``http``: one browser, one cookie jar, for all instances).
"""
from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from servers.common import pkce
from tests.conftest import free_port, live_server

FRONTEND_CB = "http://127.0.0.1:8080/callback"  # the seeded public client's registered redirect URI


def path_of(location: str) -> str:
    p = urlsplit(location)
    return p.path + ("?" + p.query if p.query else "")


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def start_authorization(http, base: str, verifier: str, state: str = "st-1",
                              expect_login: bool = True) -> str:
    """GET /authorize at ``base``; returns the path of the login page it sends the browser to (or, with
    ``expect_login=False``, wherever it sends it)."""
    params = {"response_type": "code", "client_id": "frontend", "redirect_uri": FRONTEND_CB,
              "code_challenge": pkce.s256(verifier), "code_challenge_method": "S256", "state": state,
              "scope": "me items"}
    async with http.get(base + "/authorize", params=params, allow_redirects=False) as resp:
        assert resp.status == 302, await resp.text()
        location = resp.headers["Location"]
    if not expect_login:
        return location
    assert "/login?" in location, location
    return path_of(location)


async def login_form(http, base: str, login_path: str) -> dict[str, str]:
    async with http.get(base + login_path, allow_redirects=False) as resp:
        assert resp.status == 200, await resp.text()
        page = await resp.text()
    return {"request": re.search(r'name="request" value="([^"]+)"', page).group(1),
            "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)}


async def submit_login(http, base: str, form: dict, password: str = "secret"):
    data = {**form, "username": "johndoe", "password": password}
    return await http.post(base + "/login", data=data, allow_redirects=False)


async def code_via(http, authorize_at: str, form_at: str, submit_at: str, verifier: str) -> str:
    """Authorize at one instance, load the login form from another, submit it at a third. A browser
    that already has a login session gets its code from /authorize at once."""
    location = await start_authorization(http, authorize_at, verifier, expect_login=False)
    if location.startswith(FRONTEND_CB + "?"):
        got = query_of(location)
    else:
        form = await login_form(http, form_at, path_of(location))
        async with await submit_login(http, submit_at, form) as resp:
            assert resp.status == 303, await resp.text()
            got = query_of(resp.headers["Location"])
    assert got["state"] == "st-1" and got["code"]
    return got["code"]


async def token_request(http, base: str, **form) -> tuple[int, dict]:
    async with http.post(base + "/token", data=form) as resp:
        assert resp.headers["Cache-Control"] == "no-store"
        return resp.status, await resp.json()


async def redeem(http, base: str, code: str, verifier: str) -> tuple[int, dict]:
    return await token_request(http, base, grant_type="authorization_code", code=code, code_verifier=verifier,
                               client_id="frontend", redirect_uri=FRONTEND_CB)


async def refresh(http, base: str, rt: str) -> tuple[int, dict]:
    return await token_request(http, base, grant_type="refresh_token", refresh_token=rt, client_id="frontend")


def m2m_auth(tmp_path) -> dict[str, str]:
    secret = (tmp_path / "keys" / "client-secret-m2m").read_text().strip()
    return {"Authorization": "Basic " + base64.b64encode(f"m2m:{secret}".encode()).decode()}


async def introspect(http, base: str, token: str, tmp_path) -> dict:
    async with http.post(base + "/introspect", data={"token": token}, headers=m2m_auth(tmp_path)) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()




@contextlib.contextmanager
def proxies(tmp_path: Path, store_url: str) -> Iterator[tuple[str, str]]:
    """Two oauth-proxy instances (A, B) on one store and one keys directory, one public URL. Each has a
    data directory of its own, so the store is the only state they share (besides the keys)."""
    public = f"http://127.0.0.1:{free_port()}"  # the load balancer's address; nothing listens there
    args = ("--store", store_url, "--public-url", public, "--keys-dir", str(tmp_path / "keys"))
    dirs = [tmp_path / "a", tmp_path / "b"]
    with contextlib.ExitStack() as stack:
        for d in dirs:
            d.mkdir()
        a = stack.enter_context(live_server("oauth-proxy", dirs[0], *args))
        b = stack.enter_context(live_server("oauth-proxy", dirs[1], *args))
        yield a, b
    for d in dirs:  # nothing went to a local SQLite store
        assert not list(d.glob("data/*.sqlite3"))


@pytest.fixture(name="proxies")
def proxies_fixture(tmp_path, store_url):
    """Two instances on the test module's ``store_url`` fixture (import this into the module)."""
    with proxies(tmp_path, store_url) as pair:
        yield pair


@pytest.fixture(name="http")
async def http_fixture():
    """One browser: cookies are per host (both instances are 127.0.0.1, as behind one load balancer)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session
