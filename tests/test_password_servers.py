"""The password servers (backend, backend2, backend3): RFC 6749 §4.3 / §5.2 token endpoint and RFC 6750
protected resources, exactly. Each test names the rule it checks."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time

import bcrypt
import jwt
import pytest

from servers import backend, backend2, backend3
from servers.common.app import STORE
from servers.common.keys import load_hs_keys
from tests.support.jose import b64
from tests.support.settings import make_settings

FACTORIES = {"backend": backend.create_app, "backend2": backend2.create_app, "backend3": backend3.create_app}
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
INVALID_TOKEN = 'Bearer error="invalid_token"'


@pytest.fixture
def start(aiohttp_client, tmp_path):
    """Start a server by name on a throwaway data/keys dir (same dir for every call: restart = call again)."""
    async def _start(name: str, **overrides):
        return await aiohttp_client(FACTORIES[name](make_settings(tmp_path, name, **overrides)))
    return _start


async def login(client, username="johndoe", password="secret", **extra):
    return await client.post("/token", data={"grant_type": "password", "username": username,
                                             "password": password, **extra})


async def token_for(client, **extra) -> str:
    resp = await login(client, **extra)
    assert resp.status == 200, await resp.text()
    return (await resp.json())["access_token"]


def assert_no_store(resp):
    for k, v in NO_STORE.items():
        assert resp.headers.get(k) == v, k


async def assert_invalid_token(resp):
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == INVALID_TOKEN
    assert (await resp.json())["error"] == "invalid_token"


# -- token endpoint ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", FACTORIES)
async def test_password_grant_issues_bearer_token_with_no_store(start, name):
    """RFC 6749 §5.1: token_type, expires_in; "MUST include ... Cache-Control ... no-store"."""
    client = await start(name)
    resp = await login(client)
    assert resp.status == 200
    assert_no_store(resp)
    body = await resp.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 1800
    assert isinstance(body["access_token"], str) and len(body["access_token"]) >= 22


@pytest.mark.parametrize("name", FACTORIES)
async def test_wrong_password_unknown_user_and_disabled_user_are_one_invalid_grant(start, name):
    """RFC 6749 §5.2 invalid_grant; no enumeration: the same status and body for every cause."""
    client = await start(name)
    answers = []
    for user, pw in (("johndoe", "wrong"), ("nobody", "secret"), ("alice", "secret2")):
        resp = await login(client, user, pw)
        assert resp.status == 400
        assert_no_store(resp)
        answers.append(await resp.json())
    assert answers[0]["error"] == "invalid_grant"
    assert answers[0] == answers[1] == answers[2]


async def test_unknown_user_still_costs_one_bcrypt_check(start, monkeypatch):
    """No timing oracle: an unknown username runs bcrypt once, like a wrong password."""
    client = await start("backend")
    calls = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda p, h: calls.append(1) or real(p, h))
    await login(client, "nobody", "x")
    await login(client, "johndoe", "x")
    assert len(calls) == 2


@pytest.mark.parametrize("body, error", [
    ({"username": "johndoe", "password": "secret"}, "invalid_request"),                     # no grant_type
    ({"grant_type": "password", "password": "secret"}, "invalid_request"),                  # no username
    ({"grant_type": "password", "username": "johndoe"}, "invalid_request"),                 # no password
    ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
    ({"grant_type": "authorization_code", "code": "x"}, "unsupported_grant_type"),
    ({"grant_type": "urn:example:unknown"}, "unsupported_grant_type"),
])
async def test_token_endpoint_errors_follow_rfc6749_5_2(start, body, error):
    """RFC 6749 §5.2: invalid_request for a missing parameter, unsupported_grant_type otherwise."""
    client = await start("backend2")
    resp = await client.post("/token", data=body)
    assert resp.status == 400
    assert (await resp.json())["error"] == error
    assert_no_store(resp)


@pytest.mark.parametrize("raw", [
    "grant_type=password&username=johndoe&password=secret&password=secret",
    "grant_type=password&grant_type=password&username=johndoe&password=secret",
])
async def test_repeated_parameter_is_invalid_request(start, raw):
    """RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than once"."""
    client = await start("backend3")
    resp = await client.post("/token", data=raw, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_request"


@pytest.mark.parametrize("body, ctype", [
    (b"grant_type=password&username=\xff\xfe&password=x", "application/x-www-form-urlencoded"),  # not UTF-8
    (b"grant_type=password&username=%ff%fe&password=x", "application/x-www-form-urlencoded"),    # %-encoded
    (b'{"grant_type": "password"}', "application/json"),
    (b"grant_type=password&&&===&", "application/x-www-form-urlencoded"),
])
async def test_broken_or_non_utf8_form_is_400_not_500(start, body, ctype):
    """Bad input gets a clear 400, never a 500 or a traceback."""
    client = await start("backend")
    resp = await client.post("/token", data=body, headers={"Content-Type": ctype})
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_request"


async def test_body_over_64_kib_is_413(start):
    client = await start("backend")
    resp = await client.post("/token", data=b"a=" + b"x" * (64 * 1024),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 413
    assert (await resp.json())["error"] == "payload_too_large"


async def test_get_on_token_endpoint_is_405_json(start):
    """RFC 6749 §3.2: the client MUST use POST."""
    client = await start("backend")
    resp = await client.get("/token?grant_type=password&username=johndoe&password=secret")
    assert resp.status == 405
    assert (await resp.json())["error"] == "method_not_allowed"
    assert "POST" in resp.headers["Allow"]


async def test_unknown_path_is_404_json(start):
    client = await start("backend")
    resp = await client.get("/nope")
    assert resp.status == 404
    assert await resp.json() == {"error": "not_found", "error_description": "No such resource."}


# -- throttling --------------------------------------------------------------------------------------
async def test_five_failures_for_a_username_give_429_until_the_window_passes_even_across_restart(start):
    """RFC 6749 §4.3.2: "MUST protect the endpoint against brute force attacks"."""
    client = await start("backend2")
    for _ in range(5):
        assert (await login(client, "johndoe", "wrong")).status == 400
    resp = await login(client, "johndoe", "secret")  # even the right password is refused now
    assert resp.status == 429
    assert 290 <= int(resp.headers["Retry-After"]) <= 301
    assert (await resp.json())["error"] == "too_many_requests"
    assert_no_store(resp)
    await client.close()
    again = await start("backend2")  # restart on the same data directory
    assert (await login(again, "johndoe", "secret")).status == 429


async def test_five_failures_from_one_address_throttle_every_username(start):
    """Spraying passwords over many usernames from one client address is throttled too."""
    client = await start("backend")
    for i in range(5):
        assert (await login(client, f"user{i}", "guess")).status == 400
    assert (await login(client, "johndoe", "secret")).status == 429


async def test_throttle_window_expiry_lets_the_user_in_again(start):
    client = await start("backend", throttle_window=1)
    for _ in range(5):
        await login(client, "johndoe", "wrong")
    assert (await login(client)).status == 429
    time.sleep(1.1)
    assert (await login(client)).status == 200


# -- protected resources (RFC 6750) ------------------------------------------------------------------
@pytest.mark.parametrize("name", FACTORIES)
async def test_users_me_returns_the_public_user_without_password_hash(start, name):
    client = await start(name)
    token = await token_for(client, scope="me") if name == "backend3" else await token_for(client)
    resp = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200
    assert await resp.json() == {"username": "johndoe", "full_name": "John Doe",
                                 "email": "johndoe@example.com", "disabled": False}
    slash = await client.get("/users/me/", headers={"Authorization": f"Bearer {token}"}, allow_redirects=False)
    assert slash.status == 200


@pytest.mark.parametrize("name", FACTORIES)
async def test_no_authorization_header_gets_bare_bearer_challenge(start, name):
    """RFC 6750 §3.1: a request lacking authentication information SHOULD NOT include an error code."""
    client = await start(name)
    resp = await client.get("/users/me")
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer  abc", "Bearer a b", 'Bearer a"b',
                                    "Bearer abc,def", "Bearer \u00e9t\u00e9"])
