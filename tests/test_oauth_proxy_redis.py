"""oauth-proxy on the shared Redis store: two instances behind one issuer act as one authorization server
(a code issued by one is redeemed at the other, and a replay at either one is detected)."""
from __future__ import annotations

import asyncio

import pytest

from servers.oauth_proxy import create_app
from tests.support.proxy import get_code, proxy_settings, redeem
from tests.support.redis_util import RedisServer

pytestmark = pytest.mark.redis


async def test_code_issued_by_one_instance_is_single_use_across_instances(aiohttp_client, tmp_path):
    """RFC 6749 §4.1.2: the code "MUST NOT be used more than once" - also when instances share the work;
    the replay revokes what the first redemption issued, whichever instance sees it."""
    with RedisServer(tmp_path / "redis") as redis:
        settings = proxy_settings(tmp_path, store_url=redis.url)
        a = await aiohttp_client(create_app(settings))
        b = await aiohttp_client(create_app(settings))
        got = await get_code(a)
        results = await asyncio.gather(redeem(b, got["code"]), redeem(a, got["code"]), redeem(b, got["code"]))
        assert sorted(r.status for r in results) == [200, 400, 400]
        tokens = await next(r for r in results if r.status == 200).json()
        refresh = await a.post("/token", data={"grant_type": "refresh_token", "client_id": "frontend",
                                               "refresh_token": tokens["refresh_token"]})
        assert refresh.status == 400 and (await refresh.json())["error"] == "invalid_grant"
