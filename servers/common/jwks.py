"""RS256 signing keys and JSON Web Key Sets: RFC 7517 (JWK/JWKS), RFC 7518 §6.3 (RSA keys), RFC 7638
(JWK thumbprints, used as ``kid``); and ``RemoteJWKS``, the one cache of another issuer's published keys
(RFC 8725 §3.1 key/algorithm filter, rate-limited single-flight refetch, discovery, background refresh).

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

import asyncio
import base64
import hashlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from .background import polling
from .discovery import MAX_DOCUMENT_BYTES, DiscoveryError, check_http_url, discover, fetch_json
from .errors import InvalidToken, TemporarilyUnavailable
from .keys import locked, write_private
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


# -- other issuers' keys: one remote JWK Set cache ---------------------------------------------------
# RFC 8725 §3.1: "each key MUST be used with exactly one algorithm" family: a key is used only with the
# algorithms of its key type (and curve), and a JWK's own "alg", if present, must be the token's.
ALG_FAMILIES = {"RS256": "RSA", "RS384": "RSA", "RS512": "RSA", "PS256": "RSA", "PS384": "RSA", "PS512": "RSA",
                "ES256": "EC P-256", "ES384": "EC P-384", "ES512": "EC P-521", "EdDSA": "OKP"}
EC_CURVES = {"P-256": (ec.SECP256R1, 32), "P-384": (ec.SECP384R1, 48), "P-521": (ec.SECP521R1, 66)}
OKP_CURVES = {"Ed25519": (ed25519.Ed25519PublicKey, 32), "Ed448": (ed448.Ed448PublicKey, 57)}
MIN_RSA_BITS = 2048  # RFC 7518 §3.3 (RS*), §3.5 (PS*)
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


@dataclass(frozen=True)
class VerificationKey:
    """One usable public key of a remote JWK Set."""
    kid: str | None
    key: Any  # a cryptography public key object, as PyJWT takes it
    family: str  # ALG_FAMILIES value
    alg: str | None  # the JWK's own "alg", if it had one
    material: tuple  # the key-defining members (a kid whose material changes is a withdrawn key)

    def usable_for(self, alg: Any) -> bool:
        """RFC 8725 §3.1: the token's alg is of this key's family and, if the JWK names one, is that one."""
        return ALG_FAMILIES.get(alg) == self.family and (self.alg is None or self.alg == alg)


def b64url_bytes(value: Any, name: str) -> bytes:
    """Strict base64url (RFC 7515 §2): letters, digits, - and _, no padding; else ValueError."""
    if not isinstance(value, str) or not value or not all(c.isascii() and (c.isalnum() or c in "-_")
                                                          for c in value):
        raise ValueError(f"{name} is not base64url")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _jwk_family(jwk: dict) -> str | None:
    kty = jwk.get("kty")
    if kty == "RSA":
        return "RSA"
    if kty == "EC" and jwk.get("crv") in EC_CURVES:
        return f"EC {jwk['crv']}"
    if kty == "OKP" and jwk.get("crv") in OKP_CURVES:
        return "OKP"
    return None


def _public_key(jwk: dict, family: str) -> tuple[Any, tuple]:
    """The cryptography key object of a public JWK (ValueError/TypeError if unusable)."""
    if family == "RSA":
        n, e = b64url_bytes(jwk.get("n"), "n"), b64url_bytes(jwk.get("e"), "e")
        key = rsa.RSAPublicNumbers(int.from_bytes(e, "big"), int.from_bytes(n, "big")).public_key()
        if key.key_size < MIN_RSA_BITS:
            raise ValueError(f"RSA key of {key.key_size} bits")
        return key, ("RSA", jwk["n"], jwk["e"])
    if family.startswith("EC "):
        curve, size = EC_CURVES[jwk["crv"]]
        x, y = b64url_bytes(jwk.get("x"), "x"), b64url_bytes(jwk.get("y"), "y")
        if len(x) != size or len(y) != size:  # RFC 7518 §6.2.1.2: full-length coordinates
            raise ValueError("EC coordinate of the wrong length")
        key = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"),
                                            curve()).public_key()  # checks the point is on the curve
        return key, ("EC", jwk["crv"], jwk["x"], jwk["y"])
    cls, size = OKP_CURVES[jwk["crv"]]
    x = b64url_bytes(jwk.get("x"), "x")
    if len(x) != size:
        raise ValueError("OKP key of the wrong length")
    return cls.from_public_bytes(x), ("OKP", jwk["crv"], jwk["x"])


def verification_key(jwk: Any, algorithms: tuple[str, ...] = (ALG,)) -> VerificationKey | None:
    """A verification key from one JWK for the given algorithms, or None if this JWK must not be used for
    them: RFC 8725 §3.1 (algorithm family; the JWK's alg, if any, allowed), RFC 7517 §4.2/§4.3 (use sig,
    key_ops verify), RFC 7518 §3.3 (RSA >= 2048 bits), §6.2.1 (EC curve of the alg); public keys only."""
    if not isinstance(jwk, dict):
        return None
    family = _jwk_family(jwk)
    if family is None or family not in {ALG_FAMILIES.get(a) for a in algorithms}:
        return None
    if jwk.get("use", "sig") != "sig":
        return None
    alg = jwk.get("alg")
    if alg is not None and (alg not in algorithms or ALG_FAMILIES.get(alg) != family):
        return None
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return None
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        return None
    if any(m in jwk for m in PRIVATE_MEMBERS):
        log.warning("a JWK Set publishes a private key (kid %r): not used", str(kid)[:40])
        return None
    try:
        key, material = _public_key(jwk, family)
    except (ValueError, TypeError, KeyError):
        return None
    return VerificationKey(kid, key, family, alg, material)


def usable_keys(jwks: Any, algorithms: tuple[str, ...] = (ALG,)) -> dict[str | None, VerificationKey]:
    """kid -> key for every usable key of a JWK Set; a kid seen twice is ambiguous and dropped (RFC 7517
    §4.5); keys without kid are listed under None (and so count as one kid)."""
    entries = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(entries, list):
        raise DiscoveryError("the JWK Set has no 'keys' array")
    keys: dict[str | None, VerificationKey] = {}
    dupes: set[str | None] = set()
    for jwk in entries:
        entry = verification_key(jwk, algorithms)
        if entry is None:
            continue
        if entry.kid in keys:
            dupes.add(entry.kid)
        keys[entry.kid] = entry
    for kid in dupes:
        del keys[kid]
    return keys


class RemoteJWKS:
    """Another issuer's signing keys, fetched from its ``jwks_uri`` (found by RFC 8414/OIDC discovery
    unless configured) and cached by ``kid``. Used by backend4, the proxy's token exchange and ``run.py flow``.

    - Only keys usable for ``algorithms`` are kept (``verification_key``); a token's key must suit the
      token's alg (``VerificationKey.usable_for``).
    - An unknown kid refetches at most once per ``refetch_interval`` (so forged kids cannot turn us into a
      load generator against the issuer), single-flight (concurrent callers wait for the fetch in flight).
    - Fetches are bounded (timeout, size, no redirects). If the issuer is down the cached keys keep serving;
      if we never had keys, ``resolve`` says 503 temporarily_unavailable (the token may be fine).
    - ``run()`` fetches in the background with backoff until it works, then every ``refresh_interval``;
      ``on_keys_removed(kids)`` is called when keys disappear or change (drop cached verifications then).
    - The URL comes from configuration or the issuer's own metadata, never from a token (RFC 8725 §3.10).
    """

    def __init__(self, issuer: str, jwks_uri: str | None = None, *, algorithms: tuple[str, ...] = (ALG,),
                 discover_metadata: bool | None = None, refetch_interval: float = 30.0,
                 retry_interval: float = 5.0, refresh_interval: float = 600.0, timeout: float = 5.0,
                 max_bytes: int = MAX_DOCUMENT_BYTES, clock: Callable[[], float] = time.monotonic) -> None:
        algorithms = tuple(algorithms)
        if not algorithms or not set(algorithms) <= set(ALG_FAMILIES):
            raise ValueError(f"algorithms must be asymmetric JWS algorithms, got {list(algorithms)}")
        self.issuer = issuer
        self.configured_jwks_uri = jwks_uri
        self.algorithms = algorithms
        # Metadata is needed for the jwks_uri unless configured; a caller may still want it (endpoints).
        self.discover_metadata = jwks_uri is None if discover_metadata is None else discover_metadata
        self.refetch_interval = refetch_interval  # an unknown kid refetches at most this often
        self.retry_interval = retry_interval  # while we have no keys at all
        self.refresh_interval = refresh_interval  # background refresh (drops removed keys)
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.clock = clock
        self.session: aiohttp.ClientSession | None = None
        self.metadata: dict | None = None
        self.keys: dict[str | None, VerificationKey] = {}
        self.fetched_at: float | None = None  # last success
        self.attempted_at = -math.inf  # last attempt, successful or not
        self.fetches = 0
        self.on_keys_removed: Callable[[set], None] | None = None
        self.on_metadata: Callable[[dict], None] | None = None
        self._lock = asyncio.Lock()

    @property
    def jwks_uri(self) -> str | None:
        if self.configured_jwks_uri:
            return self.configured_jwks_uri
        return self.metadata.get("jwks_uri") if self.metadata else None

    def _due(self) -> bool:
        interval = self.refetch_interval if self.fetched_at is not None else self.retry_interval
        return self.clock() - self.attempted_at >= interval

    async def _discover(self) -> None:
        """The issuer's metadata, until we have it; required only without a configured jwks_uri."""
        assert self.session is not None
        if self.metadata is not None or not self.discover_metadata:
            return
        try:
            meta = await discover(self.session, self.issuer, timeout=self.timeout)
            if not self.configured_jwks_uri:
                check_http_url(meta.get("jwks_uri"), "jwks_uri")
        except DiscoveryError:
            if self.configured_jwks_uri:
                return  # the metadata is optional then; tried again at the next fetch
            raise
        self.metadata = meta
        if self.on_metadata is not None:
            self.on_metadata(meta)

    async def fetch(self) -> bool:
        """Fetch the key set now (discovering first if needed). On failure keep what we had."""
        assert self.session is not None, "RemoteJWKS used without an HTTP session"
        self.attempted_at = self.clock()
        self.fetches += 1
        try:
            await self._discover()
            uri = self.jwks_uri
            if uri is None:
                raise DiscoveryError("no jwks_uri")
            document = await fetch_json(self.session, uri, timeout=self.timeout, max_bytes=self.max_bytes)
            keys = usable_keys(document, self.algorithms)
        except DiscoveryError as exc:
            log.warning("JWKS of %s unavailable (%s); %s", self.issuer, exc,
                        f"serving {len(self.keys)} cached key(s)" if self.keys else "no keys yet")
            return False
        removed = {kid for kid, old in self.keys.items()
                   if kid not in keys or keys[kid].material != old.material}
        self.keys = keys
        self.fetched_at = self.clock()
        log.info("JWKS of %s: %d usable key(s)", self.issuer, len(keys))
        if removed and self.on_keys_removed is not None:
            self.on_keys_removed(removed)
        return True

    async def fetch_locked(self) -> bool:
        async with self._lock:
            return await self.fetch()

    async def refetch_if_due(self) -> None:
        """One fetch at a time: a caller that finds a fetch in flight waits for it instead of starting
        another (so a request racing the start-up fetch is not turned away)."""
        if self._lock.locked():
            async with self._lock:
                return
        if not self._due():
            return
        async with self._lock:
            if self._due():
                await self.fetch()

    def pick(self, kid: str | None) -> VerificationKey | None:
        if kid is None and len(self.keys) == 1:  # RFC 7515 §4.1.4: kid is optional; one key is unambiguous
            return next(iter(self.keys.values()))
        return self.keys.get(kid) if kid is not None else None

    async def resolve(self, header: dict) -> Any:
        """A TokenVerifier key resolver: the key named by ``kid`` (refetching, rate-limited, if unknown),
        provided it is meant for the token's ``alg`` (the verifier has checked alg against its policy)."""
        kid = header.get("kid")
        entry = self.pick(kid)
        if entry is None:
            await self.refetch_if_due()
            entry = self.pick(kid)
        if entry is None:
            if self.fetched_at is None:
                raise TemporarilyUnavailable("the issuer's keys could not be fetched yet", retry_after=5)
            raise InvalidToken("no key for this kid" if kid is not None else "no kid and several keys")
        if not entry.usable_for(header.get("alg")):
            raise InvalidToken(f"key {str(kid)[:40]!r} is not for alg {str(header.get('alg'))[:10]!r}")
        return entry.key

    async def run(self) -> None:
        """Background: fetch at start-up with backoff until it works, then refresh periodically."""
        delay = 1.0
        while True:
            if await self.fetch_locked():
                delay = 1.0
                await asyncio.sleep(self.refresh_interval)
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.refetch_interval)

    def running(self, session: aiohttp.ClientSession):
        """Use ``session`` and keep the keys fresh in the background while the block runs."""
        return polling(self, session)