async def test_malformed_bearer_header_is_invalid_token(start, header):
    """RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; anything else fails as invalid_token."""
    client = await start("backend2")
    resp = await client.get("/users/me", headers={"Authorization": header.encode("utf-8").decode("latin-1")})
    await assert_invalid_token(resp)


@pytest.mark.parametrize("scheme", ["Basic", "Token", "JWT"])
async def test_other_scheme_gets_a_bearer_challenge(start, scheme):
    """RFC 6750 §3: the 401 carries a Bearer challenge whatever scheme was tried."""
    client = await start("backend2")
    token = await token_for(client)
    resp = await client.get("/users/me", headers={"Authorization": f"{scheme} {token}"})
    assert resp.status == 401
    assert resp.headers["WWW-Authenticate"] == "Bearer"


async def test_bearer_scheme_is_case_insensitive(start):
    """RFC 9110 §11.1: the auth-scheme is case-insensitive."""
    client = await start("backend2")
    token = await token_for(client)
    for scheme in ("bearer", "BEARER", "bEARER"):
        assert (await client.get("/users/me", headers={"Authorization": f"{scheme} {token}"})).status == 200


async def test_token_in_header_and_query_is_invalid_request(start):
    """RFC 6750 §2: "Clients MUST NOT use more than one method to transmit the token"."""
    client = await start("backend2")
    token = await token_for(client)
    resp = await client.get(f"/users/me?access_token={token}", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 400
    assert resp.headers["WWW-Authenticate"] == 'Bearer error="invalid_request"'
    only_query = await client.get(f"/users/me?access_token={token}")
    assert only_query.status == 401 and only_query.headers["WWW-Authenticate"] == "Bearer"


async def test_unknown_opaque_token_is_invalid_token(start):
    client = await start("backend")
    resp = await client.get("/users/me", headers={"Authorization": "Bearer " + "A" * 43})
    await assert_invalid_token(resp)


async def test_opaque_token_has_at_least_128_bits_and_survives_restart(start):
    """Nothing lost on restart: the opaque token is stored server-side (by hash) in SQLite."""
    client = await start("backend")
    token = await token_for(client)
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 16
    await client.close()
    again = await start("backend")
    assert (await again.get("/users/me", headers={"Authorization": f"Bearer {token}"})).status == 200


@pytest.mark.parametrize("name", FACTORIES)
async def test_token_of_user_disabled_after_issue_is_invalid_token(start, name):
    client = await start(name)
    token = await token_for(client, scope="me") if name == "backend3" else await token_for(client)
    await client.server.app[STORE].update_user("johndoe", disabled=True)
    await assert_invalid_token(await client.get("/users/me", headers={"Authorization": f"Bearer {token}"}))


# -- HS256 JWT policy (backend2, backend3) ------------------------------------------------------------
def forge_hs(secret: bytes, claims: dict, header: dict | None = None) -> str:
    header = header or {"alg": "HS256", "typ": "at+jwt"}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


@pytest.fixture
async def hs_server(start, tmp_path):
    client = await start("backend2")
    keys = load_hs_keys(tmp_path / "keys", create=False)
    base = f"http://127.0.0.1:9000"
    now = int(time.time())
    claims = {"iss": base, "aud": base, "sub": "johndoe", "iat": now, "exp": now + 300, "jti": "j1"}
    return client, keys.signing_key, claims


async def test_backend2_token_carries_iss_aud_sub_iat_exp_jti(start, tmp_path):
    client = await start("backend2")
    token = await token_for(client)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "HS256" and header["typ"] == "at+jwt"
    assert set(claims) >= {"iss", "aud", "sub", "iat", "exp", "jti"}
    assert claims["exp"] - claims["iat"] == 1800


async def test_valid_forged_control_token_is_accepted(hs_server):
    client, secret, claims = hs_server
    resp = await client.get("/users/me", headers={"Authorization": f"Bearer {forge_hs(secret, claims)}"})
    assert resp.status == 200


@pytest.mark.parametrize("change", [
    {"exp": int(time.time()) - 3600},            # expired (RFC 7519 §4.1.4)
    {"exp": int(time.time()) - 45},              # beyond the 30 s leeway
    {"aud": "https://other-rs.example"},         # wrong audience (RFC 7519 §4.1.3)
    {"aud": ["https://other-rs.example"]},
    {"iss": "https://evil.example"},             # wrong issuer
    {"iss": "http://127.0.0.1:900"},             # issuer prefix (CVE-2024-53861)
    {"nbf": int(time.time()) + 3600},            # not yet valid
    {"iat": int(time.time()) + 3600},            # issued in the future
    {"exp": "9999999999"},                       # NumericDate as a string
    {"exp": True},
    {"sub": 123},
    {"sub": ""},
])
async def test_claim_failures_are_invalid_token(hs_server, change):
    """RFC 9068 §4 / RFC 6750 §3.1: any validation failure is 401 invalid_token."""
    client, secret, claims = hs_server
    token = forge_hs(secret, {**claims, **change})
    await assert_invalid_token(await client.get("/users/me", headers={"Authorization": f"Bearer {token}"}))


@pytest.mark.parametrize("missing", ["exp", "iat", "iss", "aud", "sub", "jti"])
async def test_missing_required_claim_is_invalid_token(hs_server, missing):
    """RFC 9068 §2.2: exp, iat, iss, aud, sub, jti are REQUIRED."""
    client, secret, claims = hs_server
    token = forge_hs(secret, {k: v for k, v in claims.items() if k != missing})
    await assert_invalid_token(await client.get("/users/me", headers={"Authorization": f"Bearer {token}"}))


@pytest.mark.parametrize("header", [
    {"alg": "none", "typ": "at+jwt"},
    {"alg": "HS512", "typ": "at+jwt"},
    {"alg": "hs256", "typ": "at+jwt"},
    {"alg": "HS256", "typ": "JWT"},
    {"alg": "HS256"},
    {"alg": "HS256", "typ": "at+jwt", "crit": ["urn:x:unknown"], "urn:x:unknown": 1},
    {"alg": "HS256", "typ": "at+jwt", "jku": "http://127.0.0.1:1/jwks"},
    {"alg": "HS256", "typ": "at+jwt", "kid": "../../../../dev/null"},
])
async def test_header_policy_alg_and_typ_are_fixed_by_the_server(hs_server, header):
    """RFC 8725 §3.1: algorithms come from the server's allow-list, never from the token."""
    client, secret, claims = hs_server
    token = forge_hs(secret, claims, header)
    if header["alg"] == "none":
        token = token.rsplit(".", 1)[0] + "."
    await assert_invalid_token(await client.get("/users/me", headers={"Authorization": f"Bearer {token}"}))


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-4],                                         # truncated signature
    lambda t: t.rsplit(".", 1)[0] + ".",                      # null signature
    lambda t: t + "==",                                       # padding
    lambda t: t.replace(".", ".\n", 1),                       # whitespace
    lambda t: "x" * 8000,                                     # long junk within the header limit
    lambda t: ".".join(t.split(".")[:2]),                     # two segments
])
async def test_malformed_tokens_are_invalid_token(hs_server, mangle):
    client, secret, claims = hs_server
    token = mangle(forge_hs(secret, claims))
    resp = await client.get("/users/me", headers={"Authorization": f"Bearer {token}".replace("\n", "%0A")})
    await assert_invalid_token(resp)


