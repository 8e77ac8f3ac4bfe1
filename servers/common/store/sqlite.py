"""The embedded store: the ``Store`` protocol (store/base.py) on one SQLite file under the data directory
(WAL journal), shared by every server process started on that directory.

Any number of processes may open a new file at the same moment: the schema is created with
``CREATE ... IF NOT EXISTS`` inside one ``BEGIN IMMEDIATE`` transaction, every connection waits for the
file's lock (busy timeout) instead of failing, and switching the journal to WAL is retried while another
process holds the file.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..settings import ConfigError
from .base import User

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    full_name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    scopes TEXT NOT NULL DEFAULT '',
    disabled INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
    ns TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    expires REAL,
    PRIMARY KEY (ns, key)
);
CREATE TABLE IF NOT EXISTS events (key TEXT NOT NULL, ts REAL NOT NULL);
CREATE INDEX IF NOT EXISTS events_key_ts ON events (key, ts);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


BUSY_TIMEOUT = 10.0  # seconds a statement waits for another process's lock on the file


def create_schema(db: sqlite3.Connection) -> None:
    """The tables, created once whoever comes first: one immediate transaction, so that concurrent
    openers queue on the write lock and each finds either nothing or the whole schema."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for statement in filter(str.strip, SCHEMA.split(";")):
            db.execute(statement)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _while_busy(step, deadline: float = BUSY_TIMEOUT):
    """Run ``step``; while another process holds the file ("database is locked"), try again."""
    end = time.monotonic() + deadline
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            contended = "locked" in str(exc) or "busy" in str(exc)
            if not contended or time.monotonic() > end:
                raise
            time.sleep(0.02)


def _row_to_user(row: sqlite3.Row | tuple) -> User:
    username, full_name, email, scopes, disabled, password_hash = row
    return User(username, full_name, email, tuple(scopes.split()), bool(disabled), password_hash)


