"""Request parameters on every endpoint that reads a form or a query (RFC 6749 §3.1, §3.2).

"The authorization server MUST ignore unrecognized request parameters" (§3.1), also when one of them is
sent twice; "Request and response parameters MUST NOT be included more than once" (§3.1, §3.2) holds for the
parameters an endpoint defines, which stay refused with 400 ``invalid_request`` when repeated.
"""
from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from servers import backend, backend2, backend3
from tests.support.proxy import (AUDIENCE, FRONTEND_CB, authorize_params, basic, m2m_secret, path_of, query_of,
                                 tokens_for_johndoe)
from tests.support.settings import make_settings

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
UNRECOGNIZED = "x-extension=1&x-extension=2"
PASSWORD_SERVERS = {"backend": backend.create_app, "backend2": backend2.create_app,
                    "backend3": backend3.create_app}


async def assert_invalid_request(resp) -> None:
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["error"] == "invalid_request"
    assert resp.headers["Cache-Control"] == "no-store"


# -- the password servers' token endpoint -----------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(PASSWORD_SERVERS))
async def test_password_grant_ignores_a_repeated_unrecognized_parameter(aiohttp_client, tmp_path, name):
    """RFC 6749 §3.1: "The authorization server MUST ignore unrecognized request parameters"."""
    client = await aiohttp_client(PASSWORD_SERVERS[name](make_settings(tmp_path, name)))
    body = "grant_type=password&username=johndoe&password=secret&" + UNRECOGNIZED
    resp = await client.post("/token", data=body, headers=FORM)
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["token_type"] == "bearer"


@pytest.mark.parametrize("name", sorted(PASSWORD_SERVERS))
@pytest.mark.parametrize("repeated", ["grant_type=password", "username=johndoe", "password=secret", "scope=me"])
async def test_password_grant_refuses_a_repeated_defined_parameter(aiohttp_client, tmp_path, name, repeated):
    """RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than once"."""
    client = await aiohttp_client(PASSWORD_SERVERS[name](make_settings(tmp_path, name)))
    body = f"grant_type=password&username=johndoe&password=secret&scope=me&{repeated}&{UNRECOGNIZED}"
    await assert_invalid_request(await client.post("/token", data=body, headers=FORM))


# -- oauth-proxy: /token, /revoke, /introspect -------------------------------------------------------------
async def test_client_credentials_ignores_a_repeated_unrecognized_parameter(proxy, tmp_path):
    """RFC 6749 §3.1: "The authorization server MUST ignore unrecognized request parameters"."""
    resp = await proxy.post("/token", data="grant_type=client_credentials&scope=me&" + UNRECOGNIZED,
                            headers={**FORM, **basic("m2m", m2m_secret(tmp_path))})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["token_type"] == "Bearer"


@pytest.mark.parametrize("repeated", ["grant_type", "scope", "resource", "client_id"])
async def test_token_endpoint_refuses_a_repeated_defined_parameter(proxy, tmp_path, repeated):
    """RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than once"."""
    params = {"grant_type": "client_credentials", "scope": "me", "resource": AUDIENCE, "client_id": "m2m"}
    body = f"{urlencode(params)}&{urlencode({repeated: params[repeated]})}&{UNRECOGNIZED}"
    resp = await proxy.post("/token", data=body, headers={**FORM, **basic("m2m", m2m_secret(tmp_path))})
    await assert_invalid_request(resp)


@pytest.mark.parametrize("path", ["/revoke", "/introspect"])
async def test_revoke_and_introspect_ignore_a_repeated_unrecognized_parameter(proxy, tmp_path, path):
    """RFC 6749 §3.1 (RFC 7009 §2.1 and RFC 7662 §2.1 use its parameter rules): unrecognized parameters are
    ignored; the request is answered as if they were absent."""
    tokens = await tokens_for_johndoe(proxy)
    body = urlencode({"token": tokens["access_token"], "token_type_hint": "access_token"}) + "&" + UNRECOGNIZED
    resp = await proxy.post(path, data=body, headers={**FORM, **basic("m2m", m2m_secret(tmp_path))})
    assert resp.status == 200, await resp.text()
    if path == "/introspect":
        assert (await resp.json())["active"] is True


@pytest.mark.parametrize("path", ["/revoke", "/introspect"])
@pytest.mark.parametrize("repeated", ["token", "token_type_hint"])
async def test_revoke_and_introspect_refuse_a_repeated_defined_parameter(proxy, tmp_path, path, repeated):
    """RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than once"."""
    tokens = await tokens_for_johndoe(proxy)
    params = {"token": tokens["access_token"], "token_type_hint": "access_token"}
    body = urlencode(params) + "&" + urlencode({repeated: params[repeated]})
    resp = await proxy.post(path, data=body, headers={**FORM, **basic("m2m", m2m_secret(tmp_path))})
    await assert_invalid_request(resp)


# -- oauth-proxy: /authorize and /login --------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_authorize_ignores_a_repeated_unrecognized_parameter(proxy, method):
    """RFC 6749 §3.1: "The authorization server MUST ignore unrecognized request parameters"; the request
    goes on to the login page as without them."""
    query = urlencode(authorize_params()) + "&" + UNRECOGNIZED
    if method == "GET":
        resp = await proxy.get("/authorize?" + query, allow_redirects=False)
    else:
        resp = await proxy.post("/authorize", data=query, headers=FORM, allow_redirects=False)
    assert resp.status == 302
    assert "/login?request=" in resp.headers["Location"]


@pytest.mark.parametrize("repeated", ["response_type=code", "scope=me", "prompt=login", "resource=x"])
async def test_authorize_redirects_a_repeated_defined_parameter_as_invalid_request(proxy, repeated):
    """RFC 6749 §3.1 and §4.1.2.1: a repeated parameter is ``invalid_request``, sent back to the verified
    redirect URI."""
    query = urlencode({**authorize_params(), "prompt": "login", "resource": "x"}) + "&" + repeated
    resp = await proxy.get("/authorize?" + query + "&" + UNRECOGNIZED, allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"].startswith(FRONTEND_CB + "?")
    assert query_of(resp.headers["Location"])["error"] == "invalid_request"


async def login_form_fields(proxy) -> dict[str, str]:
    resp = await proxy.get("/authorize", params=authorize_params(), allow_redirects=False)
    page = await proxy.get(path_of(resp.headers["Location"]), allow_redirects=False)
    html = await page.text()
    return {name: re.search(rf'name="{name}" value="([^"]+)"', html).group(1) for name in ("request", "csrf_token")}


async def test_login_ignores_a_repeated_unrecognized_field(proxy):
    """RFC 6749 §3.1: "The authorization server MUST ignore unrecognized request parameters"; the login
    succeeds with 303 to the client's redirect URI carrying a code."""
    fields = await login_form_fields(proxy)
    body = urlencode({**fields, "username": "johndoe", "password": "secret"}) + "&" + UNRECOGNIZED
    resp = await proxy.post("/login", data=body, headers=FORM, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    assert "code" in query_of(resp.headers["Location"])


@pytest.mark.parametrize("repeated", ["username", "password", "csrf_token", "request"])
async def test_login_refuses_a_repeated_defined_field(proxy, repeated):
    """RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once"."""
    fields = {**await login_form_fields(proxy), "username": "johndoe", "password": "secret"}
    body = urlencode(fields) + "&" + urlencode({repeated: fields[repeated]})
    resp = await proxy.post("/login", data=body, headers=FORM, allow_redirects=False)
    await assert_invalid_request(resp)
