"""Authlib's OAuth 2.0 authorization server (Flask integration) as a calibration target (tests only).

``python -m tests.calibration.authlib_as PORT`` serves, on 127.0.0.1:PORT, the server of Authlib's Flask
documentation ("Flask OAuth 2.0 Server"): ``AuthorizationServer`` with the authorization code grant and PKCE
(``CodeChallenge(required=True)``), refresh tokens (rotated), client credentials and RFC 7009 revocation,
with in-memory models in place of the documentation's SQLAlchemy ones. The glue Authlib leaves to the
application is written the careful way: a login page (the same answer and the same work for an unknown user
and a wrong password), a consent page with a CSRF token, a SameSite=Lax session cookie, RFC 8414 metadata, and
request errors answered with ``server.handle_error_response`` (an error redirect where Authlib allows one),
and codes consumed atomically.

Clients: "public-app" (public, code + PKCE, refresh tokens) and "confidential-app" (client_secret_basic or
client_secret_post, client_credentials). Account: alice / wonderland-2026.
"""
from __future__ import annotations

import html
import secrets
import sys
import time
from dataclasses import dataclass, field

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.models import AuthorizationCodeMixin, ClientMixin, TokenMixin
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, jsonify, redirect, request, session
from werkzeug.security import check_password_hash, generate_password_hash

REDIRECT = "http://localhost:8080/callback"
SCOPES = ("profile", "api:read", "api:write")
HASH = "pbkdf2:sha256:20000"      # cheaper than the default scrypt: the tests sign in some 130 times
USERS = {"alice": generate_password_hash("wonderland-2026", HASH)}
DUMMY_HASH = generate_password_hash("not-anyone's-password", HASH)
HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'",
           "Referrer-Policy": "no-referrer"}


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str | None
    auth_method: str
    grant_types: tuple[str, ...]
    redirect_uris: tuple[str, ...] = (REDIRECT,)
    scope: str = " ".join(SCOPES)

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope):
        if not scope:
            return ""
        allowed = set(self.scope.split())
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return self.client_secret is not None and secrets.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        if endpoint == "token":
            return method == self.auth_method or (self.auth_method != "none" and method in
                                                   ("client_secret_basic", "client_secret_post"))
        return True

    def check_response_type(self, response_type):
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type):
        return grant_type in self.grant_types


CLIENTS = {
    "public-app": Client("public-app", None, "none", ("authorization_code", "refresh_token")),
    "confidential-app": Client("confidential-app", "calibration-confidential-secret-0123456789",
                               "client_secret_basic", ("client_credentials", "authorization_code", "refresh_token")),
}


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float = field(default_factory=lambda: time.time() + 300)

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def is_expired(self):
        return time.time() > self.expires_at


@dataclass
class Token(TokenMixin):
    client_id: str
    user: str | None
    scope: str
    access_token: str
    refresh_token: str | None
    expires_in: int
    issued_at: float = field(default_factory=time.time)
    revoked: bool = False

    def check_client(self, client):
        return self.client_id == client.get_client_id()

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return time.time() > self.issued_at + self.expires_in

    def is_revoked(self):
        return self.revoked

    def get_user(self):
        return self.user

    def get_client(self):
        return CLIENTS[self.client_id]


CODES: dict[str, Code] = {}
TOKENS: list[Token] = []


def query_client(client_id):
    return CLIENTS.get(client_id)


def save_token(token, request):
    TOKENS.append(Token(request.client.get_client_id(), request.user, token.get("scope", ""), token["access_token"],
                        token.get("refresh_token"), token["expires_in"]))


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def save_authorization_code(self, code, request):
        CODES[code] = Code(code, request.client.get_client_id(), request.payload.redirect_uri, request.scope,
                           request.user, request.payload.data.get("code_challenge"),
                           request.payload.data.get("code_challenge_method"))

    def query_authorization_code(self, code, client):
        # Consumed here, atomically (dict.pop under the GIL): a query-then-delete store, as in the
        # documentation's SQLAlchemy models, lets two concurrent redemptions of one code both succeed, and
        # tok-code-race catches that (intermittently: it is a race).
        item = CODES.pop(code, None)
        if item and item.client_id == client.get_client_id() and not item.is_expired():
            return item
        return None

    def delete_authorization_code(self, authorization_code):
        CODES.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return authorization_code.user


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        for t in TOKENS:
            if t.refresh_token == refresh_token and not t.revoked:
                return t
        return None

    def authenticate_user(self, credential):
        return credential.user

    def revoke_old_credential(self, credential):
        credential.revoked = True


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token_string, token_type_hint):
        for t in TOKENS:
            if token_string in (t.access_token, t.refresh_token):
                return t
        return None

    def revoke_token(self, token, request):
        token.revoked = True


