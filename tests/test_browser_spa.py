"""The Authorization Code + PKCE journeys in real headless Chromium against the real servers, each started
with ``run.py serve`` on free ports: oauth-proxy (the authorization server), backend4 (the API) and the
frontend (the SPA).

(a) the SPA: frontend -> proxy login as johndoe/secret -> /callback -> token -> backend4 /users/me shown on
    the page, then refresh (rotation) and logout (revocation);
(b) Swagger UI on backend4's /docs: Authorize runs Authorization Code + PKCE at the proxy, then
    GET /users/me answers 200 with johndoe.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
from urllib.parse import quote

import pytest

from tests.support.browser import require_browser, swagger_try_get
from .conftest import free_port, live_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """oauth-proxy, backend4 and frontend for real, wired to each other's free ports; started once for the
    module (each test has its own browser context, so no login session or storage is shared)."""
    require_browser()  # no point starting three servers to skip
    tmp_path = tmp_path_factory.mktemp("stack")
    ports = {name: free_port() for name in ("proxy", "backend4", "frontend")}
    urls = {name: f"http://127.0.0.1:{p}" for name, p in ports.items()}
    with contextlib.ExitStack() as stack:
        stack.enter_context(live_server("oauth-proxy", tmp_path, "--frontend-url", urls["frontend"],
                                        "--resource-url", urls["backend4"], port=ports["proxy"]))
        stack.enter_context(live_server("backend4", tmp_path, "--upstream-issuer", urls["proxy"],
                                        "--frontend-url", urls["frontend"], port=ports["backend4"]))
        stack.enter_context(live_server("frontend", tmp_path, "--upstream-issuer", urls["proxy"],
                                        "--api-url", urls["backend4"], port=ports["frontend"]))
        yield urls


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def log_in_at_proxy(page, proxy: str, username: str = "johndoe", password: str = "secret") -> None:
    page.wait_for_url(re.compile(re.escape(proxy) + r"/login.*"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_spa_authorization_code_pkce_journey_in_chromium(stack, page):
    """RFC 6749 §4.1 + RFC 7636 end to end in a browser: the SPA makes a verifier and its S256 challenge
    (§4.2), sends the challenge with state, the user logs in at the proxy, the SPA checks state (RFC 6749
    §10.12), exchanges code + verifier at /token by CORS, and backend4 accepts the RS256 at+jwt token
    (RFC 9068) for johndoe. Refresh rotates the refresh token; logout revokes it (RFC 7009)."""
    from playwright.sync_api import expect

    page.goto(stack["frontend"] + "/")
    expect(page.locator("#status")).to_have_text("Ready: press the login button.")
    page.click("#login")
    log_in_at_proxy(page, stack["proxy"])

    page.wait_for_url(stack["frontend"] + "/callback")  # code and state already gone from the address bar
    expect(page.locator("#api-status")).to_have_text("200 OK")
    me = json.loads(page.locator("#api-result").inner_text())
    assert me["username"] == "johndoe"
    assert me["client_id"] == "frontend" and me["gty"] == "authorization-code"
    assert set(me["scope"].split()) == {"me", "items"}

    verifier = page.locator("#verifier").inner_text()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", verifier)  # RFC 7636 §4.1: 32 octets, base64url
    assert page.locator("#challenge").inner_text() == s256(verifier)
    assert page.locator("#state").inner_text() == page.locator("#state-returned").inner_text()
    assert "code_challenge_method=S256" in page.locator("#authorize-url").inner_text()
    expect(page.locator("#state-check")).to_have_class("ok")
    expect(page.locator("#iss-check")).to_have_class("ok")  # the proxy sends iss (RFC 9207)
    assert page.locator("#iss-returned").inner_text() == stack["proxy"]
    header = json.loads(page.locator("#token-header").inner_text())
    claims = json.loads(page.locator("#token-claims").inner_text())
    assert header["alg"] == "RS256" and header["typ"] == "at+jwt" and header["kid"]
    assert claims["iss"] == stack["proxy"] and claims["aud"] in (stack["backend4"], [stack["backend4"]])
    assert claims["sub"] == "johndoe" and claims["azp"] == "frontend"
    assert page.evaluate("sessionStorage.length") == 0  # the verifier and state did not outlive the trip
    assert page.evaluate("localStorage.length") == 0

    page.click("#call-items")
    expect(page.locator("#api-request")).to_contain_text("/users/me/items")
    expect(page.locator("#api-status")).to_have_text("200 OK")
    assert json.loads(page.locator("#api-result").inner_text())[0]["owner"] == "johndoe"

    old_refresh = page.locator("#refresh-token").inner_text()
    page.click("#refresh")
    expect(page.locator("#session-log")).to_contain_text("Refreshed")
    assert page.locator("#refresh-token").inner_text() != old_refresh
    page.click("#call-me")
    expect(page.locator("#api-request")).not_to_contain_text("/items")
    expect(page.locator("#api-status")).to_have_text("200 OK")

    page.click("#logout")
    expect(page.locator("#session-log")).to_contain_text("Logged out: revocation refresh_token 200")
    expect(page.locator("#call-me")).to_be_disabled()
    assert page.problems == []  # no CSP violation, no script error, no failed request


def test_spa_rejects_a_callback_with_a_forged_state(stack, page):
    """RFC 6749 §10.12: the client MUST check state; a callback whose state differs from the one this tab
    sent is not exchanged (no token request is made)."""
    from playwright.sync_api import expect

    page.goto(stack["frontend"] + "/")
    expect(page.locator("#login")).to_be_enabled()
    page.click("#login")
    log_in_at_proxy(page, stack["proxy"])
    page.wait_for_url(stack["frontend"] + "/callback")
    expect(page.locator("#api-status")).to_have_text("200 OK")
    # A second, attacker-made callback in the same tab: a code with a state the tab never sent.
    token_requests = []
    page.on("request", lambda r: token_requests.append(r.url) if r.url.endswith("/token") else None)
    page.goto(stack["frontend"] + "/callback?code=attacker-code&state=forged")
    expect(page.locator("#error")).to_contain_text("No login was started in this tab")
    assert token_requests == []


def answer_authorize_with(page, proxy: str, frontend: str, make_query) -> list[str]:
    """Stand in for the proxy's answer to the SPA's authorization request (a man in the middle, or a
    mixed-up issuer): redirect to /callback with whatever ``make_query(request_params)`` says. Returns the
    list the token requests made afterwards are recorded in."""
    from urllib.parse import parse_qs, urlencode, urlsplit

    def fulfil(route):
        params = {k: v[0] for k, v in parse_qs(urlsplit(route.request.url).query).items()}
        route.fulfill(status=302, headers={"Location": frontend + "/callback?" + urlencode(make_query(params))})

    page.route(proxy + "/authorize*", fulfil)
    token_requests: list[str] = []
    page.on("request", lambda r: token_requests.append(r.url) if r.url.startswith(proxy + "/token") else None)
    return token_requests


@pytest.mark.parametrize("case", ["state-forged", "state-missing", "iss-other", "iss-missing"])
def test_spa_checks_state_and_iss_before_using_a_code(stack, page, case):
    """RFC 6749 §10.12: the client MUST verify state (CSRF); RFC 9207 §2.4: a client talking to an issuer
    that announces authorization_response_iss_parameter_supported MUST check that iss is that issuer (mix-up).
    A callback failing either check is not exchanged: no request reaches /token."""
    from playwright.sync_api import expect

    def query(p):
        q = {"code": "stolen-or-injected-code", "state": p["state"], "iss": stack["proxy"]}
        if case == "state-forged":
            q["state"] = "forged"
        elif case == "state-missing":
            del q["state"]
        elif case == "iss-other":
            q["iss"] = "https://evil.example"
        else:
            del q["iss"]
        return q

    token_requests = answer_authorize_with(page, stack["proxy"], stack["frontend"], query)
    page.goto(stack["frontend"] + "/")
    expect(page.locator("#login")).to_be_enabled()
    page.click("#login")
    page.wait_for_url(stack["frontend"] + "/callback")
    check = "#state-check" if case.startswith("state") else "#iss-check"
    expect(page.locator(check)).to_have_class("bad")
    expect(page.locator("#error")).to_contain_text("mismatch")
    assert token_requests == []
    assert page.evaluate("sessionStorage.length") == 0  # the pending login is spent either way


def test_swagger_ui_pkce_authorize_then_users_me_on_backend4(stack, page):
    """backend4 /docs: Swagger UI's Authorize runs Authorization Code with PKCE (RFC 7636) at the proxy as
    the public client backend4-docs; then "Try it out" on GET /users/me sends the token and gets 200 with
    johndoe (the token's aud is backend4, its signature checked against the proxy's JWKS)."""
    from playwright.sync_api import expect

    page.goto(stack["backend4"] + "/docs")
    page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".dialog-ux")
    for scope in ("me", "items"):
        dialog.locator(f"input[id$='-{scope}-checkbox-OAuth2'], input[data-value='{scope}']").first.check()
    authorize_requests: list[str] = []
    page.context.on("request", lambda r: authorize_requests.append(r.url)
                    if r.url.startswith(stack["proxy"] + "/authorize") else None)
    with page.expect_popup() as popup_info:
        dialog.get_by_role("button", name="Authorize").click()
    popup = popup_info.value
    log_in_at_proxy(popup, stack["proxy"])  # the popup lands on /docs/oauth2-redirect.html and closes itself
    expect(dialog.get_by_role("button", name="Logout")).to_be_visible()
    assert authorize_requests, "Swagger UI never reached the proxy's authorization endpoint"
    assert "code_challenge_method=S256" in authorize_requests[0]
    assert "client_id=backend4-docs" in authorize_requests[0]
    assert "resource=" + quote(stack["backend4"], safe="") in authorize_requests[0]  # RFC 8707
    dialog.get_by_role("button", name="Close").first.click()

    status, text = swagger_try_get(page, "get_users_me")
    assert status == "200"
    body = json.loads(text)
    assert body["username"] == "johndoe" and body["client_id"] == "backend4-docs"
