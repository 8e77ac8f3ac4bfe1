"""oauth-proxy's OpenAPI document (/openapi.json) and Swagger UI (/docs).

schemathesis (tests/test_schemathesis.py) checks the document against what the server answers to generated
requests; these tests check what generation cannot reach: that every registered route is described, that
the login journey's statuses and headers are the documented ones, and that /docs works offline.
"""
from __future__ import annotations

import base64
import re

from servers.oauth_proxy import create_app
from tests.support.openapi import documented_operations, routed_operations
from tests.support.proxy import FRONTEND_CB, authorize_params, m2m_secret, path_of, proxy_settings


def header_pattern(document: dict, path: str, method: str, status: int, name: str) -> str | None:
    h = document["paths"][path][method]["responses"][str(status)].get("headers", {}).get(name)
    assert h is not None, f"{method.upper()} {path} {status} does not document {name}"
    return h["schema"].get("pattern")


async def test_document_describes_every_registered_route(proxy):
    """Every server's OpenAPI document describes all its routes: the operations of /openapi.json
    are exactly the (method, path) pairs the proxy routes."""
    resp = await proxy.get("/openapi.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    document = await resp.json()
    assert document["openapi"] == "3.0.3"
    routed = routed_operations(proxy.app)
    assert {("POST", "/token"), ("GET", "/authorize"), ("POST", "/login"), ("GET", "/revocations")} <= routed
    assert documented_operations(document) == routed


async def test_client_authentication_is_documented_as_client_secret_basic(proxy, tmp_path):
    """RFC 6749 §2.3.1: "Clients in possession of a client password MAY use the HTTP Basic authentication
    scheme". The document's scheme is http basic (Swagger UI's Authorize builds that header: no urlencoding,
    which is the same for the seeded secret's base64url characters), required on /introspect and optional on
    /token and /revoke (public clients send client_id alone). That header really authenticates m2m."""
    document = await (await proxy.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"] == {"client_secret_basic": {
        "type": "http", "scheme": "basic", "description": document["components"]["securitySchemes"][
            "client_secret_basic"]["description"]}}
    paths = document["paths"]
    assert paths["/introspect"]["post"]["security"] == [{"client_secret_basic": []}]
    assert paths["/token"]["post"]["security"] == [{"client_secret_basic": []}, {}]
    assert paths["/revoke"]["post"]["security"] == [{"client_secret_basic": []}, {}]
    assert "security" not in paths["/authorize"]["get"]
    swagger_header = "Basic " + base64.b64encode(f"m2m:{m2m_secret(tmp_path)}".encode()).decode()
    ok = await proxy.post("/introspect", data={"token": "x"}, headers={"Authorization": swagger_header})
    assert ok.status == 200 and await ok.json() == {"active": False}
    refused = await proxy.post("/introspect", data={"token": "x"})
    assert refused.status == 401 and (await refused.json())["error"] == "invalid_client"
    pattern = header_pattern(document, "/introspect", "post", 401, "WWW-Authenticate")
    assert re.search(pattern, refused.headers["WWW-Authenticate"])
    assert refused.headers["WWW-Authenticate"] == 'Basic realm="oauth"'


async def test_authorization_journey_answers_as_documented(proxy):
    """RFC 6749 §4.1.2.1: an unregistered redirect_uri gets an error page, never a redirect (documented 400
    text/html with CSP); a valid request is 302 to /login; the login form is 200 HTML; a successful login is
    303 with Location and no-store, as the document says (schemathesis cannot log in, so this is checked
    here)."""
    document = await (await proxy.get("/openapi.json")).json()
    authorize = document["paths"]["/authorize"]["get"]["responses"]
    bad = await proxy.get("/authorize", params=authorize_params(redirect_uri=FRONTEND_CB + "/x"),
                          allow_redirects=False)
    assert bad.status == 400 and bad.content_type == "text/html" and "Location" not in bad.headers
    assert "text/html" in authorize["400"]["content"]
    for name in ("Content-Security-Policy", "X-Frame-Options", "Cache-Control"):
        assert re.search(header_pattern(document, "/authorize", "get", 400, name), bad.headers[name])
    assert "default-src 'none'" in bad.headers["Content-Security-Policy"]

    start = await proxy.get("/authorize", params=authorize_params(), allow_redirects=False)
    assert start.status == 302 and "/login?request=" in start.headers["Location"]
    assert re.search(header_pattern(document, "/authorize", "get", 302, "Cache-Control"),
                     start.headers["Cache-Control"])
    form = await proxy.get(path_of(start.headers["Location"]))
    assert form.status == 200 and form.content_type == "text/html"
    assert "text/html" in document["paths"]["/login"]["get"]["responses"]["200"]["content"]
    assert "default-src 'none'" in form.headers["Content-Security-Policy"]
    html = await form.text()
    fields = {n: re.search(rf'name="{n}" value="([^"]+)"', html).group(1) for n in ("request", "csrf_token")}
    done = await proxy.post("/login", data={**fields, "username": "johndoe", "password": "secret"},
                            allow_redirects=False)
    assert done.status == 303 and done.headers["Location"].startswith(FRONTEND_CB + "?code=")
    assert "303" in document["paths"]["/login"]["post"]["responses"]
    assert re.search(header_pattern(document, "/login", "post", 303, "Cache-Control"),
                     done.headers["Cache-Control"])
    documented = set(document["paths"]["/login"]["post"]["responses"])
    assert {"303", "400", "401", "403", "429"} <= documented


async def test_docs_serves_swagger_ui_offline(proxy):
    """OpenAPI at /openapi.json and Swagger UI at /docs, served offline from the packaged
    Swagger UI (no CDN): every script and stylesheet of the page is served by the proxy itself."""
    page = await proxy.get("/docs")
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(a.startswith("/docs/") for a in assets), assets
    assert "http://" not in html and "https://" not in html
    for asset in assets:
        resp = await proxy.get(asset)
        assert resp.status == 200, asset
        assert len(await resp.read()) > 100
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    init = await (await proxy.get("/docs/init.js")).text()
    assert '"oauth": null' in init  # no OAuth2 flow: Authorize is the Basic client credential
    assert (await proxy.get("/docs/static/swagger-ui-bundle.js")).status == 200
    assert (await proxy.get("/docs/oauth2-redirect.html")).status == 200


async def test_the_login_page_keeps_its_strict_csp_beside_docs(proxy):
    """RFC 9700 §4.16: the login page must not be framed and runs no script; adding /docs (whose Swagger UI
    needs script) does not relax the CSP of the proxy's own pages."""
    start = await proxy.get("/authorize", params=authorize_params(), allow_redirects=False)
    form = await proxy.get(path_of(start.headers["Location"]))
    csp = form.headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'; style-src 'sha256-") and "script-src" not in csp
    assert "frame-ancestors 'none'" in csp and form.headers["X-Frame-Options"] == "DENY"


def test_document_is_built_at_app_creation_with_the_issuer(tmp_path):
    """The document names the configured issuer (where the endpoints are) and is valid JSON-able data."""
    import json
    app = create_app(proxy_settings(tmp_path, public_url="https://auth.example"))
    from servers.common.docs import OPENAPI
    document = json.loads(json.dumps(app[OPENAPI]))
    assert "https://auth.example" in document["info"]["description"]