async def test_oversized_authorization_header_is_a_fast_4xx_and_not_logged(hs_server, caplog):
    """fmt-dos-size: a header beyond the HTTP parser's limit is refused (400/431), never a 5xx, and the
    redaction filter keeps its content out of the log."""
    from cli import setup_logging
    setup_logging("info")
    client, secret, claims = hs_server
    caplog.set_level(logging.INFO)
    token = "eyJ" + "x" * 20000
    resp = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status in (400, 431)
    assert "xxxxxxxxxx" not in caplog.text


# -- scopes (backend3) -------------------------------------------------------------------------------
async def test_backend3_grants_requested_scopes_within_the_users(start):
    """RFC 6749 §3.3: the granted scope is returned; the token's scope claim is a space-separated string."""
    client = await start("backend3")
    resp = await login(client, scope="me")
    body = await resp.json()
    assert body["scope"] == "me"
    assert jwt.decode(body["access_token"], options={"verify_signature": False})["scope"] == "me"


async def test_backend3_unknown_scope_is_invalid_scope(start):
    client = await start("backend3")
    resp = await login(client, scope="me admin")
    assert resp.status == 400
    assert (await resp.json())["error"] == "invalid_scope"


@pytest.mark.parametrize("scope, path, needed", [
    ("items", "/users/me", "me"),
    ("me", "/users/me/items", "me items"),
    ("", "/users/me/items", "me items"),
])
async def test_missing_scope_is_403_insufficient_scope_naming_the_scope(start, scope, path, needed):
    """RFC 6750 §3.1: insufficient_scope, 403, "MAY include the scope attribute" (we always do)."""
    client = await start("backend3")
    token = await token_for(client, **({"scope": scope} if scope else {}))
    resp = await client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 403
    assert resp.headers["WWW-Authenticate"] == f'Bearer error="insufficient_scope", scope="{needed}"'
    assert (await resp.json())["error"] == "insufficient_scope"


