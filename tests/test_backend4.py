"""backend4, the resource server for RS256 access tokens: discovery, the JWKS cache and its rate limit, the
fixed verification policy, RFC 6750 errors, CORS and /docs.

The issuer here is a real HTTP server started in the test (``LocalIssuer``: RFC 8414 metadata and a JWKS
for keys generated in the test), so backend4 is exercised over the network exactly as against oauth-proxy.
Each test names the rule it checks and quotes it."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from servers import backend4
from servers.backend4 import KEYSET
from servers.common.jwks import usable_keys
from servers.common.jwks import verification_key as rsa_verification_key  # RS256 by default
from tests.support.issuer import (AUD, DROP, LocalIssuer, assert_invalid_token, bearer, jwk_of, rsa_key,
                                  settled)
from tests.support.jose import Clock, b64
from tests.support.settings import make_settings


@pytest.fixture
def start_backend4(aiohttp_client, tmp_path):
    async def _start(issuer_url: str, clock: Clock | None = None, wait: bool = True, **overrides):
        app = backend4.create_app(make_settings(tmp_path, "backend4", upstream_issuer=issuer_url, **overrides))
        if clock is not None:
            app[KEYSET].clock = clock
        client = await aiohttp_client(app)
        if wait:
            await settled(app)
        return client
    return _start


# -- the happy path ------------------------------------------------------------------------------------
async def test_valid_token_reads_what_the_token_says(issuer, start_backend4):
    """RFC 9068 §4: the resource server validates the token and uses its claims; backend4 has no user
    store, /users/me answers from the token (sub as username, client_id, scope, gty)."""
    client = await start_backend4(issuer.url)
    resp = await client.get("/users/me", headers=bearer(issuer.mint()))
    assert resp.status == 200
    body = await resp.json()
    assert body["username"] == "johndoe"
    assert (body["client_id"], body["azp"], body["gty"], body["scope"]) == (
        "frontend", "frontend", "authorization-code", "me items")
    assert body["iss"] == issuer.url
    assert resp.headers["Cache-Control"] == "no-store"


async def test_items_and_status_with_valid_token(issuer, start_backend4):
    """/users/me/items needs scope items; /status needs any valid token (RFC 6750 §3.1 scope checks)."""
    client = await start_backend4(issuer.url)
    resp = await client.get("/users/me/items/", headers=bearer(issuer.mint(scope="items")))
    assert resp.status == 200
    assert await resp.json() == [{"item_id": "Foo", "owner": "johndoe"}, {"item_id": "Bar", "owner": "johndoe"}]
    resp = await client.get("/status", headers=bearer(issuer.mint(scope=DROP)))
    assert resp.status == 200 and await resp.json() == {"status": "ok"}


async def test_health_needs_no_token(issuer, start_backend4):
    client = await start_backend4(issuer.url)
    resp = await client.get("/health")
    assert resp.status == 200 and await resp.json() == {"status": "ok"}


# -- RFC 6750 errors -----------------------------------------------------------------------------------
async def test_no_token_is_bare_bearer_challenge(issuer, start_backend4):
    """RFC 6750 §3.1: "If the request lacks any authentication information ... the resource server SHOULD
    NOT include an error code or other error information" -> 401 with a bare Bearer challenge."""
    client = await start_backend4(issuer.url)
    resp = await client.get("/users/me")
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("path,scope,needed", [("/users/me", "items", "me"), ("/users/me/items", "me", "items")])
async def test_missing_scope_is_403_insufficient_scope(issuer, start_backend4, path, scope, needed):
    """RFC 6750 §3.1 insufficient_scope: "The request requires higher privileges than provided by the access
    token. The resource server SHOULD respond with the HTTP 403 (Forbidden) status code and MAY include the
    "scope" attribute with the scope necessary to access the protected resource." """
    client = await start_backend4(issuer.url)
    resp = await client.get(path, headers=bearer(issuer.mint(scope=scope)))
    assert resp.status == 403
    assert resp.headers["WWW-Authenticate"] == f'Bearer error="insufficient_scope", scope="{needed}"'
    body = await resp.json()
    assert body["error"] == "insufficient_scope" and body["scope"] == needed


