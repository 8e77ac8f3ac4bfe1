"""oauth-proxy's OpenAPI 3.0.3 document (served at ``/openapi.json``, Swagger UI at ``/docs``).

It describes every route the proxy registers (``tests/test_oauth_proxy_openapi.py`` compares the document
with ``app.router``), with the statuses, content types and headers the handlers really send:

- the JSON endpoints (discovery, JWKS, /token, /revoke, /introspect, /revocations, /health), whose errors
  have the RFC 6749 §5.2 shape and carry ``Cache-Control: no-store`` (the shared middleware adds it to every
  JSON response); ``invalid_client`` is 401 with ``WWW-Authenticate: Basic realm="oauth"``;
- the browser endpoints (/authorize, /login): 302/303 redirects with ``Location``, and HTML pages with their
  strict CSP and ``X-Frame-Options: DENY``. A request whose client or redirect_uri cannot be trusted gets a
  400 HTML page and is never redirected (RFC 6749 §4.1.2.1); every other authorization error goes back to
  the client in a 302 (so the schemas of /authorize's other parameters are plain strings: a wrong value is
  answered by a redirect carrying ``error``, as the RFC requires, not by a 4xx).

Security: client authentication, not bearer tokens, is what the proxy's endpoints take. It is declared as
an HTTP Basic scheme (``client_secret_basic``, RFC 6749 §2.3.1), so Swagger UI's Authorize button asks for a
client_id and secret (``run.py clients show m2m``) and "Try it out" on /token or /introspect works. The
alternatives that OpenAPI cannot express as a scheme are in the request bodies: ``client_secret_post``
(``client_id`` + ``client_secret``) and, for public clients on /token and /revoke, ``client_id`` alone
(hence the empty ``{}`` alternative there). /introspect needs a confidential client: Basic is required in
the document (``client_secret_post`` works too, as its body schema says). An oauth2 scheme would be wrong
here: Swagger UI would fetch a token and send it as ``Bearer``, which no proxy endpoint accepts.
"""
from __future__ import annotations

import copy
from typing import Any

from servers.common import docs
from servers.common.pkce import METHOD

from .clients import ALL_GRANTS, SCOPES, TOKEN_EXCHANGE
from .issuer import ACCESS_TOKEN_TYPE

BASIC = "client_secret_basic"
EXAMPLE_CLIENT = "frontend"
EXAMPLE_REDIRECT = "http://127.0.0.1:8080/callback"
EXAMPLE_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636 Appendix B

_STR = {"type": "string"}
_STRS = {"type": "array", "items": _STR}

METADATA_SCHEMA = {
    "type": "object",
    "required": ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported",
                 "grant_types_supported", "code_challenge_methods_supported"],
    "properties": {
        **{k: _STR for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri",
                             "revocation_endpoint", "introspection_endpoint", "revocation_list_endpoint")},
        **{k: _STRS for k in ("scopes_supported", "response_types_supported", "response_modes_supported",
                              "grant_types_supported", "code_challenge_methods_supported",
                              "token_endpoint_auth_methods_supported",
                              "revocation_endpoint_auth_methods_supported",
                              "introspection_endpoint_auth_methods_supported", "subject_types_supported",
                              "access_token_signing_alg_values_supported")},
        "authorization_response_iss_parameter_supported": {"type": "boolean"},
    },
}
JWKS_SCHEMA = {
    "type": "object", "required": ["keys"],
    "properties": {"keys": {"type": "array", "items": {
        "type": "object", "required": ["kty", "kid", "use", "alg", "n", "e"],
        "properties": {k: _STR for k in ("kty", "kid", "use", "alg", "n", "e")}}}},
}
INTROSPECTION_SCHEMA = {
    "type": "object", "required": ["active"],
    "properties": {"active": {"type": "boolean"},
                   **{k: _STR for k in ("token_type", "scope", "client_id", "sub", "username", "aud", "iss",
                                        "jti", "gty")},
                   "exp": {"type": "integer"}, "iat": {"type": "integer"}},
}
REVOCATIONS_SCHEMA = {
    "type": "object", "required": ["issuer", "revoked"],
    "properties": {"issuer": _STR, "revoked": {"type": "array", "items": {
        "type": "object", "required": ["jti", "exp"],
        "properties": {"jti": _STR, "exp": {"type": "integer"}}}}},
}

