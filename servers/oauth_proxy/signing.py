"""Signing tokens in batches: the signatures wanted during one turn of the event loop are made back to back.

An RSA-2048 signature is most of a token's cost (~0.35-0.4 ms). Made one at a time between the HTTP work of
each request, every signature starts with caches that the rest of the request has cooled; the requests
that arrive together are signed together instead, one after the other, and each gets its own result (every
token is signed on its own; nothing is shared between them but the time slot). A batch is signed after the
first turn of the event loop that added no job to it: the requests read in one poll reach their signature
over several turns, and under load all waiting connections end up in one batch (``max_batch`` at most).
An idle server pays one turn of the loop for it. Where the signing runs:

- the process may use one CPU (``taskset``, a container limit): inline, on the event loop: a thread would
  only add hand-offs on the same core;
- several CPUs: in the default thread executor, one hand-off per batch: ``cryptography`` releases the GIL
  while it signs, so a second core signs while the loop serves HTTP.
"""
from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any


def usable_cpus() -> int:
    """How many CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class BatchSigner:
    """Runs signing jobs (zero-argument callables) in batches (see the module docstring)."""

    def __init__(self, inline: bool | None = None, max_batch: int = 64) -> None:
        self.inline = usable_cpus() == 1 if inline is None else inline
        self.max_batch = max_batch
        self._pending: list[tuple[Callable[[], Any], asyncio.Future]] = []
        self._tick_handle: asyncio.Handle | None = None  # the one look at the pending batch per turn

    def run(self, job: Callable[[], Any]) -> asyncio.Future:
        """The result of ``job()``, made with the other jobs of its batch."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((job, future))
        if len(self._pending) >= self.max_batch:
            self._flush(loop)
        elif self._tick_handle is None:
            self._tick_handle = loop.call_soon(self._tick, loop, 0)
        return future

    def _tick(self, loop: asyncio.AbstractEventLoop, seen: int) -> None:
        """Sign once a turn of the loop has added no job: while requests keep joining (they were read in
        the same poll, their handlers run later in the turn), the batch waits one more turn."""
        n = len(self._pending)
        if n > seen:
            self._tick_handle = loop.call_soon(self._tick, loop, n)
        else:
            self._flush(loop)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None
        batch, self._pending = self._pending, []
        if not batch:
            return
        if self.inline:
            _settle(batch, _run_all(batch))
        else:
            done = loop.run_in_executor(None, _run_all, batch)
            done.add_done_callback(lambda f: _settle(batch, f.result()))


def _run_all(batch: list) -> list[tuple[bool, Any]]:
    """Each job's outcome: (True, result) or (False, exception); one failing job fails only itself."""
    out = []
    for job, _ in batch:
        try:
            out.append((True, job()))
        except Exception as exc:  # noqa: BLE001 - handed to the job's own waiter
            out.append((False, exc))
    return out


def _settle(batch: list, outcomes: list[tuple[bool, Any]]) -> None:
    for (_, future), (ok, value) in zip(batch, outcomes):
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
