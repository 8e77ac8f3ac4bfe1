"""Tokens signed in batches (servers/oauth_proxy/signing.py) are still one token per request: each signed on
its own, each with its own jti, a failure confined to the token it concerns."""
from __future__ import annotations

import asyncio
import threading

import jwt
import pytest

from servers.oauth_proxy.signing import BatchSigner, usable_cpus
from tests.support.proxy import AUDIENCE, ISSUER, basic, m2m_secret


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "executor"])
async def test_jobs_of_one_turn_of_the_loop_run_together_each_with_its_own_result(inline):
    """A batch runs after every request of its turn of the event loop has asked for its signature; each
    waiter gets the result of its own job, inline on the loop's thread or in the executor."""
    signer = BatchSigner(inline=inline)
    ran: list[tuple[int, str]] = []

    def job(i: int):
        def run():
            ran.append((i, threading.current_thread().name))
            return f"token-{i}"
        return run

    futures = [signer.run(job(i)) for i in range(5)]
    assert ran == []  # nothing signed before the turn ends
    assert await asyncio.gather(*futures) == [f"token-{i}" for i in range(5)]
    assert [i for i, _ in ran] == [0, 1, 2, 3, 4]
    threads = {name for _, name in ran}
    assert len(threads) == 1
    assert (threads == {threading.current_thread().name}) is inline


async def test_jobs_asked_for_while_the_batch_waits_are_signed_with_it():
    """A batch waits while it keeps growing: requests read in the same poll reach their signature in later
    turns of the loop, and they join the batch instead of starting a new one (bounded by max_batch)."""
    signer = BatchSigner(inline=True)
    ran: list[int] = []

    def job(i: int):
        return lambda: ran.append(i) or i

    first = signer.run(job(0))
    await asyncio.sleep(0)
    second = signer.run(job(1))
    await asyncio.sleep(0)
    assert ran == []  # the batch grew in the last turn: it waits one more
    await asyncio.sleep(0)
    assert ran == [0, 1]  # one turn without a new job: signed, together
    assert await asyncio.gather(first, second) == [0, 1]

    capped = BatchSigner(inline=True, max_batch=2)
    futures = [capped.run(job(i)) for i in (2, 3, 4)]
    assert ran == [0, 1, 2, 3]  # a full batch is signed at once
    assert await asyncio.gather(*futures) == [2, 3, 4]


async def test_a_failing_job_fails_only_its_own_request():
    """One request's failure (a key withdrawn under it, a bad claim) is that request's error: the other
    tokens of the batch are still issued."""
    signer = BatchSigner(inline=True)

    def broken():
        raise ValueError("no signing key")

    results = await asyncio.gather(signer.run(lambda: "a"), signer.run(broken), signer.run(lambda: "c"),
                                   return_exceptions=True)
    assert results[0] == "a" and results[2] == "c"
    assert isinstance(results[1], ValueError) and str(results[1]) == "no signing key"


def test_signing_is_inline_exactly_when_the_process_has_one_cpu():
    """With one CPU a thread only adds hand-offs on that CPU; with more, the executor signs beside the loop."""
    assert BatchSigner().inline is (usable_cpus() == 1)


async def test_concurrent_client_credentials_tokens_are_each_valid_with_a_unique_jti(proxy, tmp_path):
    """RFC 7519 §4.1.7: "The identifier value MUST be assigned in a manner that ensures that there is a
    negligible probability that the same value will be accidentally assigned to a different data object";
    RFC 6749 §5.1: every token response carries "Cache-Control: no-store" and "Pragma: no-cache"."""
    headers = basic("m2m", m2m_secret(tmp_path))

    async def one():
        resp = await proxy.post("/token", data={"grant_type": "client_credentials", "scope": "me"},
                                headers=headers)
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
        assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Pragma"] == "no-cache"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        return await resp.json()

    bodies = await asyncio.gather(*(one() for _ in range(16)))
    jwks = await (await proxy.get("/.well-known/jwks.json")).json()
    keys = {k["kid"]: jwt.PyJWK(k).key for k in jwks["keys"]}
    jtis = set()
    for body in bodies:
        assert body["token_type"] == "Bearer" and body["scope"] == "me" and "refresh_token" not in body
        token = body["access_token"]
        kid = jwt.get_unverified_header(token)["kid"]
        claims = jwt.decode(token, keys[kid], algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)
        assert claims["sub"] == claims["client_id"] == "m2m" and claims["gty"] == "client-credentials"
        jtis.add(claims["jti"])
    assert len(jtis) == 16
