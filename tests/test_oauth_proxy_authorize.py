"""oauth-proxy authorization endpoint (RFC 6749 §4.1.1-§4.1.2.1, RFC 7636, RFC 9207, RFC 9700) and login."""
from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from tests.support.proxy import (CHALLENGE, FRONTEND_CB, ISSUER, authorize_params, get_code, login, path_of,
                                 query_of)


async def authorize(proxy, query: str | None = None, **params):
    url = "/authorize?" + (query if query is not None else urlencode(authorize_params(**params)))
    return await proxy.get(url, allow_redirects=False)


def assert_error_page(resp, status: int = 400):
    assert resp.status == status
    assert "Location" not in resp.headers
    assert resp.content_type == "text/html"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]


@pytest.mark.parametrize("redirect_uri", [
    "https://attacker.example/cb", FRONTEND_CB + "/", FRONTEND_CB + "?foo=bar", FRONTEND_CB + "#x",
    FRONTEND_CB + "/x", "http://127.0.0.1:8080/callback/../callback", "http://127.0.0.1:8080/%63allback",
    "http://127.0.0.1:8080@evil.example/callback", "http://127.0.0.1.evil.example:8080/callback",
    "HTTP://127.0.0.1:8080/callback", "http://127.0.0.1:8081/callback", "https://127.0.0.1:8080/callback",
    "http://127.0.0.1:8080/Callback", None])
async def test_redirect_uri_not_exactly_registered_is_an_error_page_never_a_redirect(proxy, redirect_uri):
    """RFC 6749 §4.1.2.1: "the authorization server SHOULD inform the resource owner of the error and MUST NOT
    automatically redirect the user-agent to the invalid redirection URI"; RFC 9700 §4.1.3: exact match."""
    resp = await authorize(proxy, redirect_uri=redirect_uri)
    assert_error_page(resp)
    assert "code=" not in await resp.text()


async def test_unknown_client_is_an_error_page(proxy):
    """RFC 6749 §4.1.2.1: a missing or invalid client identifier MUST NOT redirect."""
    assert_error_page(await authorize(proxy, client_id="nobody"))
    assert_error_page(await authorize(proxy, client_id=None))
    assert_error_page(await authorize(proxy, client_id="m2m", redirect_uri="https://x.example/cb"))


async def test_repeated_redirect_uri_or_client_id_is_an_error_page(proxy):
    """RFC 6749 §3.1: parameters "MUST NOT be included more than once"; an ambiguous redirect is not followed."""
    base = urlencode(authorize_params())
    assert_error_page(await authorize(proxy, base + "&" + urlencode({"redirect_uri": FRONTEND_CB})))
    assert_error_page(await authorize(proxy, base + "&client_id=frontend"))


async def test_repeated_state_or_challenge_redirects_invalid_request(proxy):
    """RFC 6749 §3.1 / §4.1.2.1: a repeated parameter is invalid_request, sent back to the verified redirect."""
    for extra in ("state=other", "code_challenge=" + CHALLENGE):
        resp = await authorize(proxy, urlencode(authorize_params()) + "&" + extra)
        assert resp.status == 302
        q = query_of(resp.headers["Location"])
        assert resp.headers["Location"].startswith(FRONTEND_CB + "?")
        assert q["error"] == "invalid_request" and "code" not in q and q["iss"] == ISSUER


