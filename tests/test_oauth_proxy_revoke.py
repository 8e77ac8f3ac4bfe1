"""oauth-proxy revocation (RFC 7009), introspection (RFC 7662) and the revocation list."""
from __future__ import annotations

import jwt

from tests.support.proxy import basic, introspect, tokens_for_johndoe


async def test_revoking_a_refresh_token_revokes_its_grant(proxy, tmp_path):
    """RFC 7009 §2.1: "If the token passed to the request is a refresh token and the authorization server
    supports the revocation of access tokens, then the authorization server SHOULD also invalidate all access
    tokens based on the same authorization grant"."""
    t = await tokens_for_johndoe(proxy)
    resp = await proxy.post("/revoke", data={"token": t["refresh_token"], "token_type_hint": "refresh_token",
                                             "client_id": "frontend"})
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    refresh = await proxy.post("/token", data={"grant_type": "refresh_token", "client_id": "frontend",
                                               "refresh_token": t["refresh_token"]})
    assert refresh.status == 400 and (await refresh.json())["error"] == "invalid_grant"
    assert await introspect(proxy, tmp_path, t["access_token"]) == {"active": False}


async def test_revoked_access_token_is_listed_for_resource_servers(proxy, tmp_path):
    """RFC 7009 §2.1 (access token revocation) made visible to resource servers: introspection says
    inactive (RFC 7662 §2.2) and /revocations lists the jti until the token expires."""
    t = await tokens_for_johndoe(proxy)
    claims = jwt.decode(t["access_token"], options={"verify_signature": False})
    active = await introspect(proxy, tmp_path, t["access_token"])
    assert active["active"] is True and active["sub"] == "johndoe" and active["client_id"] == "frontend"
    resp = await proxy.post("/revoke", data={"token": t["access_token"], "client_id": "frontend"})
    assert resp.status == 200
    assert await introspect(proxy, tmp_path, t["access_token"]) == {"active": False}
    listed = (await (await proxy.get("/revocations")).json())["revoked"]
    assert {"jti": claims["jti"], "exp": claims["exp"]} in listed
    # the refresh token of the grant is untouched by revoking only the access token
    assert (await introspect(proxy, tmp_path, t["refresh_token"]))["active"] is True


async def test_revoking_another_clients_token_has_no_effect(proxy, tmp_path):
    """RFC 7009 §2.1: the AS verifies "whether the token was issued to the client making the revocation
    request"; the answer does not reveal whether the token existed (§2.2)."""
    t = await tokens_for_johndoe(proxy)
    resp = await proxy.post("/revoke", data={"token": t["refresh_token"], "client_id": "backend4-docs"})
    assert resp.status == 200
    assert (await introspect(proxy, tmp_path, t["refresh_token"]))["active"] is True
    unknown = await proxy.post("/revoke", data={"token": "never-issued", "client_id": "frontend"})
    assert unknown.status == 200


async def test_revocation_needs_client_authentication_and_a_token(proxy, tmp_path):
    """RFC 7009 §2.1: the client authenticates (401 invalid_client); §2.1 token is REQUIRED."""
    resp = await proxy.post("/revoke", data={"token": "x"}, headers=basic("m2m", "wrong"))
    assert resp.status == 401 and (await resp.json())["error"] == "invalid_client"
    assert resp.headers["WWW-Authenticate"].startswith("Basic ")
    resp = await proxy.post("/revoke", data={"client_id": "frontend"})
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"


async def test_introspection_needs_a_confidential_client(proxy):
    """RFC 7662 §2.1: "the endpoint MUST also require some form of authorization to access this endpoint"."""
    t = await tokens_for_johndoe(proxy)
    resp = await proxy.post("/introspect", data={"token": t["access_token"], "client_id": "frontend"})
    assert resp.status == 401 and (await resp.json())["error"] == "invalid_client"
    resp = await proxy.post("/introspect", data={"token": t["access_token"]})
    assert resp.status == 401 and (await resp.json())["error"] == "invalid_client"


async def test_introspection_of_garbage_is_inactive(proxy, tmp_path):
    """RFC 7662 §2.2: an invalid token is {"active": false}."""
    for token in ("garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0."):
        assert await introspect(proxy, tmp_path, token) == {"active": False}
