"""The targets the review tests run against: the deliberately flawed resource and authorization servers
(tests/vulnerable_rs.py, tests/vulnerable_as.py) served from a background thread, so that the CLI, curl and
pytest can reach them from subprocesses, with their profiles written as TOML files. The only module of the
review tests that imports the flawed servers."""
from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

from aiohttp import web

from .support.vulnerable_rs import RSFlaws, create_rs, profile
from .vulnerable_as import M2M_SECRET, REDIRECT, Flaws, create_as

from cli.processes import free_port

__all__ = ["Flaws", "RSFlaws", "flawed_as", "flawed_rs", "serve_in_thread", "toml_profile"]


def _toml_value(value) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def toml_profile(data: dict) -> str:
    """A profile dict (tables one level deep) as TOML text."""
    top = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    tables = [f"\n[{k}]\n" + "\n".join(f"{kk} = {_toml_value(vv)}" for kk, vv in v.items())
              for k, v in data.items() if isinstance(v, dict)]
    return "\n".join(top) + "\n" + "\n".join(tables) + "\n"


@contextlib.contextmanager
def serve_in_thread(app: web.Application, port: int) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1:port from its own event loop in a daemon thread; yields the base URL."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runner = web.AppRunner(app)

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextlib.contextmanager
def flawed_rs(tmp_path: Path, flaws: RSFlaws, name: str = "vulnerable-rs") -> Iterator[tuple[str, Path]]:
    """Serve ``create_rs(flaws)`` (HS256) on a free port; yields (base URL, profile file)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secret = secrets.token_hex(32)
    key_file = tmp_path / f"{name}-secrets.json"
    key_file.write_text(json.dumps({"hs256": [{"kid": "k1", "secret": secret, "created": 0, "retired": None}]}))
    data = profile(base, str(key_file), "HS256")
    data["name"] = name
    profile_file = tmp_path / f"{name}.toml"
    profile_file.write_text(toml_profile(data))
    with serve_in_thread(create_rs(flaws, secret.encode(), "k1", base), port):
        yield base, profile_file


@contextlib.contextmanager
def flawed_as(tmp_path: Path, flaws: Flaws, name: str = "vulnerable-as") -> Iterator[tuple[str, Path]]:
    """Serve ``create_as(flaws)`` on a free port; yields (issuer, profile file)."""
    port = free_port()
    with serve_in_thread(create_as(flaws), port) as base:
        data = {"name": name, "kind": "authorization-server", "base_url": base,
                "authorization_server": {"issuer": base, "client_id": "frontend", "redirect_uri": REDIRECT,
                                         "scope": "me items", "username": "johndoe", "password": "secret",
                                         "confidential_client_id": "m2m",
                                         "confidential_client_secret": M2M_SECRET}}
        profile_file = tmp_path / f"{name}.toml"
        profile_file.write_text(toml_profile(data))
        yield base, profile_file
