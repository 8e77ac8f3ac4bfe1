"""The token and bearer paths' shortcuts keep their rules: the RS256 signer and its claims template, the
remembered client secret, the memoised Basic credentials, the token-keyed verified cache and
the event loop choice."""
from __future__ import annotations

import asyncio
import importlib.util
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from multidict import CIMultiDict

from servers.common.app import new_event_loop
from servers.common.errors import InvalidClient, InvalidToken
from servers.common.jwks import KeyRing
from servers.common.store import open_store
from servers.common.tokens import RS256Signer, TokenPolicy, TokenVerifier
from servers.oauth_proxy import create_app
from servers.oauth_proxy.clients import Client, ClientRegistry, decode_basic, secret_digest
from servers.oauth_proxy.issuer import TokenService
from tests.support.proxy import AUDIENCE, ISSUER, basic, m2m_secret, proxy_settings

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_rs256_signer_output_is_the_compact_jws_pyjwt_makes():
    """RFC 7515 §7.1: the compact serialisation is BASE64URL(header) '.' BASE64URL(payload) '.'
    BASE64URL(signature); the pre-encoded header changes nothing in the token."""
    claims = {"iss": ISSUER, "sub": "m2m", "aud": AUDIENCE, "iat": 1, "exp": 2, "jti": "j", "scope": "me"}
    token = RS256Signer(KEY, "kid-1").sign(claims)
    assert token == jwt.encode(claims, KEY, algorithm="RS256", headers={"typ": "at+jwt", "kid": "kid-1"})
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": "kid-1", "typ": "at+jwt"}


def test_rs256_signer_refuses_rsa_keys_below_2048_bits():
    """RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used with these algorithms.\""""
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError, match="2048"):
        RS256Signer(small, "small")


async def test_access_tokens_carry_the_rfc_9068_claims_with_a_fresh_jti_each(tmp_path):
    """RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat and jti are present in every access token; the
    claims encoded once per client shape and the per-token iat/exp/jti are one JSON object."""
    store = open_store(tmp_path / "data")
    try:
        service = TokenService(store, KeyRing(tmp_path / "keys"), ISSUER, 600, 30)
        bodies = [await service.issue(sub="m2m", aud=AUDIENCE, client_id="m2m", scope=("me",),
                                      gty="client-credentials") for _ in range(2)]
        verifier = service.verifier(AUDIENCE)
        claims = [await verifier.verify(b["access_token"]) for b in bodies]
    finally:
        await store.close()
    assert claims[0]["jti"] != claims[1]["jti"] and len(claims[0]["jti"]) == 32
    for c in claims:
        assert c["exp"] - c["iat"] == 600
        assert {k: c[k] for k in ("iss", "sub", "aud", "azp", "gty", "client_id", "scope")} == {
            "iss": ISSUER, "sub": "m2m", "aud": AUDIENCE, "azp": "m2m", "gty": "client-credentials",
            "client_id": "m2m", "scope": "me"}


class _Request:
    """What ClientRegistry.authenticate reads of a request: its headers."""

    def __init__(self, headers: dict) -> None:
        self.headers = CIMultiDict(headers)


async def test_remembered_client_secret_never_admits_another_secret(tmp_path):
    """RFC 6749 §2.3.1: the client authenticates with its secret; after a success, a wrong secret is still
    401 invalid_client, and a changed secret (new digest) no longer admits the old one."""
    settings = proxy_settings(tmp_path)
    store = open_store(tmp_path / "data")
    try:
        registry = ClientRegistry(store, settings)
        old, new = "old-secret-" + "a" * 32, "new-secret-" + "b" * 32
        await store.put("clients", "svc", Client("svc", "confidential", (), ("me",), (AUDIENCE,),
                                                 ("client_credentials",), secret_digest(old)).to_record())
        assert (await registry.authenticate(_Request(basic("svc", old)), {})).client_id == "svc"
        with pytest.raises(InvalidClient) as wrong:
            await registry.authenticate(_Request(basic("svc", old[:-1] + "x")), {})
        assert wrong.value.status == 401 and wrong.value.headers()["WWW-Authenticate"] == 'Basic realm="oauth"'
        record = (await store.get("clients", "svc")) | {"secret_sha256": secret_digest(new)}
        await store.put("clients", "svc", record)
        registry._cache.clear()  # the 2 s client cache would otherwise hold the old record
        with pytest.raises(InvalidClient):
            await registry.authenticate(_Request(basic("svc", old)), {})
        assert (await registry.authenticate(_Request(basic("svc", new)), {})).client_id == "svc"
    finally:
        await store.close()


@pytest.mark.parametrize("value", ["", "!!!!", "bTJt", "OnNlY3JldA==", "bTJtOnNlY3JldA== x"])
def test_malformed_basic_credentials_decode_to_nothing_every_time(value):
    """RFC 6749 §2.3.1 / RFC 7617 §2: base64 of client_id ':' secret; anything else is malformed (the
    memoised decoder answers the same on a repeat)."""
    assert decode_basic(value) is None and decode_basic(value) is None


async def test_token_keyed_cache_refuses_a_token_differing_in_one_character():
    """RFC 6750 §3.1: a token that fails verification is invalid_token, even when it differs from a
    cached, verified token only in its last character."""
    policy = TokenPolicy(("RS256",), ISSUER, AUDIENCE, typ=("at+jwt",))

    async def resolve(header):
        return KEY.public_key()

    verifier = TokenVerifier(policy, resolve)
    now = int(time.time())
    token = RS256Signer(KEY, "k").sign({"iss": ISSUER, "sub": "m2m", "aud": AUDIENCE, "iat": now,
                                        "exp": now + 60})
    assert (await verifier.verify(token))["sub"] == "m2m"
    assert verifier.cached(token) is not None
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert verifier.cached(forged) is None
    with pytest.raises(InvalidToken):
        await verifier.verify(forged)


def test_event_loop_is_uvloop_when_installed_unless_turned_off(monkeypatch):
    """uvloop (the [speed] extra) when importable; --no-uvloop or OAUTHLAB_UVLOOP=0 keep asyncio's loop."""
    expected = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    for use, env, name in ((True, None, expected), (False, None, "asyncio"), (True, "0", "asyncio")):
        if env is None:
            monkeypatch.delenv("OAUTHLAB_UVLOOP", raising=False)
        else:
            monkeypatch.setenv("OAUTHLAB_UVLOOP", env)
        loop, got = new_event_loop(use)
        try:
            assert got == name and isinstance(loop, asyncio.AbstractEventLoop)
        finally:
            loop.close()


async def test_client_credentials_token_over_http_after_the_shortcuts(aiohttp_client, tmp_path):
    """RFC 6749 §4.4.3 and §5.1: a repeated client_credentials request keeps getting a fresh token with
    Cache-Control: no-store."""
    client = await aiohttp_client(create_app(proxy_settings(tmp_path)))
    auth = basic("m2m", m2m_secret(tmp_path))
    tokens = set()
    for _ in range(3):
        r = await client.post("/token", data={"grant_type": "client_credentials", "scope": "me"}, headers=auth)
        assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        tokens.add((await r.json())["access_token"])
    assert len(tokens) == 3
    r = await client.post("/token", data={"grant_type": "client_credentials"}, headers=basic("m2m", "wrong"))
    assert r.status == 401 and (await r.json())["error"] == "invalid_client"
    assert r.headers["WWW-Authenticate"] == 'Basic realm="oauth"'