PUBLIC_CACHE = {"Cache-Control": docs.header("Public, cacheable for 5 minutes", r"^public, max-age=300$")}
RETRY_AFTER = {"Retry-After": docs.header("Seconds until the next attempt may succeed", r"^[0-9]+$")}
SET_COOKIE = {"Set-Cookie": {"description": "HttpOnly, SameSite=Lax cookies (login CSRF token; session)",
                             "schema": _STR}}


def _json(schema: dict, headers: dict | None = None, description: str = "OK") -> dict:
    resp = docs.json_response(schema, description)
    if headers:
        resp["headers"] = dict(headers)
    return resp


def token_errors(*codes: int) -> dict[str, Any]:
    """RFC 6749 §5.2 errors of the client-authenticating endpoints: JSON, never cached, and 401
    ``invalid_client`` with the Basic challenge (§5.2: "MUST include the WWW-Authenticate header")."""
    out = docs.error_responses(*codes)
    for code, resp in out.items():
        resp.setdefault("headers", {}).update(docs.NO_STORE_HEADERS)
        if code == "401":
            resp["description"] = "invalid_client: client authentication failed (RFC 6749 §5.2)"
            resp["headers"]["WWW-Authenticate"] = docs.header("RFC 6749 §5.2: the Basic challenge",
                                                              r'^Basic realm="oauth"$')
    return out


def _param(name: str, description: str, required: bool = False, example: str | None = None) -> dict:
    p: dict[str, Any] = {"name": name, "in": "query", "required": required, "description": description,
                         "schema": dict(_STR)}
    if example is not None:
        p["example"] = example
    return p


# /authorize: (name, description, required, example). Only client_id and redirect_uri decide between the
# error page and a redirect; the others are checked after, and a wrong value is redirected with ``error``.
AUTHORIZE_PARAMS = (
    ("client_id", "A registered client allowed the code flow; unknown: 400 error page", True, EXAMPLE_CLIENT),
    ("redirect_uri", "Character for character one of the client's registered URIs; otherwise: 400 error "
                     "page (never redirected)", True, EXAMPLE_REDIRECT),
    ("response_type", "Must be `code` (else error=unsupported_response_type)", False, "code"),
    ("code_challenge", "RFC 7636: BASE64URL(SHA-256(code_verifier)), 43 characters; required", False,
     EXAMPLE_CHALLENGE),
    ("code_challenge_method", f"Must be exactly `{METHOD}` (plain is refused)", False, METHOD),
    ("scope", f"Space-separated, within the client's scopes ({', '.join(SCOPES)})", False, "me items"),
    ("state", "Echoed back unchanged (at most 4096 characters)", False, "af0ifjsldkj"),
    ("resource", "RFC 8707: one of the client's audiences (else error=invalid_target)", False, None),
    ("prompt", "`login` forces a new login; `none` without a session gives error=login_required", False,
     None),
)

AUTHORIZE_RESPONSES = {
    "302": docs.redirect_response(
        "To /login?request=... (no session), or back to the redirect_uri with `code` or `error`, "
        "`state` and `iss` (RFC 9207)"),
    "400": docs.html_response("Error page: repeated/unknown client_id, unregistered redirect_uri or a "
                              "malformed request. Never redirected (RFC 6749 §4.1.2.1)",
                              docs.HTML_PAGE_HEADERS),
    **docs.error_responses(503),
}


def authorize_operations() -> dict:
    params = [_param(n, d, r, e) for n, d, r, e in AUTHORIZE_PARAMS]
    form = {"type": "object", "required": ["client_id", "redirect_uri"],
            "properties": {n: {**_STR, "description": d} for n, d, _, _ in AUTHORIZE_PARAMS},
            "example": {n: e for n, _, _, e in AUTHORIZE_PARAMS if e is not None}}
    summary = "Authorization endpoint: Authorization Code + PKCE S256 (RFC 6749 §4.1, RFC 7636)"
    return {
        "get": {"summary": summary, "parameters": params, "responses": dict(AUTHORIZE_RESPONSES)},
        "post": {"summary": summary + ", parameters in a form body", "requestBody": docs.form_body(form),
                 "responses": {**AUTHORIZE_RESPONSES, **docs.error_responses(413)}},
    }


