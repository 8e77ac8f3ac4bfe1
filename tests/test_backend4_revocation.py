"""Revocation reaches backend4: it polls the issuer's revocation list (oauth-proxy ``GET /revocations``,
advertised as ``revocation_list_endpoint``) and refuses the listed jtis, cached verifications included.

The first tests run the real oauth-proxy and backend4 (``run.py serve``) and revoke for real: ``POST /revoke``
(RFC 7009) and a replayed authorization code (RFC 6749 §4.1.2). The others use an in-process issuer to pin
the details: conditional polling, the last list kept while the issuer is down, another issuer's list
ignored, entries kept until their exp."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import urllib.request
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web

from servers import backend4
from servers.backend4 import REVOCATIONS
from servers.common import pkce
from servers.common.settings import ConfigError
from tests.support.issuer import (
    INVALID_TOKEN,
    LocalIssuer,
    assert_invalid_token,
    bearer,
    client_credentials,
    get,
    settled,
)
from tests.support.proxy import get_code, redeem
from tests.support.settings import free_port, live_server, make_settings

POLL = 1.0  # --revocation-poll-interval of the live backend4
MARGIN = 4.0  # process scheduling on a shared 2-core machine


def revoke(proxy: str, keys_dir, token: str) -> int:
    secret = (keys_dir / "client-secret-m2m").read_text().strip()
    req = urllib.request.Request(proxy + "/revoke", data=f"token={token}".encode(), method="POST", headers={
        "Authorization": "Basic " + base64.b64encode(f"m2m:{secret}".encode()).decode()})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


def wait_for_401(url: str, token: str, within: float) -> tuple[float, dict, dict]:
    """Poll the API (not a fixed sleep) until the token is refused; fail after ``within`` seconds."""
    started = time.monotonic()
    while True:
        status, headers, body = get(url, token)
        if status != 200:
            return time.monotonic() - started, headers, {"status": status, **body}
        if time.monotonic() - started > within:
            raise AssertionError(f"the revoked token still works after {within} s")
        time.sleep(0.1)


@contextlib.contextmanager
def stack(tmp_path):
    """The real proxy and a backend4 that polls its revocation list every POLL seconds."""
    b4_port = free_port()
    b4_url = f"http://127.0.0.1:{b4_port}"
    with contextlib.ExitStack() as es:
        proxy_cm = live_server("oauth-proxy", tmp_path, "--resource-url", b4_url)
        proxy = es.enter_context(proxy_cm)
        api = es.enter_context(live_server("backend4", tmp_path, "--upstream-issuer", proxy,
                                           "--revocation-poll-interval", str(POLL), port=b4_port))
        yield proxy, api, proxy_cm


def test_token_revoked_at_the_proxy_is_refused_by_backend4(tmp_path):
    """RFC 7009 §2.1 revocation made visible to an offline-verifying resource server: after POST /revoke at
    the proxy, backend4 answers 401 invalid_token (RFC 6750 §3.1 "The access token provided is ... revoked")
    within its poll interval, although it had verified and cached the token before; another token keeps
    working; and when the proxy goes down the last list is still applied."""
    with stack(tmp_path) as (proxy, api, proxy_cm):
        doomed = client_credentials(proxy, tmp_path / "keys", "me")["access_token"]
        other = client_credentials(proxy, tmp_path / "keys", "me")["access_token"]
        assert get(api + "/users/me", doomed)[0] == 200  # verified and cached
        assert get(api + "/users/me", other)[0] == 200
        assert revoke(proxy, tmp_path / "keys", doomed) == 200
        took, headers, body = wait_for_401(api + "/users/me", doomed, POLL + MARGIN)
        assert body["status"] == 401 and body["error"] == "invalid_token", body
        assert headers["WWW-Authenticate"] == INVALID_TOKEN
        assert get(api + "/users/me", other)[0] == 200
        proxy_cm.__exit__(None, None, None)  # the proxy goes down: the list we have keeps being applied
        time.sleep(2 * POLL)  # at least one failed poll (asserting that nothing changes needs a wait)
        assert get(api + "/users/me", doomed)[0] == 401
        assert get(api + "/users/me", other)[0] == 200  # and the cached keys keep verifying


async def test_code_replay_revocation_reaches_backend4(tmp_path):
    """RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization server MUST deny
    the request and SHOULD revoke (when possible) all tokens previously issued based on that authorization
    code": the access token of the first redemption is then refused by backend4 too (401 invalid_token)."""
    with stack(tmp_path) as (proxy, api, _):
        async with aiohttp.ClientSession(base_url=proxy, cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            verifier = pkce.new_verifier()
            got = await get_code(s, code_challenge=pkce.s256(verifier))
            first = await redeem(s, got["code"], verifier)
            assert first.status == 200, await first.text()
            token = (await first.json())["access_token"]
            status, _, body = await asyncio.to_thread(get, api + "/users/me", token)
            assert status == 200 and body["username"] == "johndoe", body
            replay = await redeem(s, got["code"], verifier)
            assert replay.status == 400 and (await replay.json())["error"] == "invalid_grant"
        _, headers, body = await asyncio.to_thread(wait_for_401, api + "/users/me", token, POLL + MARGIN)
        assert body["status"] == 401 and body["error"] == "invalid_token", body
        assert headers["WWW-Authenticate"] == INVALID_TOKEN


# -- in-process details ---------------------------------------------------------------------------------
@dataclass
class ListingIssuer(LocalIssuer):
    """LocalIssuer plus a revocation list with an ETag (RFC 9110 §8.8.3), counting full and 304 answers."""
    listed: list | None = None
    list_issuer: str | None = None
    down: bool = False

    def app(self) -> web.Application:
        app = super().app()

        async def revocations(request: web.Request) -> web.Response:
            if self.down:
                return web.json_response({"error": "temporarily_unavailable"}, status=503)
            body = json.dumps({"issuer": self.list_issuer or self.url, "revoked": self.listed or []})
            etag = '"%d"' % hash(body)
            if request.headers.get("If-None-Match") == etag:
                self.hits["304"] = self.hits.get("304", 0) + 1
                return web.Response(status=304, headers={"ETag": etag})
            self.hits["list"] = self.hits.get("list", 0) + 1
            return web.Response(text=body, content_type="application/json", headers={"ETag": etag})
        app.router.add_get("/revocations", revocations)
        return app


@pytest.fixture
async def listing():
    iss = ListingIssuer()
    iss.extra_metadata = {"revocation_list_endpoint": iss.url + "/revocations"}
    iss.publish("k1")
    await iss.start()
    yield iss
    await iss.stop()


@pytest.fixture
def start(aiohttp_client, tmp_path):
    async def _start(issuer: LocalIssuer, **overrides):
        app = backend4.create_app(make_settings(tmp_path, "backend4", upstream_issuer=issuer.url,
                                                revocation_poll_interval=3600.0, **overrides))
        client = await aiohttp_client(app)
        await settled(app)
        return client
    return _start


async def test_listed_jti_is_invalid_token_and_leaves_the_cache(listing, start):
    """RFC 6750 §3.1 invalid_token for a revoked token, whether or not it was verified (and cached) before;
    the poll is conditional (If-None-Match: an unchanged list costs a 304)."""
    client = await start(listing)
    revs = client.app[REVOCATIONS]
    assert revs.uri == listing.url + "/revocations"  # from the issuer's metadata
    doomed = listing.mint(jti="doomed")
    assert (await client.get("/users/me", headers=bearer(doomed))).status == 200
    listing.listed = [{"jti": "doomed", "exp": time.time() + 300}]
    assert await revs.poll()
    assert not any(c.get("jti") == "doomed" for c, _ in client.app[backend4.VERIFIER]._cache.values())
    await assert_invalid_token(await client.get("/users/me", headers=bearer(doomed)))
    assert (await client.get("/users/me", headers=bearer(listing.mint(jti="fine")))).status == 200
    assert await revs.poll()
    assert listing.hits.get("304") == 1


async def test_issuer_down_keeps_the_last_list_and_entries_live_until_exp(listing, start):
    """The last list keeps being applied while the issuer cannot be reached; an entry stays until its token
    expires even when the list forgets it, and is dropped after exp (+ leeway)."""
    client = await start(listing)
    revs = client.app[REVOCATIONS]
    listing.listed = [{"jti": "a", "exp": time.time() + 300}, {"jti": "b", "exp": time.time() - 3600}]
    assert await revs.poll()
    assert revs.is_revoked("a") and not revs.is_revoked("b")  # b expired long ago: pruned
    listing.down = True
    assert not await revs.poll()
    await assert_invalid_token(await client.get("/users/me", headers=bearer(listing.mint(jti="a"))))
    listing.down, listing.listed = False, []
    assert await revs.poll()
    assert revs.is_revoked("a")  # forgotten by the list, not by us: its token has not expired


async def test_list_of_another_issuer_or_malformed_entries_are_not_used(listing, start):
    """The list must be the trusted issuer's (like RFC 8414 §3.3 for metadata); malformed entries are
    skipped one by one; a body without a revoked array is a failed poll, not an empty list."""
    client = await start(listing)
    revs = client.app[REVOCATIONS]
    listing.listed = [{"jti": "x", "exp": time.time() + 300}]
    listing.list_issuer = "https://evil.example"
    assert not await revs.poll() and not revs.is_revoked("x")
    listing.list_issuer = None
    listing.listed = [{"jti": 7, "exp": 1}, {"jti": "y", "exp": "soon"}, {"jti": "z", "exp": True}, "junk",
                      {"jti": "", "exp": time.time() + 300}, {"jti": "ok", "exp": time.time() + 300}]
    assert await revs.poll()
    assert set(revs.revoked) == {"ok"}


async def test_configured_revocation_list_uri_and_interval(listing, start, tmp_path):
    """--revocation-list-uri overrides the metadata; the poll interval is a bounded setting (a bad value is a
    configuration error at start-up, exit 2 from the CLI)."""
    client = await start(listing, revocation_list_uri=listing.url + "/revocations?x=1")
    assert client.app[REVOCATIONS].uri == listing.url + "/revocations?x=1"
    for bad in (0, -1, float("nan"), 1e9):
        with pytest.raises(ConfigError):
            backend4.create_app(make_settings(tmp_path, "backend4", revocation_poll_interval=bad))


async def test_revocation_list_answers_304_to_its_etag(aiohttp_client, tmp_path):
    """RFC 9110 §13.1.2: If-None-Match with the current ETag gets 304, so polling is cheap."""
    from servers.oauth_proxy import create_app as proxy_app

    client = await aiohttp_client(proxy_app(make_settings(tmp_path, "oauth-proxy", port=9001)))
    first = await client.get("/revocations")
    assert first.status == 200
    etag = first.headers["ETag"]
    again = await client.get("/revocations", headers={"If-None-Match": etag})
    assert again.status == 304 and again.headers["ETag"] == etag
    other = await client.get("/revocations", headers={"If-None-Match": '"something-else"'})
    assert other.status == 200
