"""Several oauth-proxy instances on one Redis: two real proxies (``run.py serve
oauth-proxy --store redis://...``, same keys directory, same public URL as behind a load balancer) and one
real throwaway redis-server. Every request below is sent to a chosen instance; the instances share
nothing but Redis and the keys directory.

- authorize on A, log in through B, redeem the code on B; a replay on A fails (and revokes the grant);
- the same code redeemed concurrently at both: exactly one wins;
- refresh on B after a rotation on A; reuse of the rotated token at B revokes the family everywhere;
- failed logins are throttled across both instances;
- a revocation at A is seen by introspection at B.
"""
from __future__ import annotations

import asyncio

import pytest

from servers.common import pkce

from .support.proxy_flow import (code_via, http_fixture, introspect, login_form, proxies_fixture,  # noqa: F401
                                 redeem, refresh, start_authorization, submit_login)
from .support.redis_util import RedisServer


@pytest.fixture
def store_url(tmp_path):
    """A fresh redis-server per test: proxies use the default key prefix, so tests must not share one."""
    with RedisServer(tmp_path / "redis") as server:
        yield server.url


# -- codes ------------------------------------------------------------------------------------------------
async def test_code_from_instance_a_is_redeemed_at_b_and_its_replay_at_a_fails(proxies, http, tmp_path):
    """RFC 6749 §4.1.2: the code "MUST NOT be used more than once. If an authorization code is used more
    than once, the authorization server MUST deny the request and SHOULD revoke (when possible) all
    tokens previously issued based on that authorization code" - across instances."""
    a, b = proxies
    verifier = pkce.new_verifier()
    code = await code_via(http, a, b, a, verifier)  # login session and pending request live in Redis

    status, tokens = await redeem(http, b, code, verifier)
    assert status == 200, tokens
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"]
    assert (await introspect(http, a, tokens["access_token"], tmp_path))["active"] is True

    status, body = await redeem(http, a, code, verifier)
    assert (status, body["error"]) == (400, "invalid_grant")
    # The replay revoked what the first redemption issued, at both instances.
    assert (await introspect(http, b, tokens["access_token"], tmp_path))["active"] is False
    status, body = await refresh(http, a, tokens["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_a_code_redeemed_concurrently_at_both_instances_wins_once(proxies, http, tmp_path):
    """RFC 6749 §4.1.2 "MUST NOT be used more than once", under a race: of 10 concurrent redemptions of
    one code, alternating between A and B, exactly one gets tokens - and since the other nine are
    replays, "SHOULD revoke ... all tokens previously issued based on that authorization code": the
    winner's tokens are dead at both instances."""
    a, b = proxies
    verifier = pkce.new_verifier()
    code = await code_via(http, a, a, b, verifier)
    results = await asyncio.gather(*(redeem(http, (a, b)[i % 2], code, verifier) for i in range(10)))
    assert sorted(status for status, _ in results) == [200] + [400] * 9
    assert {body["error"] for status, body in results if status == 400} == {"invalid_grant"}
    tokens = next(body for status, body in results if status == 200)
    for base in (a, b):
        assert (await introspect(http, base, tokens["access_token"], tmp_path))["active"] is False
    status, body = await refresh(http, b, tokens["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")


# -- refresh tokens ---------------------------------------------------------------------------------------
async def test_refresh_at_b_after_rotation_at_a_and_reuse_revokes_the_family(proxies, http, tmp_path):
    """RFC 9700 §4.14.2: refresh token rotation; "If a refresh token is compromised and subsequently used
    by both the attacker and the legitimate client, one of them will present an invalidated refresh
    token, which will inform the authorization server of the breach" - wherever it is presented."""
    a, b = proxies
    verifier = pkce.new_verifier()
    status, t0 = await redeem(http, a, await code_via(http, a, a, a, verifier), verifier)
    assert status == 200

    status, t1 = await refresh(http, a, t0["refresh_token"])  # rotation at A
    assert status == 200 and t1["refresh_token"] != t0["refresh_token"]
    status, t2 = await refresh(http, b, t1["refresh_token"])  # the rotated token works at B
    assert status == 200 and t2["refresh_token"] not in (t0["refresh_token"], t1["refresh_token"])

    status, body = await refresh(http, b, t1["refresh_token"])  # reuse of a rotated token, at B
    assert (status, body["error"]) == (400, "invalid_grant")
    status, body = await refresh(http, a, t2["refresh_token"])  # ... revoked the family for A too
    assert (status, body["error"]) == (400, "invalid_grant")
    assert (await introspect(http, a, t2["access_token"], tmp_path))["active"] is False


async def test_revocation_at_a_is_seen_at_b(proxies, http, tmp_path):
    """RFC 7009 §2.2: after revocation the token is invalid - also for the instance that did not revoke
    it (RFC 7662 introspection at B says inactive)."""
    a, b = proxies
    verifier = pkce.new_verifier()
    status, t = await redeem(http, b, await code_via(http, b, b, b, verifier), verifier)
    assert status == 200
    async with http.post(a + "/revoke", data={"token": t["access_token"], "client_id": "frontend"}) as resp:
        assert resp.status == 200, await resp.text()
    assert (await introspect(http, b, t["access_token"], tmp_path))["active"] is False


# -- throttling -------------------------------------------------------------------------------------------
async def test_failed_logins_are_throttled_across_instances(proxies, http):
    """RFC 6749 §4.3.2 / RFC 9700 §4.7: the AS MUST protect against brute force. Five failures spread over
    A and B exhaust the limit at both; even the right password is then refused with 429 + Retry-After."""
    a, b = proxies
    form = await login_form(http, a, await start_authorization(http, a, pkce.new_verifier()))
    for i in range(5):
        async with await submit_login(http, (a, b)[i % 2], form, password=f"wrong-{i}") as resp:
            assert resp.status == 401, (i, await resp.text())
    for base in (a, b):
        async with await submit_login(http, base, form) as resp:
            assert resp.status == 429, await resp.text()
            assert int(resp.headers["Retry-After"]) >= 1
