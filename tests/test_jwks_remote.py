"""The shared remote JWK Set cache (servers/common/jwks/remote.py ``RemoteJWKS``), used by backend4, the proxy's token
exchange and ``run.py flow``: the key filter per algorithm family (RFC 8725 §3.1, RFC 7517, RFC 7518), the
refetch rate limit, single flight, an issuer that goes down, and a withdrawn key. The issuer is a real HTTP
server started in the test; tokens are verified by the shared ``TokenVerifier``."""
from __future__ import annotations

import asyncio
import time

import aiohttp
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from servers.common.discovery import DiscoveryError
from servers.common.errors import InvalidToken, TemporarilyUnavailable
from servers.common.jwks import RemoteJWKS, usable_keys, verification_key
from servers.common.tokens import TokenPolicy, TokenVerifier
from tests.support.jose import Clock, b64, b64uint

ISS = "https://idp.example"
AUD = "urn:test:api"


_KEYS: dict[str, object] = {}


def key(name: str):
    """Keys are slow to make: one per name for the session. rsa*, rsa1024*, ec256*, ec384*, ed*."""
    if name not in _KEYS:
        if name.startswith("rsa1024"):
            _KEYS[name] = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        elif name.startswith("rsa"):
            _KEYS[name] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif name.startswith("ec384"):
            _KEYS[name] = ec.generate_private_key(ec.SECP384R1())
        elif name.startswith("ec"):
            _KEYS[name] = ec.generate_private_key(ec.SECP256R1())
        else:
            _KEYS[name] = ed25519.Ed25519PrivateKey.generate()
    return _KEYS[name]


def jwk(name: str, kid: str | None = None, **members) -> dict:
    pub = key(name).public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        nums = pub.public_numbers()
        out = {"kty": "RSA", "n": b64uint(nums.n), "e": b64uint(nums.e)}
    elif isinstance(pub, ec.EllipticCurvePublicKey):
        nums, size = pub.public_numbers(), (pub.curve.key_size + 7) // 8
        out = {"kty": "EC", "crv": {256: "P-256", 384: "P-384"}[pub.curve.key_size],
               "x": b64uint(nums.x, size), "y": b64uint(nums.y, size)}
    else:
        from cryptography.hazmat.primitives import serialization
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        out = {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}
    out["kid"] = kid or name
    out.update(members)
    return {k: v for k, v in out.items() if v is not None}


def mint(name: str, alg: str, kid: str | None = None) -> str:
    now = int(time.time())
    claims = {"iss": ISS, "sub": "alice", "aud": AUD, "iat": now, "exp": now + 300}
    return jwt.encode(claims, key(name), algorithm=alg, headers={"kid": kid or name})


class Issuer:
    """A JWKS endpoint over real HTTP, counting its hits; ``keys`` may be changed between fetches."""
    def __init__(self, keys: list) -> None:
        self.keys = keys
        self.hits = 0
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self, port: int = 0) -> "Issuer":
        async def jwks(request: web.Request) -> web.Response:
            self.hits += 1
            return web.json_response({"keys": self.keys})
        app = web.Application()
        app.router.add_get("/jwks", jwks)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/jwks"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


async def remote(session, issuer: Issuer, algorithms=("RS256",), clock: Clock | None = None) -> RemoteJWKS:
    r = RemoteJWKS(ISS, issuer.url, algorithms=algorithms, clock=clock or Clock())
    r.session = session
    return r


def verifier_for(r: RemoteJWKS) -> TokenVerifier:
    return TokenVerifier(TokenPolicy(algorithms=r.algorithms, issuer=ISS, audience=AUD), r.resolve, cache_size=0)


# -- the key filter -------------------------------------------------------------------------------------
def test_rsa_key_is_for_rsa_algorithms_only():
    """RFC 8725 §3.1: "each key MUST be used with exactly one algorithm" (family): an RSA key is for RS*/PS*,
    never ES256; its own alg, if present, must be an allowed one (RFC 7517 §4.4)."""
    assert verification_key(jwk("rsa1"), ("RS256",)) is not None
    assert verification_key(jwk("rsa1"), ("ES256",)) is None
    assert verification_key(jwk("rsa1", alg="RS256"), ("PS256",)) is None
    assert verification_key(jwk("rsa1", alg="ES256"), ("RS256", "ES256")) is None  # alg of another family
    entry = verification_key(jwk("rsa1", alg="RS256"), ("RS256", "PS256"))
    assert entry.usable_for("RS256") and not entry.usable_for("PS256") and not entry.usable_for("ES256")
    no_alg = verification_key(jwk("rsa1"), ("RS256", "PS256"))
    assert no_alg.usable_for("RS256") and no_alg.usable_for("PS256") and not no_alg.usable_for("HS256")


