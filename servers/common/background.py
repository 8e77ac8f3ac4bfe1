"""Background workers with a lifetime (aiohttp ``cleanup_ctx``): a worker that polls something over HTTP
(the JWKS cache, backend4's revocation list, the frontend's discovered metadata) gets the app's client
session and its ``run()`` loop for as long as the app lives, and is stopped cleanly with it."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager, suppress
from typing import Any, AsyncIterator

import aiohttp


@asynccontextmanager
async def polling(worker: Any, session: aiohttp.ClientSession) -> AsyncIterator[Any]:
    """Set ``worker.session`` and run ``worker.run()`` in the background while the block runs."""
    worker.session = session
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        worker.session = None