async def test_scoped_routes_work_with_the_scopes(start):
    client = await start("backend3")
    token = await token_for(client, scope="me items")
    auth = {"Authorization": f"Bearer {token}"}
    items = await client.get("/users/me/items", headers=auth)
    assert items.status == 200
    assert await items.json() == [{"item_id": "Foo", "owner": "johndoe"}, {"item_id": "Bar", "owner": "johndoe"}]
    bare = await token_for(client)  # no scope requested: a token with no scope
    assert (await client.get("/status", headers={"Authorization": f"Bearer {bare}"})).status == 200
    assert (await client.get("/status/", headers={"Authorization": f"Bearer {bare}"})).status == 200


async def test_scope_array_claim_grants_nothing(start, tmp_path):
    """RFC 9068 §2.2.3: scope is a space-delimited string; a JSON array is not a scope."""
    client = await start("backend3")
    secret = load_hs_keys(tmp_path / "keys", create=False).signing_key
    now = int(time.time())
    base = "http://127.0.0.1:9000"
    token = forge_hs(secret, {"iss": base, "aud": base, "sub": "johndoe", "iat": now, "exp": now + 60,
                              "jti": "x", "scope": ["me"]})
    await assert_invalid_token(await client.get("/users/me", headers={"Authorization": f"Bearer {token}"}))