def test_ec_key_is_for_the_algorithm_of_its_curve():
    """RFC 7518 §3.4: ES256 uses P-256, ES384 P-384; an EC key is usable only with the alg of its curve."""
    p256 = verification_key(jwk("ec1"), ("ES256", "ES384"))
    assert p256.usable_for("ES256") and not p256.usable_for("ES384") and not p256.usable_for("RS256")
    assert verification_key(jwk("ec384a"), ("ES256",)) is None
    assert verification_key(jwk("ec1"), ("RS256",)) is None
    short = jwk("ec1")
    short["x"] = short["x"][:-2]  # RFC 7518 §6.2.1.2: coordinates are full length
    assert verification_key(short, ("ES256",)) is None
    off_curve = {**jwk("ec1"), "y": b64uint(1, 32)}
    assert verification_key(off_curve, ("ES256",)) is None
    ed = verification_key(jwk("ed1"), ("EdDSA",))
    assert ed.usable_for("EdDSA") and not ed.usable_for("ES256")


@pytest.mark.parametrize("members", [{"use": "enc"}, {"key_ops": ["sign"]}, {"key_ops": "verify"},
                                     {"d": "AQAB"}, {"p": "AQAB"}, {"n": "not base64!"}, {"e": 3},
                                     {"kty": "oct"}, {"kid": 7}, {"alg": "HS256"}, {"alg": "none"}])
def test_jwk_not_for_verification_is_not_used(members):
    """RFC 7517 §4.2/§4.3 (use sig, key_ops verify), public keys only, well-formed members, string kid."""
    assert verification_key({**jwk("rsa1"), **members}, ("RS256", "PS256")) is None


def test_short_rsa_key_and_duplicate_kid_are_dropped():
    """RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used"; RFC 7517 §4.5: a kid published
    twice is ambiguous and neither key is used."""
    keys = usable_keys({"keys": [jwk("rsa1024a", "short"), jwk("rsa1", "same"), jwk("rsa2", "same"),
                                 jwk("rsa3", "ok"), jwk("ec1", "ec"), "junk", None]}, ("RS256",))
    assert set(keys) == {"ok"}
    with pytest.raises(DiscoveryError):
        usable_keys({"nokeys": []})


async def test_token_alg_must_match_the_key_it_names(session):
    """RFC 8725 §3.1 at verification time, with an issuer allowing RS256, PS256 and ES256: a token verifies
    only with a key of its alg's family, and with a JWK that names its alg, only with that alg."""
    issuer = await Issuer([jwk("rsa1", "rs", alg="RS256"), jwk("rsa2", "rsa-any"), jwk("ec1", "ec")]).start()
    try:
        r = await remote(session, issuer, algorithms=("RS256", "PS256", "ES256"))
        v = verifier_for(r)
        assert (await v.verify(mint("rsa1", "RS256", "rs")))["sub"] == "alice"
        assert (await v.verify(mint("rsa2", "PS256", "rsa-any")))["sub"] == "alice"
        assert (await v.verify(mint("rsa2", "RS256", "rsa-any")))["sub"] == "alice"
        assert (await v.verify(mint("ec1", "ES256", "ec")))["sub"] == "alice"
        with pytest.raises(InvalidToken):  # the JWK says RS256: PS256 with the same key is refused
            await v.verify(mint("rsa1", "PS256", "rs"))
        with pytest.raises(InvalidToken):  # an EC token naming an RSA key
            await v.verify(mint("ec1", "ES256", "rs"))
        with pytest.raises(InvalidToken):  # an RSA token naming the EC key
            await v.verify(mint("rsa1", "RS256", "ec"))
        assert issuer.hits == 1
    finally:
        await issuer.stop()


# -- fetching ---------------------------------------------------------------------------------------------
async def test_unknown_kid_refetches_at_most_once_per_interval(session):
    """An unknown kid refetches the set (RFC 9068 §4: the AS's current keys), at most once per 30 s whatever
    the number of forged kids, so a client cannot make us hammer the issuer."""
    issuer = await Issuer([jwk("rsa1")]).start()
    clock = Clock()
    try:
        r = await remote(session, issuer, clock=clock)
        assert await r.resolve({"alg": "RS256", "kid": "rsa1"}) is not None
        assert issuer.hits == 1
        for i in range(5):
            with pytest.raises(InvalidToken):
                await r.resolve({"alg": "RS256", "kid": f"forged-{i}"})
        assert issuer.hits == 1  # the first fetch was < 30 s ago
        clock.now += 30
        for i in range(5):
            with pytest.raises(InvalidToken):
                await r.resolve({"alg": "RS256", "kid": f"forged-{i}"})
        assert issuer.hits == 2
        issuer.keys.append(jwk("rsa2"))
        clock.now += 29
        with pytest.raises(InvalidToken):
            await r.resolve({"alg": "RS256", "kid": "rsa2"})
        clock.now += 1
        assert await r.resolve({"alg": "RS256", "kid": "rsa2"}) is not None  # rotation picked up
        assert issuer.hits == 3
    finally:
        await issuer.stop()


