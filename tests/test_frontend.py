"""The frontend server: the SPA's files, /config.json from settings and discovery, and the security headers
that make a static OAuth client safe to serve (the flow itself runs in the browser: see
tests/test_browser_spa.py)."""
from __future__ import annotations

import re

import pytest

from servers import frontend
from tests.support.issuer import LocalIssuer
from tests.support.settings import make_settings


@pytest.fixture
def start_frontend(aiohttp_client, tmp_path):
    async def _start(**overrides):
        overrides.setdefault("upstream_issuer", LocalIssuer().url)  # a free port: nobody's proxy
        return await aiohttp_client(frontend.create_app(make_settings(tmp_path, "frontend", port=8080, **overrides)))
    return _start


def csp_directives(value: str) -> dict[str, list[str]]:
    out = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


async def test_config_json_carries_settings_and_discovered_endpoints(issuer, start_frontend):
    """The page gets issuer, API URL and client_id from settings, and the authorization/token/revocation
    endpoints from the issuer's RFC 8414 metadata (not guessed paths)."""
    client = await start_frontend(upstream_issuer=issuer.url, frontend_api="http://api.test:9000/")
    resp = await client.get("/config.json")
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    body = await resp.json()
    assert body["issuer"] == issuer.url
    assert body["api_url"] == "http://api.test:9000"
    assert body["client_id"] == "frontend" and body["scope"] == "me items"
    assert body["endpoints"] == {"authorization_endpoint": issuer.url + "/oauth/authorize",
                                 "token_endpoint": issuer.url + "/oauth/token",
                                 "revocation_endpoint": issuer.url + "/oauth/revoke"}
    assert body["discovery_error"] is None
    assert body["iss_parameter"] is False  # this issuer does not announce RFC 9207


async def test_config_tells_the_page_when_iss_is_promised(start_frontend):
    """RFC 9207 §3: authorization_response_iss_parameter_supported in the metadata means every response
    carries iss, so the page must insist on it (RFC 9207 §2.4)."""
    iss = LocalIssuer(extra_metadata={"authorization_response_iss_parameter_supported": True})
    await iss.start()
    try:
        client = await start_frontend(upstream_issuer=iss.url)
        assert (await (await client.get("/config.json")).json())["iss_parameter"] is True
    finally:
        await iss.stop()


async def test_config_defaults_are_the_local_stack(tmp_path, aiohttp_client):
    """Defaults: issuer http://127.0.0.1:9001 (oauth-proxy), API http://127.0.0.1:9000 (backend4)."""
    app = frontend.create_app(make_settings(tmp_path, "frontend", port=8080))
    app[frontend.METADATA].retry_interval = 3600  # the background attempt is enough here
    client = await aiohttp_client(app)
    body = await (await client.get("/config.json")).json()
    assert (body["issuer"], body["api_url"]) == ("http://127.0.0.1:9001", "http://127.0.0.1:9000")


async def test_issuer_down_is_reported_not_a_500(start_frontend):
    """The frontend starts without the issuer; /config.json says discovery failed (endpoints null) so the
    page can explain it, instead of failing."""
    down = LocalIssuer()  # never started
    client = await start_frontend(upstream_issuer=down.url)
    assert (await client.get("/health")).status == 200
    body = await (await client.get("/config.json")).json()
    assert body["endpoints"] is None
    assert body["discovery_error"]


async def test_metadata_for_another_issuer_is_refused(start_frontend):
    """RFC 8414 §3.3: metadata whose issuer differs from the configured one MUST NOT be used."""
    evil = LocalIssuer(metadata_issuer="https://evil.example")
    await evil.start()
    try:
        client = await start_frontend(upstream_issuer=evil.url)
        body = await (await client.get("/config.json")).json()
        assert body["endpoints"] is None and "evil.example" in body["discovery_error"]
    finally:
        await evil.stop()


@pytest.mark.parametrize("path", ["/", "/callback", "/callback/"])
async def test_page_has_strict_csp_and_security_headers(issuer, start_frontend, path):
    """A page that handles authorization codes: no inline script (CSP script-src 'self'), fetch() only to
    the issuer and the API, not frameable (clickjacking, RFC 6819 §4.4.1.9), and Referrer-Policy
    no-referrer so the code in the callback URL does not leak (RFC 9700 §4.2.4)."""
    client = await start_frontend(upstream_issuer=issuer.url, frontend_api="http://127.0.0.1:9000")
    resp = await client.get(path)
    assert resp.status == 200 and resp.content_type == "text/html"
    csp = csp_directives(resp.headers["Content-Security-Policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"] and csp["form-action"] == ["'none'"]
    assert set(csp["connect-src"]) == {"'self'", issuer.url, "http://127.0.0.1:9000"}
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert resp.headers["Cache-Control"] == "no-store"


async def test_page_has_no_inline_script_or_third_party_code(start_frontend):
    """CSP script-src 'self' only works if the page needs nothing else: no inline <script>, no on*=
    handlers, no style attributes, nothing from another origin (no CDN)."""
    client = await start_frontend()
    html = await (await client.get("/")).text()
    for tag in re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S):
        assert tag.strip() == ""
    assert not re.search(r"\son[a-z]+\s*=", html)
    assert " style=" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    js = await client.get("/static/app.js")
    assert js.status == 200 and js.content_type in ("application/javascript", "text/javascript")
    source = await js.text()
    assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|eval\(", source)
    assert not re.search(r"localStorage\.|document\.cookie", source)  # tokens in memory only
    assert "crypto.getRandomValues" in source and "crypto.subtle.digest" in source
    css = await client.get("/static/style.css")
    assert css.status == 200 and css.content_type == "text/css"


async def test_static_files_do_not_escape_their_directory(start_frontend):
    """Path traversal out of the static directory is a 404/403, never a file."""
    client = await start_frontend()
    for path in ("/static/../frontend.py", "/static/%2e%2e/frontend.py", "/static/..%2f..%2fbackend3.py"):
        resp = await client.get(path)
        assert resp.status in (403, 404), path
        assert "create_app" not in await resp.text()