async def test_scope_claim_as_array_grants_nothing(issuer, start_backend4):
    """RFC 9068 §2.2.3 / RFC 8693 §4.2: scope is a space-delimited string; a token carrying an array is
    malformed (invalid_token), not read as scopes."""
    client = await start_backend4(issuer.url)
    await assert_invalid_token(await client.get("/users/me", headers=bearer(issuer.mint(scope=["me", "items"]))))


async def test_token_in_query_is_not_accepted(issuer, start_backend4):
    """RFC 6750 §2.3: tokens in the URI SHOULD NOT be used; backend4 accepts only the header."""
    client = await start_backend4(issuer.url)
    resp = await client.get("/users/me", params={"access_token": issuer.mint()})
    assert resp.status == 401 and resp.headers["WWW-Authenticate"] == "Bearer"


# -- the fixed policy ----------------------------------------------------------------------------------
async def test_wrong_audience_is_invalid_token(issuer, start_backend4):
    """RFC 9068 §4: "The resource server MUST validate that the aud claim contains a resource indicator value
    corresponding to an identifier the resource server expects for itself. The JWT access token MUST be
    rejected if aud does not contain a resource indicator of the current resource server." """
    client = await start_backend4(issuer.url)
    for aud in ("https://other-rs.example", [], ["https://other-rs.example"], AUD + "/"):
        await assert_invalid_token(await client.get("/users/me", headers=bearer(issuer.mint(aud=aud))))


async def test_audience_in_an_array_is_accepted(issuer, start_backend4):
    """RFC 7519 §4.1.3: aud may be an array; the RS must find itself in it."""
    client = await start_backend4(issuer.url)
    resp = await client.get("/users/me", headers=bearer(issuer.mint(aud=["https://x.example", AUD])))
    assert resp.status == 200


async def test_configured_audience_replaces_public_url(issuer, start_backend4):
    """--audience: backend4's identifier is a setting, so it can front any issuer's tokens."""
    client = await start_backend4(issuer.url, audience="urn:example:api")
    await assert_invalid_token(await client.get("/users/me", headers=bearer(issuer.mint())))
    resp = await client.get("/users/me", headers=bearer(issuer.mint(aud="urn:example:api")))
    assert resp.status == 200


async def test_wrong_issuer_is_invalid_token(issuer, start_backend4):
    """RFC 9068 §4: "The issuer identifier for the authorization server ... MUST exactly match the value of
    the iss claim." """
    client = await start_backend4(issuer.url)
    for iss in ("https://evil.example", issuer.url + "/", issuer.url.replace("127.0.0.1", "localhost")):
        await assert_invalid_token(await client.get("/users/me", headers=bearer(issuer.mint(iss=iss))))


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+jwt+x", "", DROP, 7])
async def test_wrong_or_missing_typ_is_invalid_token(issuer, start_backend4, typ):
    """RFC 9068 §4: "Resource servers receiving a JWT access token MUST validate the "typ" header; it MUST be
    at+jwt or application/at+jwt" (an ID token or other JWT cannot be replayed as an access token)."""
    client = await start_backend4(issuer.url)
    token = issuer.mint(header={"typ": typ})
    await assert_invalid_token(await client.get("/users/me", headers=bearer(token)))


async def test_application_at_jwt_typ_is_accepted(issuer, start_backend4):
    """RFC 9068 §4: typ "application/at+jwt" is the same media type as "at+jwt"."""
    client = await start_backend4(issuer.url)
    resp = await client.get("/users/me", headers=bearer(issuer.mint(header={"typ": "application/at+jwt"})))
    assert resp.status == 200


@pytest.mark.parametrize("alg", ["RS512", "PS256", "RS384"])
async def test_other_rsa_algorithm_with_the_right_key_is_invalid_token(issuer, start_backend4, alg):
    """RFC 8725 §3.1: "Libraries MUST enable the caller to specify a supported set of algorithms and MUST NOT
    use any other algorithms"; the allow-list is RS256 only, whatever the header says."""
    client = await start_backend4(issuer.url)
    await assert_invalid_token(await client.get("/users/me", headers=bearer(issuer.mint(alg=alg))))


async def test_ecdsa_token_is_invalid_token(issuer, start_backend4):
    """RFC 8725 §3.1: only the configured algorithm (RS256) is accepted; ES256 is not, whatever its key."""
    client = await start_backend4(issuer.url)
    token = issuer.mint(alg="ES256", key=ec.generate_private_key(ec.SECP256R1()))
    await assert_invalid_token(await client.get("/users/me", headers=bearer(token)))