async def test_concurrent_unknown_kids_share_one_fetch(session):
    """Single flight: 20 concurrent look-ups of unknown kids cost the issuer one request."""
    issuer = await Issuer([jwk("rsa1")]).start()
    try:
        r = await remote(session, issuer)
        results = await asyncio.gather(*(r.resolve({"alg": "RS256", "kid": f"k{i}"}) for i in range(20)),
                                       return_exceptions=True)
        assert all(isinstance(x, InvalidToken) for x in results)
        assert issuer.hits == 1
    finally:
        await issuer.stop()


async def test_issuer_down_keeps_the_cached_keys(session):
    """Availability: once keys are cached, an unreachable issuer changes nothing for known kids; an unknown
    kid is a plain invalid_token (not a 5xx); before any key was ever fetched it is 503
    temporarily_unavailable (the token may be fine)."""
    issuer = await Issuer([jwk("rsa1")]).start()
    clock = Clock()
    r = await remote(session, issuer, clock=clock)
    v = verifier_for(r)
    assert (await v.verify(mint("rsa1", "RS256")))["sub"] == "alice"
    await issuer.stop()
    clock.now += 31
    assert (await v.verify(mint("rsa1", "RS256")))["sub"] == "alice"
    with pytest.raises(InvalidToken):
        await v.verify(mint("rsa2", "RS256"))
    assert r.fetches == 2 and set(r.keys) == {"rsa1"}  # the failed refetch kept the keys

    never = await remote(session, issuer)  # same (now closed) URL, nothing cached
    with pytest.raises(TemporarilyUnavailable):
        await never.resolve({"alg": "RS256", "kid": "rsa1"})


async def test_withdrawn_key_is_reported_and_refused(session):
    """RFC 8725 §3.8 / key rotation: a key the issuer stops publishing (or replaces under the same kid) is
    reported to ``on_keys_removed`` (backend4 then drops its verified-token cache) and no longer used."""
    issuer = await Issuer([jwk("rsa1", "a"), jwk("rsa2", "b")]).start()
    clock = Clock()
    try:
        r = await remote(session, issuer, clock=clock)
        removed: list[set] = []
        r.on_keys_removed = removed.append
        v = verifier_for(r)
        assert (await v.verify(mint("rsa1", "RS256", "a")))["sub"] == "alice"
        issuer.keys[:] = [jwk("rsa3", "b"), jwk("rsa4", "c")]  # a withdrawn, b replaced
        clock.now += 30
        assert await r.fetch_locked()
        assert removed == [{"a", "b"}]
        with pytest.raises(InvalidToken):
            await v.verify(mint("rsa1", "RS256", "a"))
        with pytest.raises(InvalidToken):  # the old key under kid b does not verify any more
            await v.verify(mint("rsa2", "RS256", "b"))
        assert (await v.verify(mint("rsa3", "RS256", "b")))["sub"] == "alice"
    finally:
        await issuer.stop()


async def test_oversized_or_garbage_jwks_leaves_no_keys(session):
    """Every fetch is bounded (size, JSON object with a keys array): anything else is no keys, never a crash."""
    issuer = await Issuer([jwk("rsa1")] * 1).start()
    try:
        r = RemoteJWKS(ISS, issuer.url, max_bytes=100, clock=Clock())
        r.session = session
        assert await r.fetch() is False and r.keys == {}
        with pytest.raises(TemporarilyUnavailable):
            await r.resolve({"alg": "RS256", "kid": "rsa1"})
        issuer.keys = "not a list"  # type: ignore[assignment]
        r2 = await remote(session, issuer)
        assert await r2.fetch() is False and r2.keys == {}
    finally:
        await issuer.stop()


def test_symmetric_or_unknown_algorithms_are_refused_at_construction():
    """A remote JWKS is for asymmetric verification keys only (an HS256 secret is never published)."""
    for algs in ((), ("HS256",), ("RS256", "none")):
        with pytest.raises(ValueError):
            RemoteJWKS(ISS, "http://127.0.0.1:1/jwks", algorithms=algs)
