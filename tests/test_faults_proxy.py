"""Faults on oauth-proxy: Redis down -> 503 JSON and recovery by itself; a proxy restarted
mid-flow (between login and code redemption, between two refreshes) loses no code, refresh token, client
or user, on SQLite and on Redis. Real proxies (``run.py serve oauth-proxy``) and a real redis-server."""
from __future__ import annotations

import aiohttp
import pytest

from servers.common import pkce

from .conftest import free_port, live_server
from .support.proxy_flow import code_via, http_fixture, m2m_auth, redeem, refresh  # noqa: F401
from .support.redis_util import RedisServer, assert_temporarily_unavailable


async def answer(resp: aiohttp.ClientResponse) -> tuple[int, dict, dict]:
    try:
        body = await resp.json(content_type=None)
    except ValueError:
        body = {}
    return resp.status, resp.headers, body


async def client_credentials(http, base: str, tmp_path) -> tuple[int, dict]:
    async with http.post(base + "/token", data={"grant_type": "client_credentials", "scope": "me"},
                         headers=m2m_auth(tmp_path)) as resp:
        return resp.status, await resp.json()


async def test_proxy_answers_503_while_redis_is_down_and_recovers_by_itself(tmp_path, http):
    """Redis down: the proxy answers 503 with a JSON error (never a 500 or a hang) and recovers by itself
    when Redis returns (RFC 6749 §5.2 temporarily_unavailable). A refresh attempted during the
    outage does not burn the refresh token: it works once Redis is back."""
    with RedisServer(tmp_path / "redis", persist=True) as redis_srv, \
            live_server("oauth-proxy", tmp_path, "--store", redis_srv.url) as base:
        verifier = pkce.new_verifier()
        status, tokens = await redeem(http, base, await code_via(http, base, base, base, verifier), verifier)
        assert status == 200

        redis_srv.kill()
        async with http.post(base + "/token", data={"grant_type": "refresh_token", "client_id": "frontend",
                                                    "refresh_token": tokens["refresh_token"]}) as resp:
            assert_temporarily_unavailable(*await answer(resp))
        # A complete authorization request must park itself in the store (the client record may come from
        # the registry's short cache, so only a request that needs the store proves the 503).
        params = {"client_id": "frontend", "redirect_uri": "http://localhost:8080/callback",
                  "response_type": "code", "state": "s", "code_challenge": pkce.s256(pkce.new_verifier()),
                  "code_challenge_method": "S256", "scope": "me"}
        async with http.get(base + "/authorize", params=params, allow_redirects=False) as resp:
            assert_temporarily_unavailable(*await answer(resp))
        async with http.get(base + "/health") as resp:
            assert resp.status == 200

        redis_srv.start()
        status, rotated = await refresh(http, base, tokens["refresh_token"])
        assert status == 200, rotated
        assert (await client_credentials(http, base, tmp_path))[0] == 200


@pytest.mark.parametrize("store", ["sqlite", "redis"])
async def test_proxy_restarted_mid_flow_loses_no_code_refresh_token_client_or_user(tmp_path, http, store):
    """A server restarted mid-flow loses no refresh token, client or user (SQLite and Redis both): a code
    obtained before the restart is redeemed after it; a refresh token issued before it
    rotates after it; the m2m client's secret and johndoe's password still work."""
    with RedisServer(tmp_path / "redis") as redis_srv:
        args = ("--store", redis_srv.url) if store == "redis" else ()
        port = free_port()
        v1, v2 = pkce.new_verifier(), pkce.new_verifier()
        with live_server("oauth-proxy", tmp_path, *args, port=port) as base:
            status, tokens = await redeem(http, base, await code_via(http, base, base, base, v1), v1)
            assert status == 200
            pending_code = await code_via(http, base, base, base, v2)  # logged in, code not yet redeemed
        # A new browser (no login session, no kept-alive connection to the old process).
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            with live_server("oauth-proxy", tmp_path, *args, port=port) as base:
                status, body = await redeem(http, base, pending_code, v2)
                assert status == 200, body
                status, body = await refresh(http, base, tokens["refresh_token"])
                assert status == 200, body
                assert (await client_credentials(http, base, tmp_path))[0] == 200
                v3 = pkce.new_verifier()
                status, body = await redeem(http, base, await code_via(http, base, base, base, v3), v3)
                assert status == 200, body