@pytest.mark.parametrize("params,error", [
    ({"code_challenge": None}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),
    ({"code_challenge_method": "s256"}, "invalid_request"),
    ({"code_challenge_method": "S512"}, "invalid_request"),
    ({"code_challenge": CHALLENGE[:42]}, "invalid_request"),
    ({"code_challenge": CHALLENGE[:42] + "+"}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": None}, "invalid_request"),
    ({"scope": "me admin"}, "invalid_scope"),
    ({"resource": "https://other.example"}, "invalid_target"),
])
async def test_invalid_request_is_redirected_with_error_state_and_iss(proxy, params, error):
    """RFC 6749 §4.1.2.1 (error + state to the client), RFC 7636 §4.4.1 + RFC 9700 §2.1.1 (PKCE required,
    S256 only: "plain" and an absent method are refused), RFC 9207 (iss in every authorization response)."""
    resp = await authorize(proxy, **params)
    assert resp.status == 302
    loc = resp.headers["Location"]
    assert loc.startswith(FRONTEND_CB + "?")
    q = query_of(loc)
    assert q["error"] == error
    assert q["state"] == "st-123" and q["iss"] == ISSUER and "code" not in q


async def test_state_is_echoed_byte_for_byte_and_iss_returned(proxy):
    """RFC 6749 §4.1.2: state "REQUIRED if the state parameter was present ... The exact value received";
    RFC 9207 §2: the iss parameter equals the issuer."""
    state = "aZ-._~ +/=?&%é" * 3
    got = await get_code(proxy, state=state)
    assert got["state"] == state and got["iss"] == ISSUER and len(got["code"]) >= 43


async def test_absent_state_succeeds_without_state_in_response(proxy):
    """[CS] ensure-authorization-request-without-state-success: state is optional."""
    got = await get_code(proxy, state=None)
    assert "state" not in got and got["code"]


async def test_unknown_parameter_is_ignored(proxy):
    """RFC 6749 §3.1: "The authorization server MUST ignore unrecognized request parameters"."""
    got = await get_code(proxy, foo="bar")
    assert got["code"]


async def test_login_page_has_security_headers_and_csrf_token(proxy):
    """RFC 9700 §4.16 (clickjacking: CSP frame-ancestors), §4.2.4 (Referrer-Policy); nosniff; no-store."""
    resp = await authorize(proxy)
    assert resp.status == 302 and "/login?request=" in resp.headers["Location"]
    assert "Access-Control-Allow-Origin" not in resp.headers
    page = await proxy.get(path_of(resp.headers["Location"]))
    assert page.status == 200
    h = page.headers
    assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
    assert h["X-Frame-Options"] == "DENY" and h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "no-referrer" and "no-store" in h["Cache-Control"]
    assert re.search(r'name="csrf_token" value="[A-Za-z0-9_-]{43}"', await page.text())
    cookie = page.cookies["oauthlab_login_csrf"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


async def test_login_post_without_the_csrf_token_grants_nothing(proxy):
    """RFC 6749 §10.12: the AS "MUST implement CSRF protection for its authorization endpoint"."""
    resp = await authorize(proxy)
    post = await login(proxy, resp.headers["Location"], csrf="forged")
    assert post.status == 403 and "Location" not in post.headers


async def test_successful_login_redirects_303_with_code_and_sets_session_cookie(proxy):
    """RFC 9700 §4.12: never 307 after the login POST; session cookie HttpOnly, SameSite=Lax."""
    resp = await authorize(proxy)
    post = await login(proxy, resp.headers["Location"])
    assert post.status == 303
    q = query_of(post.headers["Location"])
    assert post.headers["Location"].startswith(FRONTEND_CB + "?") and q["state"] == "st-123"
    cookie = post.cookies["oauthlab_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    # the session now answers a new authorization request at once
    again = await authorize(proxy, state="second")
    assert again.status == 302 and query_of(again.headers["Location"])["state"] == "second"
    assert "code" in query_of(again.headers["Location"])


async def test_wrong_password_and_disabled_user_get_no_code(proxy):
    """Only an enabled user with the right password is logged in; one answer for every cause."""
    for user, pw in (("johndoe", "wrong"), ("alice", "secret2"), ("nobody", "x")):
        resp = await authorize(proxy)
        post = await login(proxy, resp.headers["Location"], user, pw)
        assert post.status == 401 and "Location" not in post.headers
        assert "Wrong username or password." in await post.text()


async def test_login_is_throttled_like_the_password_grant(proxy):
    """RFC 6749 §4.3.2 / RFC 9700 §2.4: brute force protection: 429 with Retry-After after 5 failures."""
    resp = await authorize(proxy)
    for _ in range(5):
        assert (await login(proxy, resp.headers["Location"], "johndoe", "bad")).status == 401
    post = await login(proxy, resp.headers["Location"], "johndoe", "secret")
    assert post.status == 429 and int(post.headers["Retry-After"]) > 0 and "Location" not in post.headers


async def test_post_to_authorize_is_accepted(proxy):
    """[CS] oidcc-ensure-post-request-succeeds: the authorization endpoint also accepts POST."""
    resp = await proxy.post("/authorize", data=authorize_params(), allow_redirects=False)
    assert resp.status == 302 and "/login?request=" in resp.headers["Location"]
