"""OpenAPI 3.0.3 documents (the version the packaged Swagger UI 4 renders) and an offline Swagger UI (from the ``swagger-ui-bundle`` package, no CDN).

Every server builds its document with these helpers and serves it at ``/openapi.json``; ``/docs`` is
Swagger UI with the server's OAuth2 security scheme, so the Authorize button works (password flow on the
password servers, Authorization Code + PKCE on backend4).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from aiohttp import web

OPENAPI = web.AppKey("openapi", dict)
SWAGGER_INIT = web.AppKey("swagger_init", dict)
SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"},
                   "scope": {"type": "string"}},
}
USER_SCHEMA = {
    "type": "object",
    "required": ["username", "full_name", "email", "disabled"],
    "properties": {"username": {"type": "string"}, "full_name": {"type": "string"},
                   "email": {"type": "string"}, "disabled": {"type": "boolean"}},
}
ITEMS_SCHEMA = {
    "type": "array",
    "items": {"type": "object", "required": ["item_id", "owner"],
              "properties": {"item_id": {"type": "string"}, "owner": {"type": "string"}}},
}
STATUS_SCHEMA = {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}
TOKEN_SCHEMA = {
    "type": "object",
    "required": ["access_token", "token_type", "expires_in"],
    "properties": {"access_token": {"type": "string"}, "token_type": {"type": "string"},
                   "expires_in": {"type": "integer"}, "scope": {"type": "string"},
                   "refresh_token": {"type": "string"}, "issued_token_type": {"type": "string"}},
}

_DESCRIPTIONS = {400: "Bad request (invalid_request and the other RFC 6749 §5.2 codes)",
                 401: "Missing or invalid credentials (RFC 6750 §3.1)",
                 403: "Insufficient scope (RFC 6750 §3.1)", 404: "Not found", 405: "Method not allowed",
                 413: "Request body too large", 429: "Too many failed attempts (Retry-After)",
                 500: "Server error", 503: "Temporarily unavailable"}


def json_response(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _header(description: str, pattern: str | None = None) -> dict:
    schema: dict[str, Any] = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {"description": description, "required": True, "schema": schema}


# Headers the servers always send with these statuses, so that clients (and schemathesis) can rely on them.
_ERROR_HEADERS = {
    401: {"WWW-Authenticate": _header("The authentication challenge (RFC 6750 §3, RFC 6749 §5.2)")},
    429: {"Retry-After": _header("Seconds until the next attempt may succeed", r"^[0-9]+$")},
    503: {"Retry-After": _header("Seconds until the service is expected back", r"^[0-9]+$")},
}
_BEARER_CHALLENGE = {"WWW-Authenticate": _header("RFC 6750 §3: a Bearer challenge", r"^Bearer( |$)")}
NO_STORE_HEADERS = {"Cache-Control": _header("RFC 6749 §5.1: no-store", r"no-store"),
                    "Pragma": _header("RFC 6749 §5.1: no-cache", r"^no-cache$")}


def error_responses(*codes: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in codes:
        resp = json_response({"$ref": "#/components/schemas/Error"}, _DESCRIPTIONS.get(c, "Error"))
        if c in _ERROR_HEADERS:
            resp["headers"] = dict(_ERROR_HEADERS[c])
        out[str(c)] = resp
    return out


def protected_get(summary: str, schema: dict, scopes: tuple[str, ...], scheme: str) -> dict:
    """A GET operation that needs a bearer token with ``scopes`` (503: a shared store is down)."""
    codes = (401, 403) if scopes else (401,)
    responses = {"200": json_response(schema), **error_responses(400, *codes, 503)}
    for c in ("401", "403"):  # RFC 6750 §3: these always carry a Bearer challenge
        if c in responses:
            responses[c]["headers"] = dict(_BEARER_CHALLENGE)
    return {"get": {"summary": summary, "security": [{scheme: list(scopes)}], "responses": responses}}


def public_get(summary: str, schema: dict) -> dict:
    return {"get": {"summary": summary, "responses": {"200": json_response(schema)}}}


def password_token_operation(scopes_known: bool) -> dict:
    """POST /token for the password grant (RFC 6749 §4.3), form-encoded."""
    props: dict[str, Any] = {
        "grant_type": {"type": "string", "enum": ["password"]},
        # RFC 6749 §3.1: an empty parameter is treated as omitted, so a usable value has >= 1 character.
        "username": {"type": "string", "minLength": 1},
        "password": {"type": "string", "format": "password", "minLength": 1},
        "scope": {"type": "string", "description": "space-separated scopes" if scopes_known else "ignored"},
        "client_id": {"type": "string"}, "client_secret": {"type": "string"},
    }
    return {"post": {
        "summary": "Token endpoint: OAuth 2.0 password grant (RFC 6749 §4.3)",
        "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
            "schema": {"type": "object", "required": ["grant_type", "username", "password"],
                       "properties": props}}}},
        "responses": {"200": {**json_response({"$ref": "#/components/schemas/Token"}),
                              "headers": dict(NO_STORE_HEADERS)},
                      **error_responses(400, 413, 429, 503)},
    }}


def openapi_document(title: str, description: str, paths: dict, security_schemes: dict) -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "0.1.0", "description": description},
        "paths": paths,
        "components": {"securitySchemes": security_schemes,
                       "schemas": {"Error": ERROR_SCHEMA, "User": USER_SCHEMA, "Token": TOKEN_SCHEMA}},
    }


def password_scheme(scopes: dict[str, str]) -> dict:
    return {"type": "oauth2", "flows": {"password": {"tokenUrl": "/token", "scopes": scopes}}}


def docs_headers() -> dict[str, str]:
    return {"Content-Security-Policy": "frame-ancestors 'none'", "X-Frame-Options": "DENY",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


DOCS_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8"><title>{title} - Swagger UI</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>
"""