def forge(header: dict, claims: dict, sign) -> str:
    h = b64(json.dumps(header).encode())
    p = b64(json.dumps(claims).encode())
    return f"{h}.{p}.{sign(f'{h}.{p}'.encode())}"


async def test_alg_none_is_invalid_token(issuer, start_backend4):
    """RFC 8725 §3.2 / RFC 7518 §3.6: an unsecured JWS ("alg":"none") MUST NOT be accepted where a signature
    is expected; tried with an empty signature, a junk one, and case variants of none."""
    client = await start_backend4(issuer.url)
    claims = issuer.claims()
    for alg in ("none", "None", "NONE", "nOnE"):
        header = {"alg": alg, "typ": "at+jwt", "kid": "k1-kid"}
        for token in (forge(header, claims, lambda _: ""), forge(header, claims, lambda _: "AAAA")):
            await assert_invalid_token(await client.get("/users/me", headers=bearer(token)))


async def test_hs256_signed_with_the_public_key_is_invalid_token(issuer, start_backend4):
    """RFC 8725 §2.1/§3.1 algorithm confusion (CVE-2015-9235 class): a token HMAC-signed with the issuer's
    public RSA key (PEM, DER, or the JWK's n) must be refused: the algorithm is fixed, never taken from the
    header, and an RSA key is never used as an HMAC secret."""
    client = await start_backend4(issuer.url)
    pub = rsa_key("k1").public_key()
    secrets_to_try = [
        pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1),
        pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        json.dumps(issuer.jwks[0]).encode(),
    ]
    for secret in secrets_to_try:
        for kid in ("k1-kid", DROP):
            header = {"alg": "HS256", "typ": "at+jwt", **({} if kid is DROP else {"kid": kid})}
            token = forge(header, issuer.claims(),
                          lambda data, s=secret: b64(hmac.new(s, data, hashlib.sha256).digest()))
            await assert_invalid_token(await client.get("/users/me", headers=bearer(token)))


async def test_signature_by_an_unpublished_key_is_invalid_token(issuer, start_backend4):
    """RFC 9068 §4: "The resource server MUST validate the signature of all incoming JWT access tokens
    according to [RFC7515] using the algorithm specified in the JWT 'alg' Header Parameter" with the issuer's
    keys; a token signed by another key under the published kid fails."""
    client = await start_backend4(issuer.url)
    await assert_invalid_token(await client.get("/users/me", headers=bearer(issuer.mint(kid="k1-kid",
                                                                                         key=rsa_key("k2")))))


async def test_tampered_payload_is_invalid_token(issuer, start_backend4):
    """RFC 7515 §5.2: a JWS whose payload changed after signing fails validation."""
    client = await start_backend4(issuer.url)
    h, _, s = issuer.mint().split(".")
    p = b64(json.dumps(issuer.claims(sub="admin")).encode())
    await assert_invalid_token(await client.get("/users/me", headers=bearer(f"{h}.{p}.{s}")))


@pytest.mark.parametrize("name", ["jku", "jwk", "x5u", "x5c", "crit"])
async def test_key_carrying_or_critical_headers_are_invalid_token(issuer, start_backend4, name):
    """RFC 8725 §3.10 / RFC 7515 §4.1.11: keys come from the configured issuer only; jku/jwk/x5u/x5c in the
    header are refused, and an unknown crit extension MUST make the JWS invalid."""
    client = await start_backend4(issuer.url)
    value = {"jku": "http://127.0.0.1:1/jwks", "jwk": issuer.jwks[0], "x5u": "http://127.0.0.1:1/c",
             "x5c": ["MIIB"], "crit": ["exp"]}[name]
    await assert_invalid_token(await client.get("/users/me", headers=bearer(issuer.mint(header={name: value}))))


async def test_expired_token_is_invalid_token(issuer, start_backend4):
    """RFC 7519 §4.1.4: "the current date/time MUST be before the expiration date/time listed in the exp
    claim"; a leeway of at most 30 s (RFC 8725 / RFC 9068 §4) is tolerated, not more."""
    client = await start_backend4(issuer.url)
    now = int(time.time())
    await assert_invalid_token(await client.get("/users/me", headers=bearer(issuer.mint(exp=now - 40,
                                                                                         iat=now - 400))))
    resp = await client.get("/users/me", headers=bearer(issuer.mint(exp=now - 10, iat=now - 400)))
    assert resp.status == 200  # within the 30 s leeway


