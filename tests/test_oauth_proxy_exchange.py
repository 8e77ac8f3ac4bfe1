"""oauth-proxy token exchange (RFC 8693) for tokens of trusted external issuers.

The external issuer is a small real HTTP server publishing a JWKS (an identity provider the proxy
trusts); its tokens are signed with its own RSA key."""
from __future__ import annotations

import time
from dataclasses import replace

import jwt
import pytest
from aiohttp import web

from servers.common import jwks
from servers.oauth_proxy import create_app
from tests.support.proxy import AUDIENCE, ISSUER, basic, m2m_secret, proxy_settings

EXT_ISS = "https://idp.example"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
AT_TYPE = "urn:ietf:params:oauth:token-type:access_token"


@pytest.fixture
async def external(aiohttp_server):
    key = jwks.generate_private_key()
    kid = jwks.thumbprint(key.public_key())
    app = web.Application()

    async def keys(request):
        return web.json_response({"keys": [jwks.public_jwk(key.public_key(), kid)]})
    app.router.add_get("/jwks", keys)
    server = await aiohttp_server(app)

    def mint(alg_key=key, **claims):
        now = int(time.time())
        body = {"iss": EXT_ISS, "sub": "ext-user-1", "aud": "oauthlab", "iat": now, "exp": now + 300, **claims}
        return jwt.encode({k: v for k, v in body.items() if v is not None}, alg_key, algorithm="RS256",
                          headers={"kid": kid})
    return str(server.make_url("/jwks")), mint


@pytest.fixture
async def proxy_x(aiohttp_client, tmp_path, external):
    jwks_uri, _ = external
    trusted = ({"issuer": EXT_ISS, "jwks_uri": jwks_uri, "audience": "oauthlab", "algorithms": ["RS256"],
                "scopes": ["me"], "accounts": {"mapped-sub": "johndoe"}},)
    return await aiohttp_client(create_app(replace(proxy_settings(tmp_path), trusted_issuers=trusted)))


async def exchange(client, tmp_path, token: str, **extra):
    data = {"grant_type": EXCHANGE, "subject_token": token, "subject_token_type": AT_TYPE, **extra}
    return await client.post("/token", data=data, headers=basic("m2m", m2m_secret(tmp_path)))


async def test_trusted_external_token_is_exchanged_for_a_proxy_token(proxy_x, external, tmp_path):
    """RFC 8693 §2.2.1: the response carries access_token, issued_token_type and token_type; the proxy
    token has the normalized claims with gty token-exchange and a local subject linked to (iss, sub)."""
    _, mint = external
    resp = await exchange(proxy_x, tmp_path, mint())
    assert resp.status == 200, await resp.text()
    assert resp.headers["Cache-Control"] == "no-store"
    body = await resp.json()
    assert body["issued_token_type"] == AT_TYPE and body["token_type"] == "Bearer"
    assert "refresh_token" not in body
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["iss"] == ISSUER and claims["aud"] == AUDIENCE and claims["gty"] == "token-exchange"
    assert claims["sub"].startswith("ext-") and claims["client_id"] == "m2m" and claims["scope"] == "me"
    again = await (await exchange(proxy_x, tmp_path, mint())).json()
    assert jwt.decode(again["access_token"], options={"verify_signature": False})["sub"] == claims["sub"]


async def test_configured_account_link_maps_to_an_existing_user(proxy_x, external, tmp_path):
    """The external (iss, sub) is linked to a local account: here the configured mapping to johndoe."""
    _, mint = external
    resp = await exchange(proxy_x, tmp_path, mint(sub="mapped-sub"), scope="me items")
    assert resp.status == 200, await resp.text()
    claims = jwt.decode((await resp.json())["access_token"], options={"verify_signature": False})
    assert claims["sub"] == "johndoe" and claims["scope"] == "me items"


@pytest.mark.parametrize("change", ["untrusted-issuer", "wrong-audience", "expired", "foreign-key", "alg-none",
                                    "not-a-jwt"])
async def test_untrusted_or_invalid_subject_token_is_invalid_request(proxy_x, external, tmp_path, change):
    """RFC 8693 §2.2.2: "If ... the subject_token ... [is] invalid for any reason, or [is] unacceptable
    based on policy, the authorization server MUST construct an error response ... invalid_request"."""
    _, mint = external
    token = {
        "untrusted-issuer": lambda: mint(iss="https://evil.example"),
        "wrong-audience": lambda: mint(aud="someone-else"),
        "expired": lambda: mint(exp=int(time.time()) - 120),
        "foreign-key": lambda: mint(alg_key=jwks.generate_private_key()),
        "alg-none": lambda: jwt.encode({"iss": EXT_ISS, "sub": "x", "aud": "oauthlab", "iat": 1,
                                        "exp": 9999999999}, None, algorithm="none"),
        "not-a-jwt": lambda: "opaque-token-value",
    }[change]()
    resp = await exchange(proxy_x, tmp_path, token)
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_request"


async def test_exchange_needs_a_client_allowed_to_use_it(proxy_x, external):
    """RFC 6749 §5.2 unauthorized_client: the public frontend client may not use token exchange."""
    _, mint = external
    resp = await proxy_x.post("/token", data={"grant_type": EXCHANGE, "subject_token": mint(),
                                              "subject_token_type": AT_TYPE, "client_id": "frontend"})
    assert resp.status == 400 and (await resp.json())["error"] == "unauthorized_client"


async def test_unsupported_subject_token_type_is_invalid_request(proxy_x, external, tmp_path):
    """RFC 8693 §2.1: subject_token_type identifies the token; only access tokens / JWTs are accepted."""
    _, mint = external
    resp = await exchange(proxy_x, tmp_path, mint(), subject_token_type="urn:ietf:params:oauth:token-type:saml2")
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_request"
