"""backend4 run for real (``run.py serve backend4``) in front of the real oauth-proxy: tokens the proxy issues
are accepted, tokens for another audience are not, and backend4 starts and answers sensibly while the
issuer is down. (The browser journeys are in tests/test_browser_spa.py.)"""
from __future__ import annotations

from tests.support.issuer import LocalIssuer, client_credentials, get
from tests.support.settings import free_port, live_server


def test_proxy_token_accepted_by_backend4_and_audience_enforced(tmp_path):
    """RFC 9068 §4 across two real processes: backend4 discovers the proxy, fetches its JWKS, and accepts
    the proxy's RS256 at+jwt token whose aud is backend4's identifier; a backend4 configured with another
    identifier refuses the very same token (invalid_token), so a token for one API is useless at another."""
    b4_port = free_port()
    b4_url = f"http://127.0.0.1:{b4_port}"
    with live_server("oauth-proxy", tmp_path, "--resource-url", b4_url) as proxy, \
            live_server("backend4", tmp_path, "--upstream-issuer", proxy, port=b4_port) as api, \
            live_server("backend4", tmp_path, "--upstream-issuer", proxy, "--audience", "urn:other:api") as other:
        tok = client_credentials(proxy, tmp_path / "keys", "me items")
        assert "access_token" in tok, tok
        status, _, body = get(api + "/users/me", tok["access_token"])
        assert status == 200, body
        assert body["username"] and body["client_id"] == "m2m" and body["gty"] == "client-credentials"
        assert get(api + "/users/me/items", tok["access_token"])[0] == 200
        status, headers, body = get(other + "/users/me", tok["access_token"])
        assert status == 401 and headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
        only_items = client_credentials(proxy, tmp_path / "keys", "items")["access_token"]
        status, headers, _ = get(api + "/users/me", only_items)
        assert status == 403
        assert headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope", scope="me"'


def test_backend4_process_starts_with_the_issuer_down(tmp_path):
    """No network call blocks start-up: with nothing listening at --upstream-issuer, /health answers 200, a
    token that cannot be checked yet is 503 temporarily_unavailable, and garbage is still 401."""
    issuer = LocalIssuer()  # a free port, never started
    issuer.publish("k1")
    with live_server("backend4", tmp_path, "--upstream-issuer", issuer.url) as api:
        assert get(api + "/health")[0] == 200
        status, headers, body = get(api + "/users/me", issuer.mint())
        assert status == 503 and body["error"] == "temporarily_unavailable" and headers["Retry-After"] == "5"
        status, headers, _ = get(api + "/users/me", "not-a-jwt")
        assert status == 401 and headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