async def test_not_yet_valid_token_is_invalid_token(issuer, start_backend4):
    """RFC 7519 §4.1.5: "the current date/time MUST be after or equal to the not-before date/time listed in
    the nbf claim" (30 s leeway); an iat in the future beyond the leeway is refused too."""
    client = await start_backend4(issuer.url)
    now = int(time.time())
    await assert_invalid_token(await client.get("/users/me", headers=bearer(issuer.mint(nbf=now + 120))))
    await assert_invalid_token(await client.get("/users/me", headers=bearer(issuer.mint(iat=now + 120))))
    assert (await client.get("/users/me", headers=bearer(issuer.mint(nbf=now + 10)))).status == 200


@pytest.mark.parametrize("claim", backend4.REQUIRED_CLAIMS)
async def test_missing_required_claim_is_invalid_token(issuer, start_backend4, claim):
    """RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti are REQUIRED in a JWT access token; a token
    without one is rejected (PyJWT only checks the claims present unless they are required)."""
    client = await start_backend4(issuer.url)
    await assert_invalid_token(await client.get("/users/me", headers=bearer(issuer.mint(**{claim: DROP}))))


@pytest.mark.parametrize("claims", [{"exp": "9999999999"}, {"iat": True}, {"sub": 42}, {"client_id": 1},
                                    {"sub": ""}, {"jti": None}])
async def test_claims_of_the_wrong_type_are_invalid_token(issuer, start_backend4, claims):
    """RFC 7519 §2: NumericDate is a JSON number; sub, client_id, jti are strings."""
    client = await start_backend4(issuer.url)
    await assert_invalid_token(await client.get("/users/me", headers=bearer(issuer.mint(**claims))))


@pytest.mark.parametrize("token", ["abc", "a.b", "a.b.c.d.e", "eyJ.eyJ.sig=", "e30.e30.", "e30.W10.AA",
                                   "a" * 4000 + "." + "a" * 4000 + ".a"], ids=lambda t: t[:12])
async def test_malformed_tokens_are_invalid_token(issuer, start_backend4, token):
    """RFC 6750 §3.1 invalid_token: "malformed ... or invalid for other reasons"; never a 500."""
    client = await start_backend4(issuer.url)
    resp = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    if resp.status == 400:  # a header that is not a b64token at all is malformed credentials
        assert resp.headers["WWW-Authenticate"].startswith("Bearer error=")
    else:
        await assert_invalid_token(resp)


# -- keys: choice, rotation, the refetch limit, the issuer being down ----------------------------------
async def test_unknown_kid_refetches_at_most_once_per_30_seconds(issuer, start_backend4):
    """RFC 9068 §4 (keys from the AS) with a bound: an unknown kid triggers one JWKS refetch, and no more
    than one per 30 s however many forged kids arrive (else any client makes us hammer the issuer)."""
    clock = Clock()
    client = await start_backend4(issuer.url, clock=clock)
    assert issuer.hits["jwks"] == 1  # the start-up fetch
    clock.now += 30
    for i in range(5):
        token = issuer.mint(kid=f"unknown-{i}")
        await assert_invalid_token(await client.get("/users/me", headers=bearer(token)))
    assert issuer.hits["jwks"] == 2  # one refetch for five unknown kids
    clock.now += 29
    await assert_invalid_token(await client.get("/users/me", headers=bearer(issuer.mint(kid="unknown-x"))))
    assert issuer.hits["jwks"] == 2
    clock.now += 1
    await assert_invalid_token(await client.get("/users/me", headers=bearer(issuer.mint(kid="unknown-y"))))
    assert issuer.hits["jwks"] == 3


