"""RS256 signing keys of oauth-proxy: the key files, rotation and pruning (RFC 7517, RFC 7518 §6.3; kids are
RFC 7638 thumbprints), and ``KeyRing``, the keys of a running server.

Key files live in keys/ (mode 0600, gitignored, never committed)::

    keys/oauth-proxy-rs256-<kid>.pem    one PKCS#8 private key per file (RSA-2048)
    keys/oauth-proxy-jwks.json          the index: which key signs, which are retired and since when

    {"signing": "<kid>", "keys": [{"kid": "...", "file": "oauth-proxy-rs256-<kid>.pem",
                                    "created": 1764000000, "retired": null}]}

Rotation without downtime: ``rotate_keys`` adds a new key that is **published at once but signs only from
its ``activates`` time** (``run.py keys rotate --activate-after 60``): a resource server that fetched the JWKS
before the rotation refetches on the first unknown kid, and its refetch rate limit (30 s for backend4) is
shorter than the delay, so it always finds the new key and no request fails. The old key signs until then,
is retired from then on, and stays in the JWKS (so tokens it signed keep verifying) until ``prune_keys``
removes keys retired longer than the longest token lifetime. A running server notices the index changing
and the activation time passing (``KeyRing.refresh``).

The private key is loaded ONCE into a ``cryptography`` RSAPrivateKey (CRT parameters included), and PyJWT
is handed that object: re-parsing a PEM per token would cost more than the signature.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ..keys import locked, write_private
from ..settings import ConfigError
from .jwk import public_jwk, thumbprint

log = logging.getLogger("oauthlab.jwks")

INDEX_FILE = "oauth-proxy-jwks.json"
KEY_PREFIX = "oauth-proxy-rs256-"
KEY_BITS = 2048


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


# -- the index ------------------------------------------------------------------------------------------
def index_path(keys_dir: Path) -> Path:
    return Path(keys_dir) / INDEX_FILE


def read_index(keys_dir: Path) -> dict | None:
    path = index_path(keys_dir)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not a valid key index ({exc.__class__.__name__})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ConfigError(f"{path} is not a valid key index (no 'keys' list)")
    return data


def write_index(keys_dir: Path, index: dict) -> None:
    write_private(index_path(keys_dir), json.dumps(index, indent=2) + "\n")


def _add_new_key(keys_dir: Path) -> dict:
    key = generate_private_key()
    kid = thumbprint(key.public_key())
    name = f"{KEY_PREFIX}{kid}.pem"
    write_private(Path(keys_dir) / name, private_pem(key))
    return {"kid": kid, "file": name, "created": int(time.time()), "retired": None}


@locked  # servers starting at once on one keys directory: one creates the key, all use it
def ensure_keys(keys_dir: Path) -> dict:
    """The index, creating a first RSA-2048 key (mode 0600) if there is none. Returns the index."""
    index = read_index(keys_dir)
    if index is not None and index.get("signing"):
        return index
    entry = _add_new_key(keys_dir)
    index = {"signing": entry["kid"], "keys": [entry, *((index or {}).get("keys") or [])]}
    write_index(keys_dir, index)
    log.info("generated RS256 signing key kid=%s in %s (mode 0600)", entry["kid"], keys_dir)
    return index


def rotate_keys(keys_dir: Path, activate_after: float = 0) -> str:
    """Add a new key that signs from ``now + activate_after`` (published at once); the previous signer
    signs until then and is retired from then on (still published) until pruned."""
    index = ensure_keys(keys_dir)
    activates = int(time.time() + max(0, activate_after))
    for e in index["keys"]:
        if e.get("retired") is None:
            e["retired"] = activates
    entry = {**_add_new_key(keys_dir), "activates": activates}
    index = {"signing": entry["kid"], "keys": [entry, *index["keys"]]}
    write_index(keys_dir, index)
    return entry["kid"]


def effective_signer(index: dict, now: float | None = None) -> str:
    """The kid that signs now: the newest key (index order) whose activation time has come."""
    now = time.time() if now is None else now
    for e in index["keys"]:
        if e.get("activates") is None or e["activates"] <= now:
            return e["kid"]
    return index["signing"]


def next_activation(index: dict, now: float | None = None) -> float | None:
    now = time.time() if now is None else now
    pending = [e["activates"] for e in index["keys"] if e.get("activates") is not None and e["activates"] > now]
    return min(pending) if pending else None


def prune_keys(keys_dir: Path, max_token_age: int) -> list[str]:
    """Remove keys retired more than ``max_token_age`` seconds ago (their tokens have all expired)."""
    index = read_index(keys_dir)
    if index is None:
        return []
    cutoff = time.time() - max_token_age
    keep, gone = [], []
    signer = effective_signer(index)
    for e in index["keys"]:
        if e.get("retired") is not None and e["retired"] <= cutoff and e["kid"] not in (index.get("signing"), signer):
            gone.append(e)
        else:
            keep.append(e)
    if gone:
        write_index(keys_dir, {**index, "keys": keep})
        for e in gone:
            try:
                (Path(keys_dir) / e["file"]).unlink()
            except FileNotFoundError:
                pass
    return [e["kid"] for e in gone]


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"cannot load RSA key {path}: {exc.__class__.__name__}") from exc
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < KEY_BITS:
        raise ConfigError(f"{path} is not an RSA key of at least {KEY_BITS} bits")
    return key


@dataclass(frozen=True)
class KeySet:
    """Loaded keys: the signer and every published public key (kid -> key); ``next_activation``: when a
    pre-published key starts signing (None: no pending key)."""
    signing_kid: str
    signing_key: rsa.RSAPrivateKey
    public: dict[str, rsa.RSAPublicKey]
    next_activation: float | None = None

    def jwks(self) -> dict[str, Any]:
        """RFC 7517 §5 JWK Set: the signer first, then retired keys still verifying."""
        order = [self.signing_kid, *(k for k in self.public if k != self.signing_kid)]
        return {"keys": [public_jwk(self.public[k], k) for k in order]}


def load_keyset(keys_dir: Path, create: bool = True) -> KeySet:
    """Load the index and keys (creating the first key if ``create``); the kid is checked against the key."""
    index = ensure_keys(keys_dir) if create else read_index(keys_dir)
    if not index or not index.get("signing"):
        raise ConfigError(f"no RS256 key in {keys_dir}: start oauth-proxy once or run keys rotate")
    public: dict[str, rsa.RSAPublicKey] = {}
    signing = None
    signer = effective_signer(index)
    for e in index["keys"]:
        key = load_private_key(Path(keys_dir) / e["file"])
        kid = thumbprint(key.public_key())
        if kid != e["kid"]:
            raise ConfigError(f"{e['file']}: kid in the index does not match the key's thumbprint")
        public[kid] = key.public_key()
        if kid == signer:
            signing = key
    if signing is None:
        raise ConfigError(f"{index_path(keys_dir)}: the signing key {signer} is missing")
    return KeySet(signer, signing, public, next_activation(index))


class KeyRing:
    """The keys of a running server; reloads them when the index file changes (checked at most every
    ``interval`` seconds), so ``run.py keys rotate|prune`` takes effect without a restart."""

    def __init__(self, keys_dir: Path, interval: float = 2.0) -> None:
        self.keys_dir = Path(keys_dir)
        self.interval = interval
        self.current = load_keyset(self.keys_dir)
        self._mtime = self._stat()
        self._checked = time.monotonic()

    def _stat(self) -> float:
        try:
            return os.stat(index_path(self.keys_dir)).st_mtime
        except OSError:
            return 0.0

    def refresh(self) -> KeySet:
        now = time.monotonic()
        if now - self._checked >= self.interval:
            self._checked = now
            mtime = self._stat()
            due = self.current.next_activation is not None and time.time() >= self.current.next_activation
            if mtime != self._mtime or due:
                try:
                    self.current = load_keyset(self.keys_dir, create=False)
                    self._mtime = mtime
                    log.info("reloaded keys: signing kid=%s", self.current.signing_kid)
                except ConfigError as exc:
                    log.error("key index changed but cannot be loaded, keeping the old keys: %s", exc)
        return self.current
