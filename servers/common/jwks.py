"""RS256 signing keys and JSON Web Key Sets: RFC 7517 (JWK/JWKS), RFC 7518 §6.3 (RSA keys), RFC 7638
(JWK thumbprints, used as ``kid``).

Key files live in keys/ (mode 0600, gitignored, never committed)::

    keys/oauth-proxy-rs256-<kid>.pem    one PKCS#8 private key per file (RSA-2048)
    keys/oauth-proxy-jwks.json          the index: which key signs, which are retired and since when

    {"signing": "<kid>", "keys": [{"kid": "...", "file": "oauth-proxy-rs256-<kid>.pem",
                                    "created": 1764000000, "retired": null}]}

Rotation without downtime: ``rotate_keys`` adds a new signer and marks the old one retired; retired keys
stay in the JWKS (so tokens they signed keep verifying) until ``prune_keys`` removes those retired longer
than the longest token lifetime. A running server notices the index changing (``KeyRing.refresh``).

The private key is loaded ONCE into a ``cryptography`` RSAPrivateKey (CRT parameters included), and PyJWT
is handed that object: re-parsing a PEM per token would cost more than the signature.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .keys import write_private
from .settings import ConfigError

log = logging.getLogger("oauthlab.jwks")

INDEX_FILE = "oauth-proxy-jwks.json"
KEY_PREFIX = "oauth-proxy-rs256-"
KEY_BITS = 2048
ALG = "RS256"


def b64url_uint(n: int) -> str:
    """RFC 7518 §2 Base64urlUInt: big-endian, minimal octets, no padding."""
    raw = n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 §3: SHA-256 over the required members in lexicographic order, no whitespace."""
    numbers = public_key.public_numbers()
    canonical = json.dumps({"e": b64url_uint(numbers.e), "kty": "RSA", "n": b64url_uint(numbers.n)},
                           separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def public_jwk(public_key: rsa.RSAPublicKey, kid: str | None = None) -> dict[str, str]:
    """The public JWK of an RSA key (RFC 7517 §4, RFC 7518 §6.3.1): use sig, alg RS256, kid thumbprint."""
    numbers = public_key.public_numbers()
    return {"kty": "RSA", "use": "sig", "alg": ALG, "kid": kid or thumbprint(public_key),
            "n": b64url_uint(numbers.n), "e": b64url_uint(numbers.e)}


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


def rotate_keys(keys_dir: Path) -> str:
    """Add a new signing key; the previous signer is retired (still published) until pruned."""
    index = ensure_keys(keys_dir)
    now = int(time.time())
    for e in index["keys"]:
        if e.get("retired") is None:
            e["retired"] = now
    entry = _add_new_key(keys_dir)
    index = {"signing": entry["kid"], "keys": [entry, *index["keys"]]}
    write_index(keys_dir, index)
    return entry["kid"]


def prune_keys(keys_dir: Path, max_token_age: int) -> list[str]:
    """Remove keys retired more than ``max_token_age`` seconds ago (their tokens have all expired)."""
    index = read_index(keys_dir)
    if index is None:
        return []
    cutoff = time.time() - max_token_age
    keep, gone = [], []
    for e in index["keys"]:
        if e.get("retired") is not None and e["retired"] <= cutoff and e["kid"] != index.get("signing"):
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
    """Loaded keys: the signer and every published public key (kid -> key)."""
    signing_kid: str
    signing_key: rsa.RSAPrivateKey
    public: dict[str, rsa.RSAPublicKey]

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
    for e in index["keys"]:
        key = load_private_key(Path(keys_dir) / e["file"])
        kid = thumbprint(key.public_key())
        if kid != e["kid"]:
            raise ConfigError(f"{e['file']}: kid in the index does not match the key's thumbprint")
        public[kid] = key.public_key()
        if kid == index["signing"]:
            signing = key
    if signing is None:
        raise ConfigError(f"{index_path(keys_dir)}: the signing key {index['signing']} is missing")
    return KeySet(index["signing"], signing, public)


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
            if mtime != self._mtime:
                try:
                    self.current = load_keyset(self.keys_dir, create=False)
                    self._mtime = mtime
                    log.info("reloaded keys: signing kid=%s", self.current.signing_kid)
                except ConfigError as exc:
                    log.error("key index changed but cannot be loaded, keeping the old keys: %s", exc)
        return self.current


def keys_from_jwks(document: Any, algorithms: tuple[str, ...]) -> dict[str, Any]:
    """Public keys (kid -> key object) from a fetched JWK Set, for the given algorithm family only.

    Keys without kid are listed under "". Private members are never accepted from a remote document."""
    import jwt  # PyJWT's JWK parsing

    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK Set")
    out: dict[str, Any] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig" or "d" in jwk:
            continue
        if jwk.get("alg") is not None and jwk["alg"] not in algorithms:
            continue
        try:
            key = jwt.PyJWK(jwk, algorithm=jwk.get("alg") or algorithms[0])
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue
        out[str(jwk.get("kid", ""))] = key.key
    return out


class RemoteJWKS:
    """Public keys of another issuer, fetched from its ``jwks_uri`` and cached by ``kid``.

    An unknown kid triggers a refetch at most once per ``min_refetch`` seconds (so a flood of forged kids
    cannot turn us into a request amplifier); when the issuer is unreachable the cached keys keep serving.
    The URL comes from configuration only, never from a token header (RFC 8725 §3.10: no jku/x5u)."""

    def __init__(self, url: str, algorithms: tuple[str, ...], min_refetch: float = 30.0,
                 timeout: float = 5.0) -> None:
        self.url = url
        self.algorithms = algorithms
        self.min_refetch = min_refetch
        self.timeout = timeout
        self.keys: dict[str, Any] = {}
        self._fetched_at: float | None = None

    async def fetch(self, session) -> None:
        import aiohttp

        self._fetched_at = time.monotonic()
        try:
            async with session.get(self.url, timeout=aiohttp.ClientTimeout(total=self.timeout),
                                   allow_redirects=False) as resp:
                if resp.status != 200:
                    raise ValueError(f"HTTP {resp.status}")
                document = await resp.json(content_type=None)
            keys = keys_from_jwks(document, self.algorithms)
        except Exception as exc:  # noqa: BLE001 - network or document error: keep the cached keys
            log.warning("JWKS %s not refreshed (%s); keeping %d cached key(s)", self.url,
                        exc.__class__.__name__, len(self.keys))
            return
        self.keys = keys

    async def key(self, session, kid: str | None) -> Any:
        """The key for ``kid`` (None if the token has none: only a single-key set then). None if unknown."""
        found = self._lookup(kid)
        if found is None and (self._fetched_at is None
                              or time.monotonic() - self._fetched_at >= self.min_refetch):
            await self.fetch(session)
            found = self._lookup(kid)
        return found

    def _lookup(self, kid: str | None) -> Any:
        if kid is None:
            return next(iter(self.keys.values())) if len(self.keys) == 1 else None
        return self.keys.get(kid)