async def test_hostile_kids_are_plain_unknown_kids(issuer, start_backend4):
    """RFC 8725 §3.10 / catalog key-kid-traversal, key-kid-sqli, key-kid-cmd-injection: kid is only ever a
    dictionary key here (no file, no query, no shell), so a path, SQL or a command in it is just an unknown
    kid: 401 invalid_token at normal speed, and together they cost the issuer one refetch."""
    clock = Clock()
    client = await start_backend4(issuer.url, clock=clock)
    clock.now += 30
    kids = ["../../../../../../dev/null", "/dev/null", "x' UNION SELECT '1';--", "|sleep 10", "", "k1-kid\x00",
            "%2e%2e%2f", "k1-kid ", 7, None, ["k1-kid"], {"kid": "k1-kid"}]
    started = time.monotonic()
    for kid in kids:  # RS256 by the real key, so only the kid is wrong (PyJWT will not encode odd kids)
        header = {"alg": "RS256", "typ": "at+jwt", "kid": kid}
        token = forge(header, issuer.claims(), lambda data: b64(rsa_key("k1").sign(
            data, padding.PKCS1v15(), hashes.SHA256())))
        await assert_invalid_token(await client.get("/users/me", headers=bearer(token)))
    assert time.monotonic() - started < 5
    assert issuer.hits["jwks"] == 2


async def test_concurrent_unknown_kids_share_one_refetch(issuer, start_backend4):
    """The refetch is single-flight: 20 simultaneous unknown kids cost the issuer one request."""
    clock = Clock()
    client = await start_backend4(issuer.url, clock=clock)
    clock.now += 60
    tokens = [issuer.mint(kid=f"unknown-{i}") for i in range(20)]
    resps = await asyncio.gather(*(client.get("/users/me", headers=bearer(t)) for t in tokens))
    assert [r.status for r in resps] == [401] * 20
    assert issuer.hits["jwks"] == 2


async def test_rotated_key_is_picked_up_by_kid(issuer, start_backend4):
    """Key rotation (RFC 7517 §4.5 kid; catalog key-rotation): a token signed by a new key whose kid is not
    cached yet verifies after one refetch; the old key keeps working while published."""
    clock = Clock()
    client = await start_backend4(issuer.url, clock=clock)
    issuer.publish("k2")
    clock.now += 30
    assert (await client.get("/users/me", headers=bearer(issuer.mint("k2")))).status == 200
    assert (await client.get("/users/me", headers=bearer(issuer.mint("k1")))).status == 200
    assert issuer.hits["jwks"] == 2


async def test_withdrawn_key_stops_verifying_even_cached_tokens(issuer, start_backend4):
    """RFC 8725 §3.8 / key-rotation: once the issuer removes a key, tokens it signed are refused, including
    ones verified before (the verified-token cache is dropped when a key disappears)."""
    clock = Clock()
    client = await start_backend4(issuer.url, clock=clock)
    old = issuer.mint("k1")
    assert (await client.get("/users/me", headers=bearer(old))).status == 200
    issuer.jwks[:] = []
    issuer.publish("k2")
    clock.now += 30
    assert (await client.get("/users/me", headers=bearer(issuer.mint("k2")))).status == 200
    await assert_invalid_token(await client.get("/users/me", headers=bearer(old)))


async def test_issuer_down_cached_keys_keep_serving(issuer, start_backend4):
    """Availability: if the issuer is unreachable, backend4 keeps verifying with the keys it has (new
    tokens, not only cached verifications); an unknown kid is then still a clean 401, never a 500."""
    clock = Clock()
    client = await start_backend4(issuer.url, clock=clock)
    await issuer.stop()
    clock.now += 31
    assert (await client.get("/users/me", headers=bearer(issuer.mint()))).status == 200
    await assert_invalid_token(await client.get("/users/me", headers=bearer(issuer.mint(kid="rotated"))))
    assert (await client.get("/users/me", headers=bearer(issuer.mint()))).status == 200
    assert client.app[KEYSET].keys  # the failed refetch kept the cached keys


async def test_starts_with_issuer_down_and_recovers(start_backend4):
    """backend4 starts even if the issuer is down (no network at start-up in create_app): /health answers,
    a protected call is 503 temporarily_unavailable (not 401: the token may be fine), and once the issuer
    is up the keys are fetched and the same token works."""
    clock = Clock()
    issuer = LocalIssuer()
    issuer.publish("k1")
    client = await start_backend4(issuer.url, clock=clock)
    assert (await client.get("/health")).status == 200
    token = issuer.mint()
    resp = await client.get("/users/me", headers=bearer(token))
    assert resp.status == 503
    assert (await resp.json())["error"] == "temporarily_unavailable"
    assert resp.headers["Retry-After"] == "5"
    await issuer.start()
    try:
        clock.now += 5
        resp = await client.get("/users/me", headers=bearer(token))
        assert resp.status == 200, await resp.text()
    finally:
        await issuer.stop()