def create_app(issuer: str) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secrets.token_hex(32), SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True,
                      OAUTH2_REFRESH_TOKEN_GENERATOR=True, OAUTH2_SCOPES_SUPPORTED=list(SCOPES),
                      OAUTH2_TOKEN_EXPIRES_IN={"authorization_code": 600, "refresh_token": 600,
                                               "client_credentials": 600})
    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.register_grant(AuthorizationCodeGrant, [CodeChallenge(required=True)])
    server.register_grant(RefreshTokenGrant)
    server.register_grant(grants.ClientCredentialsGrant)
    server.register_endpoint(Revocation)

    def page(title: str, body: str, status: int = 200):
        return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>"
                f"<h1>{title}</h1>{body}</body></html>", status, {**HEADERS, "Content-Type": "text/html; charset=utf-8"})

    def login_form(next_url: str, message: str = ""):
        csrf = session.setdefault("csrf", secrets.token_urlsafe(16))
        return page("Sign in", f"{f'<p>{message}</p>' if message else ''}<form method='post' action='/login'>"
                    f"<input type='hidden' name='csrf' value='{csrf}'>"
                    f"<input type='hidden' name='next' value='{html.escape(next_url, quote=True)}'>"
                    "<label>Username <input type='text' name='username'></label>"
                    "<label>Password <input type='password' name='password'></label>"
                    "<button type='submit'>Sign in</button></form>")

    def csrf_ok() -> bool:
        sent, kept = request.form.get("csrf", ""), session.get("csrf", "")
        return bool(kept) and secrets.compare_digest(sent, kept)

    @app.get("/.well-known/oauth-authorization-server")
    def metadata():
        return jsonify({"issuer": issuer, "authorization_endpoint": f"{issuer}/oauth/authorize",
                        "token_endpoint": f"{issuer}/oauth/token", "revocation_endpoint": f"{issuer}/oauth/revoke",
                        "response_types_supported": ["code"], "scopes_supported": list(SCOPES),
                        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
                        "code_challenge_methods_supported": ["S256", "plain"],
                        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post",
                                                                  "none"]})

    @app.route("/login", methods=["GET", "POST"])
    def login():
        next_url = request.values.get("next", "/")
        if not next_url.startswith("/oauth/authorize"):
            next_url = "/"
        if request.method == "GET":
            return login_form(next_url)
        if not csrf_ok():
            return page("Sign in", "<p>The form expired, please try again.</p>", 400)
        user = request.form.get("username", "")
        known = check_password_hash(USERS.get(user, DUMMY_HASH), request.form.get("password", ""))
        if not known or user not in USERS:
            return login_form(next_url, "Invalid username or password.")
        session.clear()
        session["user"], session["csrf"] = user, secrets.token_urlsafe(16)
        return redirect(next_url, code=303)

    @app.route("/oauth/authorize", methods=["GET", "POST"])
    def authorize():
        user = session.get("user")
        try:
            grant = server.get_consent_grant(end_user=user)
        except OAuth2Error as error:
            return server.handle_error_response(request, error)
        if not user:
            return redirect("/login?next=" + _quote(request.full_path), code=303)
        if request.method == "GET":
            csrf = session.setdefault("csrf", secrets.token_urlsafe(16))
            return page("Authorize", f"<p>{html.escape(grant.client.get_client_id())} asks for access.</p>"
                        f"<form method='post' action='{html.escape(request.full_path, quote=True)}'>"
                        f"<input type='hidden' name='csrf' value='{csrf}'>"
                        "<button type='submit' name='confirm' value='yes'>Allow</button>"
                        "<button type='submit' name='confirm' value='no'>Deny</button></form>")
        if not csrf_ok():
            return page("Authorize", "<p>The form expired, please try again.</p>", 400)
        granted = user if request.form.get("confirm") == "yes" else None
        return server.create_authorization_response(grant_user=granted, grant=grant)

    @app.post("/oauth/token")
    def issue_token():
        return server.create_token_response()

    @app.post("/oauth/revoke")
    def revoke():
        return server.create_endpoint_response(Revocation.ENDPOINT_NAME)

    return app


def _quote(text: str) -> str:
    from urllib.parse import quote
    return quote(text, safe="")


if __name__ == "__main__":
    port = int(sys.argv[1])
    create_app(f"http://127.0.0.1:{port}").run(host="127.0.0.1", port=port, threaded=True)
