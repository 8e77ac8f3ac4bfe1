"""oauth-proxy token endpoint: authorization_code + PKCE (RFC 6749 §4.1.3, RFC 7636 §4.5-4.6), code replay,
refresh rotation (RFC 9700 §4.14), client_credentials and client authentication (RFC 6749 §2.3, §4.4, §5.2)."""
from __future__ import annotations

import asyncio

import jwt
import pytest

from servers.common import pkce
from servers.oauth_proxy import issuer as issuer_module
from tests.support.proxy import (AUDIENCE, FRONTEND_CB, ISSUER, VERIFIER, basic, decode_segment, get_code,
                                 introspect, m2m_secret, redeem, tokens_for_johndoe)


async def assert_error(resp, status: int, error: str):
    assert resp.status == status, await resp.text()
    body = await resp.json()
    assert body["error"] == error
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Pragma"] == "no-cache"
    return body


async def test_code_flow_issues_rs256_at_jwt_with_normalized_claims(proxy):
    """RFC 9068 §2: typ at+jwt; iss, sub, aud, iat, exp, jti, client_id (+ azp, gty, scope); RFC 6749 §5.1:
    "The authorization server MUST include the HTTP "Cache-Control" response header field ... no-store"."""
    got = await get_code(proxy)
    resp = await redeem(proxy, got["code"])
    assert resp.status == 200
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Pragma"] == "no-cache"
    body = await resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 1800 and body["scope"] == "me items"
    assert len(body["refresh_token"]) >= 43
    header = decode_segment(body["access_token"].split(".")[0])
    assert header["alg"] == "RS256" and header["typ"] == "at+jwt" and header["kid"]
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert set(claims) == {"iss", "sub", "aud", "iat", "exp", "azp", "gty", "scope", "client_id", "jti"}
    assert claims["iss"] == ISSUER and claims["sub"] == "johndoe" and claims["aud"] == AUDIENCE
    assert claims["azp"] == claims["client_id"] == "frontend" and claims["gty"] == "authorization-code"
    assert claims["exp"] - claims["iat"] == 1800


async def test_wrong_code_verifier_is_invalid_grant(proxy):
    """RFC 7636 §4.6: "If the values are not equal, an error response indicating invalid_grant"."""
    got = await get_code(proxy)
    await assert_error(await redeem(proxy, got["code"], verifier="x" * 43), 400, "invalid_grant")


async def test_missing_code_verifier_is_invalid_grant(proxy):
    """RFC 9700 §2.1.1: the AS "MUST enforce the correct usage of code_verifier at the token endpoint"."""
    got = await get_code(proxy)
    await assert_error(await redeem(proxy, got["code"], verifier=None), 400, "invalid_grant")


@pytest.mark.parametrize("verifier", ["a" * 42, "a" * 129, "a" * 42 + "+", "a" * 42 + "="])
async def test_malformed_code_verifier_is_invalid_request(proxy, verifier):
    """RFC 7636 §4.1: "code-verifier = 43*128unreserved"."""
    got = await get_code(proxy)
    await assert_error(await redeem(proxy, got["code"], verifier=verifier), 400, "invalid_request")


async def test_code_of_another_flow_fails_with_this_verifier(proxy):
    """RFC 7636 §4.4 / RFC 9700 §4.5.3.1: the challenge is stored with ITS code (cross-code injection fails)."""
    v_a = pkce.new_verifier()
    await get_code(proxy, code_challenge=pkce.s256(v_a))
    got_b = await get_code(proxy)  # challenge of VERIFIER
    await assert_error(await redeem(proxy, got_b["code"], verifier=v_a), 400, "invalid_grant")


async def test_code_bound_to_its_client(proxy):
    """RFC 6749 §4.1.3: "ensure that the authorization code was issued to the authenticated confidential
    client, or if the client is public, ensure that the code was issued to "client_id" in the request"."""
    got = await get_code(proxy)
    await assert_error(await redeem(proxy, got["code"], client_id="backend4-docs"), 400, "invalid_grant")


async def test_redirect_uri_must_be_identical_and_present(proxy):
    """RFC 6749 §4.1.3: redirect_uri "REQUIRED, if ... included in the authorization request ... their
    values MUST be identical"."""
    got = await get_code(proxy)
    await assert_error(await redeem(proxy, got["code"], redirect_uri="http://localhost:8080/callback"),
                       400, "invalid_grant")
    got = await get_code(proxy)
    await assert_error(await redeem(proxy, got["code"], redirect_uri=None), 400, "invalid_request")