async def test_request_during_the_first_fetch_waits_for_it(start_backend4):
    """A request that arrives while the start-up JWKS fetch is still in flight waits for that fetch (and
    gets 200) instead of being turned away with 503 or starting a second fetch."""
    issuer = LocalIssuer(jwks_delay=0.5)
    issuer.publish("k1")
    await issuer.start()
    try:
        client = await start_backend4(issuer.url, clock=Clock(), wait=False)
        for _ in range(100):  # until the background fetch has asked for the JWKS
            if issuer.hits.get("jwks"):
                break
            await asyncio.sleep(0.01)
        resp = await client.get("/users/me", headers=bearer(issuer.mint()))
        assert resp.status == 200, await resp.text()
        assert issuer.hits["jwks"] == 1
    finally:
        await issuer.stop()


async def test_hanging_issuer_times_out_into_503(aiohttp_client, tmp_path):
    """A JWKS endpoint that never answers in time does not hang requests or the server: the fetch has a
    total timeout, and the answer is 503 temporarily_unavailable, never a 500."""
    issuer = LocalIssuer(jwks_delay=1.0)
    issuer.publish("k1")
    await issuer.start()
    try:
        app = backend4.create_app(make_settings(tmp_path, "backend4", upstream_issuer=issuer.url))
        app[KEYSET].timeout = 0.2
        app[KEYSET].clock = Clock()
        client = await aiohttp_client(app)
        await settled(app)
        resp = await client.get("/users/me", headers=bearer(issuer.mint()))
        assert resp.status == 503 and (await resp.json())["error"] == "temporarily_unavailable"
    finally:
        await issuer.stop()


async def test_no_kid_uses_the_only_key_but_not_one_of_several(issuer, start_backend4):
    """RFC 7515 §4.1.4: kid is optional. With a single published key the choice is unambiguous; with
    several, backend4 does not try them in turn (catalog key-kid-absent: 401 by policy)."""
    clock = Clock()
    client = await start_backend4(issuer.url, clock=clock)
    assert (await client.get("/users/me", headers=bearer(issuer.mint(kid=DROP)))).status == 200
    issuer.publish("k2")
    clock.now += 30
    await client.get("/users/me", headers=bearer(issuer.mint("k2")))  # refetch: now two keys
    await assert_invalid_token(await client.get("/users/me", headers=bearer(issuer.mint(kid=DROP))))


@pytest.mark.parametrize("members", [{"use": "enc"}, {"alg": "RS512"}, {"alg": "PS256"}, {"alg": "HS256"},
                                     {"key_ops": ["encrypt"]}, {"kty": "oct"}])
async def test_jwks_key_not_for_rs256_signatures_is_not_used(start_backend4, members):
    """RFC 8725 §3.1: "each key MUST be used with exactly one algorithm, and this MUST be checked when the
    cryptographic operation occurs"; RFC 7517 §4.2/§4.3: a key whose use is enc or whose key_ops exclude
    verify is not a verification key. A token signed by such a key is invalid_token."""
    issuer = LocalIssuer()
    issuer.publish("k1", **members)
    issuer.publish("k2")
    await issuer.start()
    try:
        client = await start_backend4(issuer.url)
        await assert_invalid_token(await client.get("/users/me", headers=bearer(issuer.mint("k1"))))
        assert (await client.get("/users/me", headers=bearer(issuer.mint("k2")))).status == 200
    finally:
        await issuer.stop()


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_short_rsa_key_is_not_used(start_backend4):
    """RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used with these algorithms." """
    issuer = LocalIssuer()
    issuer.jwks.append(jwk_of(rsa_key("short", 1024), "s"))
    await issuer.start()
    try:
        client = await start_backend4(issuer.url)
        token = jwt.encode(issuer.claims(), rsa_key("short", 1024), algorithm="RS256",
                           headers={"typ": "at+jwt", "kid": "s"})
        await assert_invalid_token(await client.get("/users/me", headers=bearer(token)))
        assert client.app[KEYSET].keys == {}
    finally:
        await issuer.stop()


