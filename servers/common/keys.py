"""HS256 secrets for backend2/backend3 (RFC 7518 §3.2: a key of at least the hash size, 256 bits).

``keys/secrets.json`` (mode 0600, gitignored) holds a list of secrets; the first one that is not retired
signs, all of them verify until pruned, which is how rotation works without downtime::

    {"hs256": [{"kid": "Xy...", "secret": "<64 hex chars>", "created": 1764000000, "retired": null}]}

The secret string itself (its UTF-8 bytes) is the HMAC key, as in the FastAPI tutorial's SECRET_KEY, so a
tutorial's ``openssl rand -hex 32`` value works unchanged. ``OAUTHLAB_HS256_SECRET`` overrides the file.
"""
from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .settings import ConfigError

log = logging.getLogger("oauthlab.keys")
SECRETS_FILE = "secrets.json"
ENV_SECRET = "OAUTHLAB_HS256_SECRET"
MIN_SECRET_BYTES = 32
LOCK_FILE = ".lock"  # held (flock) while key material is created; never removed
T = TypeVar("T")


def secret_kid(secret: str) -> str:
    """A short, non-reversible identifier of a secret, used as the JWS ``kid``."""
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()[:9]).decode().rstrip("=")


def check_secret(secret: str, origin: str) -> bytes:
    """RFC 7518 §3.2: "A key of the same size as the hash output (for instance, 256 bits for "HS256") or
    larger MUST be used"; a shorter secret is a configuration error."""
    data = secret.encode("utf-8")
    if len(data) < MIN_SECRET_BYTES:
        raise ConfigError(f"the HS256 secret from {origin} is {len(data)} bytes; RFC 7518 §3.2 requires at "
                          f"least {MIN_SECRET_BYTES} (generate one with: python run.py keys generate)")
    return data


@dataclass(frozen=True)
class HSKeys:
    signing_kid: str
    signing_key: bytes
    verify: dict[str, bytes]  # kid -> key, the signer included


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (0600), created with that mode (no window of exposure).
    The file is written under a unique temporary name and renamed into place, so a reader (another
    server starting at the same moment) sees the old content or the new one, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_thread_locks: dict[str, threading.RLock] = {}  # per lock file: this process's threads queue here
_depth: dict[str, int] = {}  # per lock file: how deeply the thread holding it has entered
_guard = threading.Lock()


@contextlib.contextmanager
def keys_lock(keys_dir: Path) -> Iterator[None]:
    """Exclusive across processes (and threads) for one keys directory: whoever creates key material
    holds it, and everyone else waits, then reads the one winner's file. Re-entrant in a thread."""
    directory = Path(keys_dir)
    name = str((directory / LOCK_FILE).resolve())
    with _guard:
        thread_lock = _thread_locks.setdefault(name, threading.RLock())
    with thread_lock:
        if _depth.get(name, 0):  # this thread holds it already
            _depth[name] += 1
            try:
                yield
            finally:
                _depth[name] -= 1
            return
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(name, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ConfigError(f"{directory} is not writable ({exc.strerror or exc}); choose another with "
                              f"--keys-dir or fix its permissions") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # other processes queue here
            _depth[name] = 1
            try:
                yield
            finally:
                _depth[name] = 0
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def locked(function: Callable[..., T]) -> Callable[..., T]:
    """Run ``function(keys_dir, ...)`` holding ``keys_lock(keys_dir)``."""
    @functools.wraps(function)
    def wrapper(keys_dir: Path, *args: Any, **kwargs: Any) -> T:
        with keys_lock(keys_dir):
            return function(keys_dir, *args, **kwargs)
    return wrapper


def read_or_create_private(path: Path, make: Callable[[], str]) -> str:
    """The content of the private file ``path``; if there is none, ``make()`` written there first. Of
    several processes doing this at once, one writes and all of them return what it wrote."""
    path = Path(path)
    with keys_lock(path.parent):
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            value = make()
            write_private(path, value + "\n")
            return value


def secrets_path(keys_dir: Path) -> Path:
    return Path(keys_dir) / SECRETS_FILE


def read_secrets(keys_dir: Path) -> list[dict]:
    path = secrets_path(keys_dir)
    try:
        data = json.loads(path.read_text())
        entries = data["hs256"]
        assert isinstance(entries, list) and all("secret" in e for e in entries)
        return entries
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError, AssertionError) as exc:
        raise ConfigError(f"{path} is not a valid secrets file ({exc.__class__.__name__}); "
                          f"regenerate it with: python run.py keys generate --force") from exc