class SQLiteStore:
    """The embedded default: one SQLite file. Queries are primary-key look-ups of a few microseconds, so
    they run on the event loop; only bcrypt is pushed to an executor."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False,
                                      timeout=BUSY_TIMEOUT)
            _while_busy(lambda: self.db.execute("PRAGMA journal_mode=WAL"))
            self.db.execute("PRAGMA synchronous=NORMAL")
            _while_busy(lambda: create_schema(self.db))
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the data store {self.path}: {exc} "
                              f"(check that the data directory exists and is writable)") from exc
        try:
            os.chmod(self.path, 0o600)
        except OSError:
            pass
        # Users are read on every authenticated request; a SQLite statement costs ~15 us (WAL index), so
        # user rows are cached until the database files change (any writer, any process: their size or
        # mtime moves) and for at most USER_CACHE_TTL seconds as a bound on the rare unseen change.
        self._wal = Path(str(self.path) + "-wal")
        self._users: dict[str, tuple[User | None, float]] = {}
        self._stamp: tuple = ()
        self._stamp_checked = 0.0

    USER_CACHE_TTL = 1.0

    def _files_stamp(self) -> tuple:
        """Every commit appends to the WAL (any process), so its size/mtime is the change stamp; the main
        file stands in when there is no WAL."""
        for f in (self._wal, self.path):
            try:
                st = os.stat(f)
                return (f is self._wal, st.st_mtime_ns, st.st_size)
            except OSError:
                continue
        return ()

    STAMP_INTERVAL = 0.1  # stat the WAL at most this often (our own writes clear the cache at once)

    def _user_cache_valid(self) -> bool:
        now = time.monotonic()
        if now < self._stamp_checked + self.STAMP_INTERVAL:
            return True
        self._stamp_checked = now
        stamp = self._files_stamp()
        if stamp != self._stamp:
            self._users.clear()
            self._stamp = stamp
            return False
        return True

    # -- users ---------------------------------------------------------------------------------------
    async def get_user(self, username: str) -> User | None:
        now = time.monotonic()
        if self._user_cache_valid():
            hit = self._users.get(username)
            if hit is not None and hit[1] > now:
                return hit[0]
        row = self.db.execute("SELECT username, full_name, email, scopes, disabled, password_hash "
                              "FROM users WHERE username = ?", (username,)).fetchone()
        user = _row_to_user(row) if row else None
        if len(self._users) > 10_000:
            self._users.clear()
        self._users[username] = (user, now + self.USER_CACHE_TTL)
        return user

    async def add_user(self, user: User) -> None:
        self._users.pop(user.username, None)
        try:
            self.db.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)",
                            (user.username, user.full_name, user.email, " ".join(user.scopes),
                             int(user.disabled), user.password_hash))
        except sqlite3.IntegrityError as exc:
            raise KeyError(user.username) from exc

    async def update_user(self, username: str, **changes: Any) -> User | None:
        user = await self.get_user(username)
        if user is None:
            return None
        user = replace(user, **changes)
        self._users.pop(username, None)
        self.db.execute("UPDATE users SET full_name=?, email=?, scopes=?, disabled=?, password_hash=? "
                        "WHERE username=?", (user.full_name, user.email, " ".join(user.scopes),
                                             int(user.disabled), user.password_hash, username))
        return user

    async def list_users(self) -> list[User]:
        rows = self.db.execute("SELECT username, full_name, email, scopes, disabled, password_hash "
                               "FROM users ORDER BY username").fetchall()
        return [_row_to_user(r) for r in rows]

    # -- key/value with expiry ------------------------------------------------------------------------
    async def put(self, ns: str, key: str, value: dict, ttl: float | None = None) -> None:
        expires = None if ttl is None else time.time() + ttl
        self.db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, ?, ?)",
                        (ns, key, json.dumps(value), expires))

    async def get(self, ns: str, key: str) -> dict | None:
        row = self.db.execute("SELECT value FROM kv WHERE ns=? AND key=? AND (expires IS NULL OR expires > ?)",
                              (ns, key, time.time())).fetchone()
        return json.loads(row[0]) if row else None

    async def consume(self, ns: str, key: str) -> dict | None:
        # One statement: SQLite serialises writers, so exactly one caller gets the row.
        row = self.db.execute("DELETE FROM kv WHERE ns=? AND key=? RETURNING value, expires",
                              (ns, key)).fetchone()
        if row is None or (row[1] is not None and row[1] <= time.time()):
            return None
        return json.loads(row[0])

    async def delete(self, ns: str, key: str) -> bool:
        return self.db.execute("DELETE FROM kv WHERE ns=? AND key=?", (ns, key)).rowcount > 0

    async def list(self, ns: str) -> list[tuple[str, dict]]:
        rows = self.db.execute("SELECT key, value FROM kv WHERE ns=? AND (expires IS NULL OR expires > ?) "
                               "ORDER BY key", (ns, time.time())).fetchall()
        return [(k, json.loads(v)) for k, v in rows]

    # -- event counters (throttling) ------------------------------------------------------------------
    async def add_event(self, key: str, window: float) -> None:
        now = time.time()
        self.db.execute("DELETE FROM events WHERE key=? AND ts <= ?", (key, now - window))
        self.db.execute("INSERT INTO events VALUES (?, ?)", (key, now))

    async def events(self, key: str, window: float) -> list[float]:
        rows = self.db.execute("SELECT ts FROM events WHERE key=? AND ts > ? ORDER BY ts",
                               (key, time.time() - window)).fetchall()
        return [r[0] for r in rows]

    async def clear_events(self, key: str) -> None:
        self.db.execute("DELETE FROM events WHERE key=?", (key,))

    # -- meta -------------------------------------------------------------------------------------------
    async def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    async def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    async def purge_expired(self) -> None:
        self.db.execute("DELETE FROM kv WHERE expires IS NOT NULL AND expires <= ?", (time.time(),))

    async def close(self) -> None:
        self.db.close()
