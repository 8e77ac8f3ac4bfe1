"""Opening the store a server is configured with (``--store URL``, default SQLite under ``--data-dir``).

    (none)               SQLite: DATA_DIR/oauthlab.sqlite3
    sqlite:PATH          SQLite at PATH
    redis://, rediss://, unix://, redis+sentinel://, redis+cluster://, rediss+cluster://
                         the shared Redis store (URL forms in store/redis_client.py and docs/scaling.md)
"""
from __future__ import annotations

from pathlib import Path

from ..settings import ConfigError
from .base import Store
from .sqlite import SQLiteStore

REDIS_PREFIXES = ("redis://", "rediss://", "unix://", "redis+sentinel://", "redis+cluster://",
                  "rediss+cluster://")


def open_store(data_dir: Path, store_url: str | None = None, name: str = "oauthlab") -> Store:
    """SQLite under ``data_dir`` by default; a Redis URL selects the shared Redis store."""
    if store_url and store_url.lower().startswith(REDIS_PREFIXES):
        from .redis import RedisStore  # imported lazily: only shared deployments need redis-py
        return RedisStore(store_url)
    if store_url and not store_url.startswith("sqlite:"):
        shown = store_url.split("@", 1)[-1] if "@" in store_url else store_url
        raise ConfigError(f"--store must be sqlite:PATH or a Redis URL ({', '.join(REDIS_PREFIXES)}), "
                          f"got {shown!r}")
    path = Path(store_url[len("sqlite:"):]) if store_url else Path(data_dir) / f"{name}.sqlite3"
    return SQLiteStore(path)
