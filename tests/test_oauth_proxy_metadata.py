"""oauth-proxy discovery (RFC 8414), JWKS (RFC 7517/7638), key files and rotation, CORS scope."""
from __future__ import annotations

import asyncio
import os
import stat

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from servers.common import jwks
from tests.support.proxy import ISSUER, basic, m2m_secret


async def test_discovery_documents_are_identical_and_advertise_s256_only(proxy):
    """RFC 9700 §2.1.1: ASs "MUST provide a way to detect their support for PKCE" (RFC 8414
    code_challenge_methods_supported); RFC 9207 authorization_response_iss_parameter_supported."""
    a = await proxy.get("/.well-known/oauth-authorization-server")
    b = await proxy.get("/.well-known/openid-configuration")
    assert a.status == b.status == 200
    meta = await a.json()
    assert meta == await b.json()
    assert meta["issuer"] == ISSUER
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["response_types_supported"] == ["code"]
    assert meta["authorization_endpoint"] == ISSUER + "/authorize"
    assert meta["token_endpoint"] == ISSUER + "/token"
    assert meta["jwks_uri"] == ISSUER + "/.well-known/jwks.json"
    assert meta["revocation_endpoint"] == ISSUER + "/revoke"
    assert "urn:ietf:params:oauth:grant-type:token-exchange" in meta["grant_types_supported"]


def test_rfc7638_thumbprint_example():
    """RFC 7638 §3.1: the example RSA key's thumbprint is NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs."""
    n = ("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjB"
         "ZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8K"
         "JZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBn"
         "iIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
    import base64
    n_int = int.from_bytes(base64.urlsafe_b64decode(n + "=" * (-len(n) % 4)), "big")
    key = rsa.RSAPublicNumbers(65537, n_int).public_key()
    assert jwks.thumbprint(key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


async def test_jwks_publishes_the_signing_key_with_thumbprint_kid(proxy, tmp_path):
    """RFC 7517 §4: kty/use/alg/kid; RFC 7638: kid is the key's thumbprint; key files mode 0600."""
    resp = await proxy.get("/.well-known/jwks.json")
    assert resp.status == 200
    doc = await resp.json()
    assert len(doc["keys"]) == 1
    jwk = doc["keys"][0]
    assert set(jwk) == {"kty", "use", "alg", "kid", "n", "e"}  # no private member
    assert (jwk["kty"], jwk["use"], jwk["alg"]) == ("RSA", "sig", "RS256")
    pub = jwt.PyJWK(jwk).key
    assert pub.key_size == 2048
    assert jwks.thumbprint(pub) == jwk["kid"]
    for f in (tmp_path / "keys").iterdir():
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f


async def test_generic_jwks_client_verifies_a_proxy_token(proxy, tmp_path):
    """Interop: PyJWT's PyJWKClient (a generic JWKS verifier) fetches the JWKS, picks the key by kid and
    verifies an access token with RS256, typ at+jwt, and the normalized claims."""
    resp = await proxy.post("/token", data={"grant_type": "client_credentials"},
                            headers=basic("m2m", m2m_secret(tmp_path)))
    assert resp.status == 200
    token = (await resp.json())["access_token"]
    url = str(proxy.make_url("/.well-known/jwks.json"))
    client = jwt.PyJWKClient(url, cache_keys=False)
    key = await asyncio.get_running_loop().run_in_executor(None, client.get_signing_key_from_jwt, token)
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="http://127.0.0.1:9000", issuer=ISSUER,
                        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]})
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    assert set(claims) == {"iss", "sub", "aud", "iat", "exp", "azp", "gty", "scope", "client_id", "jti"}
    assert claims["gty"] == "client-credentials" and claims["sub"] == claims["client_id"] == "m2m"


def test_rotation_keeps_the_old_key_published_until_pruned(tmp_path):
    """Key rotation (RFC 7517 §5 sets; [CS] oidcc-server-rotate-keys): the new key signs, the old one stays
    in the JWKS so its tokens verify, and prune removes it only after the token lifetime."""
    keys_dir = tmp_path / "keys"
    ring = jwks.KeyRing(keys_dir, interval=0)
    old = ring.current.signing_kid
    new = jwks.rotate_keys(keys_dir)
    assert new != old
    os.utime(jwks.index_path(keys_dir), (1, 1))  # make sure the mtime differs on coarse filesystems
    current = ring.refresh()
    assert current.signing_kid == new
    assert [k["kid"] for k in current.jwks()["keys"]] == [new, old]
    assert jwks.prune_keys(keys_dir, max_token_age=3600) == []
    assert jwks.prune_keys(keys_dir, max_token_age=0) == [old]
    assert jwks.load_keyset(keys_dir).jwks()["keys"][0]["kid"] == new
    assert len(list(keys_dir.glob("oauth-proxy-rs256-*.pem"))) == 1


async def test_cors_only_for_registered_spa_origins_and_never_on_authorize(proxy):
    """RFC 9700 §2.6: "CORS MUST NOT be supported at the Authorization Endpoint"; the token endpoint and
    JWKS answer registered SPA origins (the frontend's) only."""
    ok = await proxy.get("/.well-known/jwks.json", headers={"Origin": "http://localhost:8080"})
    assert ok.headers["Access-Control-Allow-Origin"] == "http://localhost:8080"
    evil = await proxy.get("/.well-known/jwks.json", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in evil.headers
    pre = await proxy.options("/token", headers={"Origin": "http://127.0.0.1:8080",
                                                 "Access-Control-Request-Method": "POST"})
    assert pre.status == 204 and pre.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8080"
    err = await proxy.post("/token", data={"grant_type": "nope"}, headers={"Origin": "http://127.0.0.1:8080"})
    assert err.status == 400 and err.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8080"
    authz = await proxy.get("/authorize", headers={"Origin": "http://localhost:8080"}, allow_redirects=False)
    assert "Access-Control-Allow-Origin" not in authz.headers
    pre = await proxy.options("/authorize", headers={"Origin": "http://localhost:8080",
                                                     "Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in pre.headers