async def test_code_replay_is_invalid_grant_and_revokes_the_tokens_it_issued(proxy, tmp_path):
    """RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization server MUST deny
    the request and SHOULD revoke (when possible) all tokens previously issued based on that authorization
    code"."""
    got = await get_code(proxy)
    first = await redeem(proxy, got["code"])
    assert first.status == 200
    tokens = await first.json()
    jti = jwt.decode(tokens["access_token"], options={"verify_signature": False})["jti"]
    assert (await introspect(proxy, tmp_path, tokens["access_token"]))["active"] is True
    await assert_error(await redeem(proxy, got["code"]), 400, "invalid_grant")
    assert (await introspect(proxy, tmp_path, tokens["access_token"])) == {"active": False}
    listed = await (await proxy.get("/revocations")).json()
    assert jti in [r["jti"] for r in listed["revoked"]]
    refresh = await proxy.post("/token", data={"grant_type": "refresh_token", "client_id": "frontend",
                                               "refresh_token": tokens["refresh_token"]})
    await assert_error(refresh, 400, "invalid_grant")


async def test_concurrent_redemptions_of_one_code_yield_exactly_one_token(proxy):
    """RFC 6749 §4.1.2: the code MUST NOT be used more than once, even by concurrent requests."""
    got = await get_code(proxy)
    results = await asyncio.gather(*(redeem(proxy, got["code"]) for _ in range(10)))
    assert sorted(r.status for r in results) == [200] + [400] * 9


async def test_expired_code_is_invalid_grant(proxy, monkeypatch):
    """RFC 6749 §4.1.2: the code "MUST expire shortly after it is issued" (60 s here)."""
    monkeypatch.setattr(issuer_module, "CODE_TTL", 0.5)
    got = await get_code(proxy)
    await asyncio.sleep(0.7)
    await assert_error(await redeem(proxy, got["code"]), 400, "invalid_grant")


@pytest.mark.parametrize("code", ["garbage", "A" * 43, "%00"])
async def test_unknown_code_is_invalid_grant(proxy, code):
    """RFC 6749 §5.2 invalid_grant: the authorization code is invalid."""
    await assert_error(await redeem(proxy, code), 400, "invalid_grant")


async def refresh(proxy, rt: str, client_id: str = "frontend", **extra):
    return await proxy.post("/token", data={"grant_type": "refresh_token", "refresh_token": rt,
                                            "client_id": client_id, **extra})


async def test_refresh_rotates_and_reuse_revokes_the_family(proxy, tmp_path):
    """RFC 9700 §4.14.2: with rotation, if a refresh token is used again "the authorization server cannot
    determine which party submitted the invalid refresh token, it will revoke the active refresh token"."""
    t0 = await tokens_for_johndoe(proxy)
    r1 = await refresh(proxy, t0["refresh_token"])
    assert r1.status == 200 and r1.headers["Cache-Control"] == "no-store"
    t1 = await r1.json()
    assert t1["refresh_token"] != t0["refresh_token"]
    assert jwt.decode(t1["access_token"], options={"verify_signature": False})["gty"] == "refresh-token"
    await assert_error(await refresh(proxy, t0["refresh_token"]), 400, "invalid_grant")  # reuse
    await assert_error(await refresh(proxy, t1["refresh_token"]), 400, "invalid_grant")  # family gone
    assert (await introspect(proxy, tmp_path, t1["access_token"])) == {"active": False}
    assert (await introspect(proxy, tmp_path, t0["access_token"])) == {"active": False}


async def test_refresh_scope_cannot_grow_but_can_narrow(proxy):
    """RFC 6749 §6: the scope "MUST NOT include any scope not originally granted"; omitted = as before."""
    t0 = await tokens_for_johndoe(proxy, scope="me")
    await assert_error(await refresh(proxy, t0["refresh_token"], scope="me items"), 400, "invalid_scope")
    t0 = await tokens_for_johndoe(proxy, scope="me items")
    r = await refresh(proxy, t0["refresh_token"], scope="me")
    assert r.status == 200 and (await r.json())["scope"] == "me"
    r2 = await refresh(proxy, (await r.json())["refresh_token"])
    assert r2.status == 200 and (await r2.json())["scope"] == "me items"  # the grant keeps its scope


async def test_refresh_token_bound_to_its_client(proxy):
    """RFC 6749 §10.4: the AS "MUST verify the binding between the refresh token and client identity"."""
    t0 = await tokens_for_johndoe(proxy)
    await assert_error(await refresh(proxy, t0["refresh_token"], client_id="backend4-docs"), 400, "invalid_grant")
    assert (await refresh(proxy, t0["refresh_token"])).status == 200  # not burnt by the other client


async def test_access_token_is_not_a_refresh_token(proxy):
    """RFC 8725 §3.12: different kinds of tokens are not interchangeable."""
    t0 = await tokens_for_johndoe(proxy)
    await assert_error(await refresh(proxy, t0["access_token"]), 400, "invalid_grant")