INIT_JS = """window.onload = function () {
  var cfg = %s;
  window.ui = SwaggerUIBundle({
    url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout",
    oauth2RedirectUrl: window.location.origin + "/docs/oauth2-redirect.html",
    persistAuthorization: false
  });
  if (cfg.oauth) { window.ui.initOAuth(cfg.oauth); }
};
"""


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI], headers={"Cache-Control": "no-cache"})


async def docs_page(request: web.Request) -> web.Response:
    title = request.app[OPENAPI]["info"]["title"]
    return web.Response(text=DOCS_PAGE.format(title=title), content_type="text/html", headers=docs_headers())


async def docs_init(request: web.Request) -> web.Response:
    return web.Response(text=INIT_JS % json.dumps(request.app[SWAGGER_INIT]),
                        content_type="application/javascript", headers={"Cache-Control": "no-cache"})


async def oauth2_redirect(request: web.Request) -> web.Response:
    return web.Response(body=(SWAGGER_DIR / "oauth2-redirect.html").read_bytes(), content_type="text/html",
                        headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})


def add_docs(app: web.Application, document: dict, oauth: dict | None = None) -> None:
    """Serve ``document`` at /openapi.json and Swagger UI at /docs (``oauth``: Swagger UI initOAuth)."""
    app[OPENAPI] = document
    app[SWAGGER_INIT] = {"oauth": oauth}
    app.router.add_get("/openapi.json", openapi_json)
    app.router.add_get("/docs", docs_page)
    app.router.add_get("/docs/", docs_page)
    app.router.add_get("/docs/init.js", docs_init)
    app.router.add_get("/docs/oauth2-redirect.html", oauth2_redirect)
    app.router.add_static("/docs/static/", SWAGGER_DIR, follow_symlinks=False)


# -- pieces for servers that are not only JSON APIs (oauth-proxy's HTML pages and redirects, frontend) ------
def header(description: str, pattern: str | None = None) -> dict:
    """A required response header (string), optionally with a regular expression it always matches."""
    return _header(description, pattern)


# RFC 9700 §4.16 (clickjacking): the HTML pages of the authorization server always send these.
HTML_PAGE_HEADERS = {
    "Content-Security-Policy": header("A strict CSP (no framing, no script)", r"frame-ancestors 'none'"),
    "X-Frame-Options": header("No framing", r"^DENY$"),
    "Cache-Control": header("Pages carry per-request state: never cached", r"no-store"),
}


def html_response(description: str, headers: dict | None = None) -> dict:
    """An HTML page (``text/html``) with the given (required) headers."""
    resp: dict[str, Any] = {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}
    if headers:
        resp["headers"] = dict(headers)
    return resp


def redirect_response(description: str, headers: dict | None = None) -> dict:
    """A redirect: no body, a required ``Location`` and never cached."""
    return {"description": description,
            "headers": {"Location": header("Where the browser goes next"),
                        "Cache-Control": header("Redirects carry codes or state: never cached", r"no-store"),
                        **(headers or {})}}


def form_body(schema: dict, required: bool = True) -> dict:
    """An ``application/x-www-form-urlencoded`` request body (RFC 6749 Appendix B)."""
    return {"required": required, "content": {"application/x-www-form-urlencoded": {"schema": schema}}}


def basic_scheme(description: str) -> dict:
    """HTTP Basic (e.g. RFC 6749 §2.3.1 ``client_secret_basic``); Swagger UI's Authorize asks for both parts."""
    return {"type": "http", "scheme": "basic", "description": description}