async def test_duplicate_kid_is_ambiguous_and_not_used(start_backend4):
    """RFC 7517 §4.5: kids are meant to tell keys apart; two keys under one kid are not guessed between."""
    issuer = LocalIssuer()
    issuer.publish("k1", kid="same")
    issuer.publish("k2", kid="same")
    issuer.publish("k3")
    await issuer.start()
    try:
        client = await start_backend4(issuer.url)
        await assert_invalid_token(await client.get("/users/me", headers=bearer(issuer.mint("k1", kid="same"))))
    finally:
        await issuer.stop()


def test_usable_keys_filters_by_rfc8725():
    """Unit view of the JWKS filter: RSA, use sig, alg RS256, verify allowed, public only, >= 2048 bits."""
    good = jwk_of(rsa_key("k1"), "a")
    assert rsa_verification_key(good) is not None
    assert rsa_verification_key({k: v for k, v in good.items() if k not in ("use", "alg")}) is not None
    for bad in ({**good, "use": "enc"}, {**good, "alg": "RS384"}, {**good, "key_ops": ["sign"]},
                {**good, "d": "AQAB"}, {**good, "n": "not base64!"}, {**good, "e": 3}, "x", None,
                {**good, "kty": "EC"}):
        assert rsa_verification_key(bad) is None, bad
    assert set(usable_keys({"keys": [good, {**good, "kid": "b", "use": "enc"}, 7]})) == {"a"}
    from servers.common.discovery import DiscoveryError
    with pytest.raises(DiscoveryError):
        usable_keys({"nokeys": []})


# -- discovery -----------------------------------------------------------------------------------------
async def test_discovery_falls_back_to_openid_configuration(start_backend4):
    """RFC 8414 first, then OpenID Connect Discovery §4 (<issuer>/.well-known/openid-configuration)."""
    issuer = LocalIssuer(metadata_path="/.well-known/openid-configuration")
    issuer.publish("k1")
    await issuer.start()
    try:
        client = await start_backend4(issuer.url)
        assert (await client.get("/users/me", headers=bearer(issuer.mint()))).status == 200
    finally:
        await issuer.stop()


async def test_metadata_for_another_issuer_is_not_used(start_backend4):
    """RFC 8414 §3.3: "The issuer value returned MUST be identical to the authorization server's issuer
    identifier value into which the well-known URI string was inserted ... If these values are not
    identical, the data contained in the response MUST NOT be used." """
    issuer = LocalIssuer(metadata_issuer="https://evil.example")
    issuer.publish("k1")
    await issuer.start()
    try:
        client = await start_backend4(issuer.url)
        resp = await client.get("/users/me", headers=bearer(issuer.mint()))
        assert resp.status == 503
        assert issuer.hits.get("jwks", 0) == 0
    finally:
        await issuer.stop()


async def test_configured_jwks_uri_skips_discovery_requirement(start_backend4):
    """--jwks-uri: an issuer without metadata can be fronted (its JWKS location is a setting)."""
    issuer = LocalIssuer(metadata_path="/nothing-here")
    issuer.publish("k1")
    await issuer.start()
    try:
        client = await start_backend4(issuer.url, jwks_uri=issuer.url + "/keys/jwks.json")
        assert (await client.get("/users/me", headers=bearer(issuer.mint()))).status == 200
    finally:
        await issuer.stop()


async def test_garbage_jwks_is_unavailable_not_500(start_backend4):
    """A JWKS that is not JSON, not an object, or too big leaves backend4 without keys: 503, never 500."""
    issuer = LocalIssuer()
    issuer.jwks = "x" * (300 * 1024)  # type: ignore[assignment]
    await issuer.start()
    try:
        client = await start_backend4(issuer.url)
        assert (await client.get("/users/me", headers=bearer(issuer.mint()))).status == 503
    finally:
        await issuer.stop()