async def test_client_credentials_with_basic_or_post(proxy, tmp_path):
    """RFC 6749 §4.4 + §2.3.1 (client_secret_basic / client_secret_post); §4.4.3: no refresh token;
    RFC 9068 §2.2: sub is the client_id; gty client-credentials."""
    secret = m2m_secret(tmp_path)
    a = await proxy.post("/token", data={"grant_type": "client_credentials"}, headers=basic("m2m", secret))
    b = await proxy.post("/token", data={"grant_type": "client_credentials", "client_id": "m2m",
                                         "client_secret": secret, "scope": "me"})
    for resp in (a, b):
        assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
        body = await resp.json()
        assert "refresh_token" not in body
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert claims["sub"] == claims["client_id"] == claims["azp"] == "m2m"
        assert claims["gty"] == "client-credentials" and claims["aud"] == AUDIENCE
    assert (await b.json())["scope"] == "me"


async def test_both_client_auth_methods_at_once_is_invalid_request(proxy, tmp_path):
    """RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each request"."""
    secret = m2m_secret(tmp_path)
    resp = await proxy.post("/token", data={"grant_type": "client_credentials", "client_secret": secret},
                            headers=basic("m2m", secret))
    await assert_error(resp, 400, "invalid_request")


@pytest.mark.parametrize("how", ["basic-wrong", "post-wrong", "missing", "unknown-client", "basic-garbage"])
async def test_failed_client_authentication_is_401_invalid_client_with_challenge(proxy, tmp_path, how):
    """RFC 6749 §5.2 invalid_client: "the authorization server MAY return an HTTP 401 ... If the client
    attempted to authenticate via the "Authorization" request header field, the authorization server MUST
    respond with an HTTP 401 (Unauthorized) status code and include the "WWW-Authenticate" response header"."""
    data = {"grant_type": "client_credentials"}
    headers = {}
    if how == "basic-wrong":
        headers = basic("m2m", "wrong")
    elif how == "post-wrong":
        data.update(client_id="m2m", client_secret="wrong")
    elif how == "missing":
        data.update(client_id="m2m")
    elif how == "unknown-client":
        headers = basic("nobody", m2m_secret(tmp_path))
    else:
        headers = {"Authorization": "Basic !!!not-base64"}
    resp = await proxy.post("/token", data=data, headers=headers)
    await assert_error(resp, 401, "invalid_client")
    assert resp.headers["WWW-Authenticate"].startswith("Basic ")


async def test_client_credentials_from_public_client_is_unauthorized_client(proxy):
    """RFC 6749 §4.4: "The client credentials grant type MUST only be used by confidential clients"."""
    resp = await proxy.post("/token", data={"grant_type": "client_credentials", "client_id": "frontend"})
    await assert_error(resp, 400, "unauthorized_client")


async def test_scope_beyond_the_client_is_invalid_scope(proxy, tmp_path):
    """RFC 6749 §5.2 invalid_scope: "exceeds the scope granted by the resource owner"."""
    resp = await proxy.post("/token", data={"grant_type": "client_credentials", "scope": "admin"},
                            headers=basic("m2m", m2m_secret(tmp_path)))
    await assert_error(resp, 400, "invalid_scope")


@pytest.mark.parametrize("body,status,error", [
    ("grant_type=urn%3Aexample%3Aunknown", 400, "unsupported_grant_type"),
    ("grant_type=implicit", 400, "unsupported_grant_type"),
    ("grant_type=password&username=johndoe&password=secret&client_id=frontend", 400, "unsupported_grant_type"),
    ("client_id=frontend", 400, "invalid_request"),
    ("grant_type=authorization_code&grant_type=authorization_code&client_id=frontend", 400, "invalid_request"),
])
async def test_token_endpoint_errors(proxy, body, status, error):
    """RFC 6749 §5.2: unsupported_grant_type, invalid_request (missing or repeated parameter); the password
    grant is not offered (RFC 9700 §2.4: "MUST NOT be used")."""
    resp = await proxy.post("/token", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    await assert_error(resp, status, error)


async def test_get_on_token_endpoint_is_405_and_does_not_consume_the_code(proxy):
    """RFC 6749 §3.2: "The client MUST use the HTTP "POST" method when making access token requests"."""
    got = await get_code(proxy)
    resp = await proxy.get(f"/token?grant_type=authorization_code&code={got['code']}&client_id=frontend"
                           f"&code_verifier={VERIFIER}&redirect_uri={FRONTEND_CB}")
    assert resp.status == 405
    assert (await redeem(proxy, got["code"])).status == 200