# -- health, docs, logs ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", FACTORIES)
async def test_health_docs_and_openapi(start, name):
    client = await start(name)
    assert await (await client.get("/health")).json() == {"status": "ok"}
    doc = await (await client.get("/openapi.json")).json()
    flow = doc["components"]["securitySchemes"]["OAuth2"]["flows"]["password"]
    assert flow["tokenUrl"] == "/token"
    if name == "backend3":
        assert flow["scopes"] == {"me": "Read information about the current user", "items": "Read items"}
        assert doc["paths"]["/users/me/items"]["get"]["security"] == [{"OAuth2": ["me", "items"]}]
    page = await client.get("/docs")
    assert page.status == 200 and "swagger-ui-bundle.js" in await page.text()
    assert (await client.get("/docs/static/swagger-ui-bundle.js")).status == 200
    assert (await client.get("/docs/oauth2-redirect.html")).status == 200


def test_access_log_line_is_method_path_status_duration_only():
    """One line per request, without query string (codes, tokens) or headers."""
    from unittest.mock import Mock

    from servers.common.middleware import AccessLogger
    records = []
    logger = logging.getLogger("test.access")
    logger.setLevel(logging.INFO)
    logger.addHandler(type("H", (logging.Handler,), {"emit": lambda self, r: records.append(r.getMessage())})())
    request = Mock(method="GET", path="/users/me", query_string="access_token=eyJsecret")
    AccessLogger(logger, "").log(request, Mock(status=200), 0.0012)
    assert records == ["GET /users/me 200 1.2ms"]


def test_redaction_filter_hides_credentials_in_any_log_record():
    from cli import RedactSecrets
    record = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1,
                               "bad line %s", ("b'Bearer eyJhbGciOi.abc.def' password=hunter2",), None)
    RedactSecrets().filter(record)
    assert "eyJhbGciOi" not in record.getMessage() and "hunter2" not in record.getMessage()


async def test_logs_never_contain_tokens_or_passwords(start, caplog):
    caplog.set_level(logging.DEBUG)
    client = await start("backend3")
    token = await token_for(client, scope="me")
    await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
    await client.get("/users/me", headers={"Authorization": f"Bearer {token[:-3]}abc"})
    await login(client, "johndoe", "hunter2-wrong")
    text = caplog.text
    assert token not in text and token[-20:] not in text
    assert "hunter2-wrong" not in text