def login_operations() -> dict:
    html = docs.HTML_PAGE_HEADERS
    form = {"type": "object", "required": ["request", "csrf_token", "username", "password"],
            "properties": {"request": {**_STR, "description": "The parked authorization request"},
                           "csrf_token": {**_STR, "description": "Must equal the parked request's token and "
                                                                 "the HttpOnly cookie (RFC 6749 §10.12)"},
                           "username": _STR, "password": {**_STR, "format": "password"}}}
    bad_form = docs.error_responses(400)["400"]["content"]
    return {
        "get": {"summary": "The login form of a parked authorization request",
                "parameters": [_param("request", "The id /authorize redirected with")],
                "responses": {"200": docs.html_response("The login form (sets the CSRF cookie)",
                                                        {**html, **SET_COOKIE}),
                              "400": docs.html_response("Unknown or expired sign-in request", html),
                              **docs.error_responses(503)}},
        "post": {"summary": "Log in (bcrypt, throttled); 303 to the client's redirect_uri with the code",
                 "requestBody": docs.form_body(form),
                 "responses": {
                     "303": docs.redirect_response("Back to the redirect_uri with `code`, `state` and `iss`; "
                                                   "sets the session cookie", SET_COOKIE),
                     "400": {"description": "Unknown or expired sign-in request (HTML), or a malformed form "
                                            "body (JSON invalid_request)",
                             "content": {"text/html": {"schema": _STR}, **bad_form}},
                     "401": docs.html_response("Wrong username or password: the form again", html),
                     "403": docs.html_response("CSRF token missing or wrong: no code", html),
                     "429": docs.html_response("Too many failed logins for this user or address",
                                               {**html, **RETRY_AFTER}),
                     **docs.error_responses(413, 503)}},
    }


TOKEN_FORM = {
    "type": "object", "required": ["grant_type"],
    "description": "Which parameters a grant needs is said on each one. Empty parameters count as absent "
                   "(RFC 6749 §3.1); a repeated parameter listed here is invalid_request, any other "
                   "parameter is ignored (RFC 6749 §3.1).",
    "properties": {
        "grant_type": {"type": "string", "enum": list(ALL_GRANTS)},
        "code": {**_STR, "description": "authorization_code: required"},
        "redirect_uri": {**_STR, "description": "authorization_code: required, as in the authorization "
                                                "request"},
        "code_verifier": {**_STR, "description": "authorization_code: required, RFC 7636 §4.1 "
                                                 "(43-128 unreserved characters)"},
        "refresh_token": {**_STR, "description": "refresh_token: required (rotated on every use)"},
        "scope": {**_STR, "description": "Optional: space-separated, within what the client (or the "
                                         "refreshed grant) has"},
        "resource": {**_STR, "description": "Optional (RFC 8707): one of the client's audiences"},
        "subject_token": {**_STR, "description": "token exchange: required, a JWT of a trusted issuer"},
        "subject_token_type": {**_STR, "description": f"token exchange: required, `{ACCESS_TOKEN_TYPE}` or "
                                                      "`urn:ietf:params:oauth:token-type:jwt`"},
        "requested_token_type": {**_STR, "description": f"token exchange: optional, `{ACCESS_TOKEN_TYPE}`"},
        "audience": {**_STR, "description": "token exchange: optional, as resource"},
        "client_id": {**_STR, "description": "client_secret_post, or a public client (none)"},
        "client_secret": {**_STR, "format": "password", "description": "client_secret_post"},
    },
    "example": {"grant_type": "client_credentials", "scope": "me"},
}

CLIENT_AUTH = (f"Client authentication: exactly one of `{BASIC}` (the Authorization header), "
               "`client_secret_post` (`client_id` + `client_secret` in the body) or, for a public client, "
               "`client_id` alone.")


def token_operation() -> dict:
    return {"post": {
        "summary": "Token endpoint: " + ", ".join(ALL_GRANTS) + " (RFC 6749 §4.1.3, §4.4, §6; RFC 8693)",
        "description": CLIENT_AUTH + f" `{TOKEN_EXCHANGE}` needs --trusted-issuers.",
        "security": [{BASIC: []}, {}],
        "requestBody": docs.form_body(TOKEN_FORM),
        "responses": {"200": _json({"$ref": "#/components/schemas/Token"}, docs.NO_STORE_HEADERS),
                      **token_errors(400, 401, 413, 503)},
    }}


