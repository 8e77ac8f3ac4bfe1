"""Interop: generic, well-known client libraries against a real `run.py serve oauth-proxy` process, with no
special cases: authlib's OAuth2Session (Authorization Code + PKCE S256, refresh, revocation) and PyJWT's
PyJWKClient (JWKS-based verification)."""
from __future__ import annotations

import re
from urllib.parse import urljoin

import jwt
import pytest

from tests.conftest import free_port, live_server

authlib_requests = pytest.importorskip("authlib.integrations.requests_client")

AUDIENCE = "http://127.0.0.1:9000"


def login_through_form(session, authorization_url: str, username: str, password: str) -> str:
    """Drive the proxy's login page like a browser would; returns the callback URL."""
    r = session.get(authorization_url, allow_redirects=False, withhold_token=True)
    assert r.status_code == 302, r.text
    login_url = urljoin(authorization_url, r.headers["Location"])
    page = session.get(login_url, allow_redirects=False, withhold_token=True)
    assert page.status_code == 200
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]+)"', page.text))
    post = session.post(urljoin(login_url, "/login"), data={**fields, "username": username,
                                                            "password": password}, allow_redirects=False,
                        withhold_token=True)
    assert post.status_code == 303, post.text
    return post.headers["Location"]


def test_authlib_code_flow_with_pkce_refresh_and_revocation(tmp_path):
    """RFC 6749 §4.1 + RFC 7636 (S256) with a generic client: authlib creates the challenge, checks state,
    redeems the code; refresh (RFC 6749 §6) and revocation (RFC 7009) work with its stock methods."""
    frontend = f"http://127.0.0.1:{free_port()}"
    with live_server("oauth-proxy", tmp_path, "--frontend-url", frontend) as base:
        import requests
        meta = requests.get(base + "/.well-known/openid-configuration").json()
        callback = frontend + "/callback"  # added by --frontend-url
        client = authlib_requests.OAuth2Session("frontend", redirect_uri=callback, scope="me items",
                                                code_challenge_method="S256", token_endpoint_auth_method="none")
        from authlib.common.security import generate_token
        verifier = generate_token(64)
        url, state = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)
        response_url = login_through_form(client, url, "johndoe", "secret")
        assert response_url.startswith(callback + "?")
        token = client.fetch_token(meta["token_endpoint"], authorization_response=response_url, state=state,
                                   code_verifier=verifier)
        assert token["token_type"] == "Bearer" and token["scope"] == "me items"

        jwks_client = jwt.PyJWKClient(meta["jwks_uri"])
        key = jwks_client.get_signing_key_from_jwt(token["access_token"])
        claims = jwt.decode(token["access_token"], key.key, algorithms=["RS256"], audience=AUDIENCE,
                            issuer=meta["issuer"])
        assert claims["sub"] == "johndoe" and claims["azp"] == "frontend"

        refreshed = client.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
        assert refreshed["refresh_token"] != token["refresh_token"]
        r = client.revoke_token(meta["revocation_endpoint"], token=refreshed["refresh_token"],
                                token_type_hint="refresh_token")
        assert r.status_code == 200
        again = requests.post(meta["token_endpoint"], data={"grant_type": "refresh_token", "client_id": "frontend",
                                                            "refresh_token": refreshed["refresh_token"]})
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_authlib_client_credentials_with_basic_auth(tmp_path):
    """RFC 6749 §4.4 with client_secret_basic as authlib sends it; the token verifies with PyJWKClient."""
    with live_server("oauth-proxy", tmp_path) as base:
        secret = (tmp_path / "keys" / "client-secret-m2m").read_text().strip()
        client = authlib_requests.OAuth2Session("m2m", secret, token_endpoint_auth_method="client_secret_basic")
        token = client.fetch_token(base + "/token", grant_type="client_credentials")
        key = jwt.PyJWKClient(base + "/.well-known/jwks.json").get_signing_key_from_jwt(token["access_token"])
        claims = jwt.decode(token["access_token"], key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=base)
        assert claims["gty"] == "client-credentials" and "refresh_token" not in token
