"""What the oauth-proxy tests share: an in-process proxy and a browser-like driver
of its authorization endpoint and login form."""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from servers.common import pkce
from servers.oauth_proxy import create_app

from .settings import make_settings

ISSUER = "http://127.0.0.1:9001"
FRONTEND_CB = "http://127.0.0.1:8080/callback"
AUDIENCE = "http://127.0.0.1:9000"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 Appendix B
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def proxy_settings(tmp_path: Path, **overrides):
    return make_settings(tmp_path, "oauth-proxy", port=9001, **overrides)


@pytest.fixture
async def proxy(aiohttp_client, tmp_path):
    return await aiohttp_client(create_app(proxy_settings(tmp_path)))


def m2m_secret(tmp_path: Path) -> str:
    return (tmp_path / "keys" / "client-secret-m2m").read_text().strip()


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query, keep_blank_values=True).items()}


def path_of(url: str) -> str:
    p = urlsplit(url)
    return p.path + ("?" + p.query if p.query else "")


def decode_segment(seg: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def authorize_params(**kw) -> dict[str, str]:
    params = {"response_type": "code", "client_id": "frontend", "redirect_uri": FRONTEND_CB,
              "code_challenge": CHALLENGE, "code_challenge_method": "S256", "state": "st-123",
              "scope": "me items"}
    params.update(kw)
    return {k: v for k, v in params.items() if v is not None}


async def login(client, location: str, username: str = "johndoe", password: str = "secret",
                csrf: str | None = None):
    """GET the login page the authorize redirect points to, then POST the form. Returns the POST response."""
    page = await client.get(path_of(location), allow_redirects=False)
    assert page.status == 200, await page.text()
    html = await page.text()
    request_id = re.search(r'name="request" value="([^"]+)"', html).group(1)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    return await client.post("/login", data={"request": request_id, "csrf_token": token if csrf is None else csrf,
                                             "username": username, "password": password},
                             allow_redirects=False)


async def get_code(client, username: str = "johndoe", password: str = "secret", **params) -> dict[str, str]:
    """Authorize + login; returns the authorization response parameters (code, state, iss)."""
    resp = await client.get("/authorize", params=authorize_params(**params), allow_redirects=False)
    assert resp.status == 302, await resp.text()
    loc = resp.headers["Location"]
    if "/login?" in loc:
        resp = await login(client, loc, username, password)
        assert resp.status == 303, await resp.text()
        loc = resp.headers["Location"]
    return query_of(loc)


async def redeem(client, code: str, verifier: str = VERIFIER, client_id: str = "frontend",
                 redirect_uri: str = FRONTEND_CB, **extra):
    data = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
            "client_id": client_id, "redirect_uri": redirect_uri, **extra}
    return await client.post("/token", data={k: v for k, v in data.items() if v is not None})


async def tokens_for_johndoe(client, **params) -> dict:
    """The whole code flow with a fresh verifier; returns the token response body."""
    verifier = pkce.new_verifier()
    got = await get_code(client, code_challenge=pkce.s256(verifier), **params)
    resp = await redeem(client, got["code"], verifier)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def introspect(proxy, tmp_path: Path, token: str) -> dict:
    """RFC 7662 §2.1 as the seeded confidential client m2m; the answer must be 200 and not cached."""
    resp = await proxy.post("/introspect", data={"token": token}, headers=basic("m2m", m2m_secret(tmp_path)))
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    return await resp.json()