def _token_form(description: str) -> dict:
    return {"type": "object", "required": ["token"],
            "properties": {"token": {**_STR, "description": description},
                           "token_type_hint": {**_STR, "description": "Optional; not needed: both kinds "
                                                                      "are looked up"},
                           "client_id": _STR, "client_secret": {**_STR, "format": "password"}}}


def revoke_operation() -> dict:
    return {"post": {
        "summary": "Revocation (RFC 7009): a refresh token revokes its whole grant",
        "description": CLIENT_AUTH + " Unknown tokens and other clients' tokens get 200 too (§2.2).",
        "security": [{BASIC: []}, {}],
        "requestBody": docs.form_body(_token_form("An access or refresh token of this client")),
        "responses": {"200": {"description": "Revoked (or nothing to revoke): no body",
                              "headers": dict(docs.NO_STORE_HEADERS)},
                      **token_errors(400, 401, 413, 503)},
    }}


def introspect_operation() -> dict:
    return {"post": {
        "summary": "Introspection (RFC 7662), for confidential clients",
        "description": f"`{BASIC}`, or `client_secret_post` in the body. A token is reported active only to "
                       "its own client or to a client whose audiences include its `aud` (§4).",
        "security": [{BASIC: []}],
        "requestBody": docs.form_body(_token_form("An access or refresh token")),
        "responses": {"200": _json(INTROSPECTION_SCHEMA, docs.NO_STORE_HEADERS),
                      **token_errors(400, 401, 413, 503)},
    }}


def openapi(issuer: str) -> dict:
    """The proxy's document; ``issuer`` is named in the description (paths are relative to the server)."""
    metadata = docs.public_get("Authorization server metadata (RFC 8414; the same document at both paths)",
                               METADATA_SCHEMA)
    # 503 (a shared store is down): /revocations reads the store, and so does the CORS origin check
    # of the metadata and JWKS (a request with an Origin header).
    store_down = docs.error_responses(503)
    metadata["get"]["responses"]["200"]["headers"] = dict(PUBLIC_CACHE)
    metadata["get"]["responses"].update(store_down)
    jwks = docs.public_get("JWK Set (RFC 7517): the signing key first, retired keys until pruned",
                           JWKS_SCHEMA)
    jwks["get"]["responses"]["200"]["headers"] = dict(PUBLIC_CACHE)
    jwks["get"]["responses"].update(store_down)
    revocations = docs.public_get("Revoked access-token jtis with their exp, for resource servers to poll",
                                  REVOCATIONS_SCHEMA)
    etag = {"ETag": docs.header("An entity tag of this list, for If-None-Match")}
    revocations["get"]["parameters"] = [{"name": "If-None-Match", "in": "header", "required": False,
                                         "schema": {"type": "string"},
                                         "description": "the ETag of the list the caller already has"}]
    revocations["get"]["responses"]["200"]["headers"] = {**docs.NO_STORE_HEADERS, **etag}
    revocations["get"]["responses"]["304"] = {"description": "Not modified since the ETag given",
                                              "headers": dict(etag)}
    revocations["get"]["responses"].update(store_down)
    paths = {
        "/.well-known/oauth-authorization-server": metadata,
        "/.well-known/openid-configuration": copy.deepcopy(metadata),
        "/.well-known/jwks.json": jwks,
        "/authorize": authorize_operations(),
        "/login": login_operations(),
        "/token": token_operation(),
        "/revoke": revoke_operation(),
        "/introspect": introspect_operation(),
        "/revocations": revocations,
        "/health": docs.public_get("Liveness check (no auth)", docs.STATUS_SCHEMA),
    }
    document = docs.openapi_document(
        "oauthlab oauth-proxy (OAuth 2.0 authorization server)",
        f"Issuer {issuer}. Authorization Code + PKCE (S256 only), refresh-token rotation, "
        "client_credentials, "
        "token exchange (RFC 8693), revocation and introspection; RS256 access tokens (RFC 9068). "
        f"Authorize with a confidential client's id and secret ({BASIC}; the seeded one is `m2m`: "
        "`python run.py clients show m2m`) to try /token and /introspect. Registered SPA origins may call "
        "/token, /revoke, the JWKS and the metadata (CORS; preflights are answered 204).",
        paths,
        {BASIC: docs.basic_scheme("RFC 6749 §2.3.1 client_secret_basic: client_id and client_secret")})
    return document