# -- /docs and CORS ------------------------------------------------------------------------------------
async def test_docs_run_authorization_code_with_pkce_at_the_issuer(issuer, start_backend4):
    """/docs: Swagger UI's Authorize runs Authorization Code + PKCE (RFC 7636) with the public client
    backend4-docs, at the endpoints the issuer's metadata names."""
    client = await start_backend4(issuer.url)
    doc = await (await client.get("/openapi.json")).json()
    flow = doc["components"]["securitySchemes"]["OAuth2"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == issuer.url + "/oauth/authorize"  # discovered, not guessed
    assert flow["tokenUrl"] == issuer.url + "/oauth/token"
    assert set(flow["scopes"]) == {"me", "items"}
    assert doc["paths"]["/users/me"]["get"]["security"] == [{"OAuth2": ["me"]}]
    init = await (await client.get("/docs/init.js")).text()
    assert '"clientId": "backend4-docs"' in init and '"usePkceWithAuthorizationCodeGrant": true' in init
    assert '"additionalQueryStringParams": {"resource": "%s"}' % AUD in init  # RFC 8707: a token for us
    assert (await client.get("/docs")).status == 200
    assert (await client.get("/docs/oauth2-redirect.html")).status == 200


async def test_cors_allows_the_frontend_origin_only(issuer, start_backend4):
    """Fetch standard CORS: the SPA's origin may send Authorization to the API and read answers, errors
    included (so it can show a 401); any other origin gets no CORS grant."""
    client = await start_backend4(issuer.url, frontend_urls=("http://spa.test:8443",))
    for origin in ("http://localhost:8080", "http://127.0.0.1:8080", "http://spa.test:8443"):
        pre = await client.options("/users/me", headers={"Origin": origin,
                                                         "Access-Control-Request-Method": "GET",
                                                         "Access-Control-Request-Headers": "authorization"})
        assert pre.status == 204
        assert pre.headers["Access-Control-Allow-Origin"] == origin
        assert pre.headers["Access-Control-Allow-Headers"] == "Authorization"
        assert "Access-Control-Allow-Credentials" not in pre.headers
        resp = await client.get("/users/me", headers={"Origin": origin})
        assert resp.status == 401 and resp.headers["Access-Control-Allow-Origin"] == origin
        assert "WWW-Authenticate" in resp.headers["Access-Control-Expose-Headers"]
    pre = await client.options("/users/me", headers={"Origin": "http://evil.example",
                                                     "Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in pre.headers
    resp = await client.get("/users/me", headers={"Origin": "http://evil.example", **bearer(issuer.mint())})
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert "Origin" in resp.headers["Vary"]


async def test_unknown_path_is_404_json_and_post_is_405(issuer, start_backend4):
    """Bad input gets a clear JSON error with the right status: an unknown path 404, a wrong method 405."""
    client = await start_backend4(issuer.url)
    resp = await client.get("/favicon.ico")
    assert resp.status == 404 and (await resp.json())["error"] == "not_found"
    resp = await client.post("/users/me", headers=bearer(issuer.mint()))
    assert resp.status == 405 and (await resp.json())["error"] == "method_not_allowed"


async def test_cached_token_fast_path_keeps_every_rfc6750_rule(issuer, start_backend4):
    """The fast path for a token verified before (servers/common/bearer.cached_principal) must not weaken
    RFC 6750: a second Authorization header or a token also in the query is still 400 invalid_request
    (§2: "MUST NOT use more than one method"), a malformed credential still 401 invalid_token, and the
    scheme still compares case-insensitively."""
    client = await start_backend4(issuer.url)
    token = issuer.mint("k1")
    assert (await client.get("/users/me", headers=bearer(token))).status == 200  # now cached
    assert (await client.get("/users/me", headers={"Authorization": f"bEaReR {token}"})).status == 200

    from multidict import CIMultiDict
    twice = CIMultiDict([("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")])
    resp = await client.get("/users/me", headers=twice)
    assert resp.status == 400 and resp.headers["WWW-Authenticate"] == 'Bearer error="invalid_request"'
    resp = await client.get(f"/users/me?access_token={token}", headers=bearer(token))
    assert resp.status == 400 and resp.headers["WWW-Authenticate"] == 'Bearer error="invalid_request"'
    for malformed in (f"Bearer  {token}", f"Bearer {token},x", f"Bearer {token}.x", f"Bearer{token}"):
        resp = await client.get("/users/me", headers={"Authorization": malformed})
        assert resp.status == 401, malformed
        assert resp.headers["WWW-Authenticate"] in ('Bearer error="invalid_token"', "Bearer"), malformed