def write_secrets(keys_dir: Path, entries: list[dict]) -> None:
    write_private(secrets_path(keys_dir), json.dumps({"hs256": entries}, indent=2) + "\n")


def new_secret_entry() -> dict:
    secret = secrets.token_hex(32)  # as `openssl rand -hex 32` would
    return {"kid": secret_kid(secret), "secret": secret, "created": int(time.time()), "retired": None}


@locked
def generate_secret(keys_dir: Path, force: bool = False) -> tuple[Path, bool]:
    """Create keys/secrets.json if missing (or replace it with --force). Returns (path, created)."""
    path = secrets_path(keys_dir)
    if path.exists() and not force:
        read_secrets(keys_dir)  # validate
        return path, False
    write_secrets(keys_dir, [new_secret_entry()])
    return path, True


@locked
def rotate_secret(keys_dir: Path) -> dict:
    """Add a new signing secret; the previous ones stay valid for verification until pruned."""
    entries = read_secrets(keys_dir)
    now = int(time.time())
    for e in entries:
        if e.get("retired") is None:
            e["retired"] = now
    new = new_secret_entry()
    write_secrets(keys_dir, [new, *entries])
    return new


@locked
def prune_secrets(keys_dir: Path, max_token_age: int) -> list[str]:
    """Drop secrets retired longer ago than the longest token lifetime (plus leeway). Returns their kids."""
    entries = read_secrets(keys_dir)
    cutoff = time.time() - max_token_age
    keep = [e for e in entries if e.get("retired") is None or e["retired"] > cutoff]
    gone = [e["kid"] for e in entries if e not in keep]
    if gone:
        write_secrets(keys_dir, keep)
    return gone


def load_hs_keys(keys_dir: Path, create: bool = True) -> HSKeys:
    """The HS256 keys of a server: the environment override, else keys/secrets.json (created if missing)."""
    env = os.environ.get(ENV_SECRET)
    if env is not None:
        key = check_secret(env, ENV_SECRET)
        kid = secret_kid(env)
        return HSKeys(kid, key, {kid: key})
    entries = read_secrets(keys_dir)
    if not entries:
        if not create:
            raise ConfigError(f"no HS256 secret in {secrets_path(keys_dir)}: run python run.py keys generate")
        path, _ = generate_secret(keys_dir)
        log.info("generated a new HS256 secret in %s (mode 0600)", path)
        entries = read_secrets(keys_dir)
    verify = {}
    signing = None
    for e in entries:
        key = check_secret(e["secret"], str(secrets_path(keys_dir)))
        kid = e.get("kid") or secret_kid(e["secret"])
        verify[kid] = key
        if signing is None and e.get("retired") is None:
            signing = (kid, key)
    if signing is None:
        raise ConfigError(f"{secrets_path(keys_dir)} has no current secret: run python run.py keys rotate")
    return HSKeys(signing[0], signing[1], verify)


class HSKeySource:
    """The HS256 keys of a running server, re-read when keys/secrets.json changes (``keys rotate`` and
    ``keys prune`` take effect without a restart). A stat per login or per unknown kid is the only cost."""

    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = Path(keys_dir)
        self._keys = load_hs_keys(self.keys_dir)
        self._stamp = self._file_stamp()

    def _file_stamp(self):
        if os.environ.get(ENV_SECRET) is not None:
            return None
        try:
            st = secrets_path(self.keys_dir).stat()
            return (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            return None

    def current(self, refresh: bool = False) -> HSKeys:
        if refresh:
            stamp = self._file_stamp()
            if stamp is not None and stamp != self._stamp:
                try:
                    self._keys = load_hs_keys(self.keys_dir, create=False)
                    self._stamp = stamp
                    log.info("HS256 keys reloaded from %s (signing kid %s)", secrets_path(self.keys_dir),
                             self._keys.signing_kid)
                except ConfigError as exc:  # a half-written or broken file: keep serving with what we have
                    log.error("HS256 keys not reloaded: %s", exc)
        return self._keys
