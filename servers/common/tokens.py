"""JWT access tokens: issue and verify with ONE fixed policy per server.

RFC 7519 (JWT), RFC 9068 (JWT profile for access tokens), RFC 8725 (JWT best current practices):
- the algorithm allow-list is the server's, never taken from the token header (RFC 8725 §3.1);
- ``crit``, ``b64`` and key-carrying headers (``jku``, ``jwk``, ``x5u``, ``x5c``) are refused: this
  verifier understands no extension and takes keys only from its own configuration (RFC 8725 §3.10);
- compact serialisation only, strict base64url without padding or whitespace (RFC 7515 §2, §7.1);
- required claims are listed (PyJWT verifies only the claims present unless they are required);
- NumericDate claims must be JSON numbers (PyJWT alone would accept the string "9999999999");
- every failure, whatever the library raised, is one RFC 6750 ``invalid_token``.

Verified tokens are cached (bounded LRU keyed by the token, entries expire with the token), so a
repeated token costs a dictionary look-up instead of a signature check.
"""
from __future__ import annotations

import base64
import json
import logging
import math
import os
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .errors import InvalidToken

log = logging.getLogger("oauthlab.tokens")

COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
MAX_TOKEN_LENGTH = 8192
FORBIDDEN_HEADERS = ("crit", "b64", "jku", "jwk", "x5u", "x5c")
NUMERIC_DATES = ("exp", "iat", "nbf")


@dataclass(frozen=True)
class TokenPolicy:
    """What a server accepts. Frozen: one per server, built at start-up."""
    algorithms: tuple[str, ...]
    issuer: str
    audience: str
    leeway: int = 30
    required: tuple[str, ...] = ("exp", "iat", "iss", "aud", "sub")
    # Accepted ``typ`` values, compared case-insensitively after dropping "application/" (RFC 8725 §3.11,
    # RFC 9068 §4). None: typ is not checked.
    typ: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not self.algorithms or "none" in (a.lower() for a in self.algorithms):
            raise ValueError("a token policy needs a non-empty algorithm allow-list without 'none'")
        if self.leeway > 30:
            raise ValueError("leeway above 30 s is not allowed")


KeyResolver = Callable[[dict], Awaitable[Any]]


def b64url_json(segment: str) -> Any:
    """Decode one base64url JSON segment already checked against the base64url alphabet."""
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    return json.loads(raw.decode("utf-8"))


def _normalise_typ(typ: str) -> str:
    typ = typ.lower()
    return typ[len("application/"):] if typ.startswith("application/") else typ


def check_format(token: str) -> None:
    """RFC 7515 §7.1 compact form, base64url without padding, bounded length (RFC 8725 §3.7 and DoS)."""
    if len(token) > MAX_TOKEN_LENGTH or not COMPACT_JWS.fullmatch(token):
        raise InvalidToken("token is not a compact JWS")


def check_header(header: Any, policy: TokenPolicy) -> None:
    """The header is an object, names an allowed algorithm exactly, and carries nothing we refuse."""
    if not isinstance(header, dict):
        raise InvalidToken("header is not a JSON object")
    if header.get("alg") not in policy.algorithms:
        raise InvalidToken(f"alg {header.get('alg')!r} not allowed")
    for name in FORBIDDEN_HEADERS:
        if name in header:
            raise InvalidToken(f"header parameter {name!r} refused")
    if "kid" in header and not isinstance(header["kid"], str):
        raise InvalidToken("kid is not a string")
    if policy.typ is not None:
        typ = header.get("typ")
        if not isinstance(typ, str) or _normalise_typ(typ) not in policy.typ:
            raise InvalidToken(f"typ {typ!r} not accepted")


def check_claim_types(claims: Any) -> None:
    """RFC 7519 §4.1: NumericDate claims are numbers; sub/jti/scope/client_id are strings."""
    if not isinstance(claims, dict):
        raise InvalidToken("payload is not a JSON object")
    for name in NUMERIC_DATES:
        if name in claims:
            v = claims[name]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise InvalidToken(f"{name} is not a NumericDate")
    for name in ("sub", "jti", "scope", "client_id", "azp"):
        if name in claims and not isinstance(claims[name], str):
            raise InvalidToken(f"{name} is not a string")
    if "sub" in claims and not claims["sub"]:
        raise InvalidToken("sub is empty")


class TokenVerifier:
    """Verifies compact JWS access tokens against one policy; keys come from ``resolve_key(header)``."""

    def __init__(self, policy: TokenPolicy, resolve_key: KeyResolver, cache_size: int = 10_000,
                 make: Callable[[dict], Any] | None = None) -> None:
        """``make`` turns verified claims into what ``verify`` returns (default: the claims themselves);
        its result is cached with the token, so per-token work (a Principal, a response body) is done once."""
        self.policy = policy
        self.resolve_key = resolve_key
        self.cache_size = cache_size
        self.make = make
        # token -> (made object, exp, claims); at most cache_size tokens of at most MAX_TOKEN_LENGTH each
        self._cache: OrderedDict[str, tuple[Any, float, dict]] = OrderedDict()
        self._options = {"require": list(policy.required), "verify_signature": True, "verify_exp": True,
                         "verify_iat": True, "verify_nbf": True, "verify_iss": True, "verify_aud": True,
                         "strict_aud": False}

    def cached(self, token: str) -> Any:
        """What ``verify`` returned for a token verified before and not yet expired (a token only enters
        the cache after passing every check, so a hit needs none of them again). The cache is keyed by
        the token itself: a dictionary look-up hashes it in a fraction of what a SHA-256 costs."""
        hit = self._cache.get(token)
        if hit is None:
            return None
        if hit[1] + self.policy.leeway <= time.time():
            del self._cache[token]
            return None
        self._cache.move_to_end(token)
        return hit[0]

    def forget(self, predicate: Callable[[dict], bool]) -> int:
        """Drop cached entries whose claims match (revocation, key removal). Returns how many."""
        doomed = [k for k, (_, _, claims) in self._cache.items() if predicate(claims)]
        for k in doomed:
            del self._cache[k]
        return len(doomed)

    async def verify(self, token: str) -> Any:
        if self.cache_size:
            hit = self.cached(token)
            if hit is not None:
                return hit
        check_format(token)
        header_segment = token.split(".", 1)[0]
        try:
            header = b64url_json(header_segment)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise InvalidToken(f"header does not decode: {exc.__class__.__name__}") from None
        check_header(header, self.policy)
        key = await self.resolve_key(header)
        claims = self.decode(token, key)
        made = self.make(claims) if self.make is not None else claims
        if self.cache_size:
            self._cache[token] = (made, float(claims["exp"]), claims)
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return made

    def decode(self, token: str, key: Any) -> dict:
        """Signature and registered claims by PyJWT with the fixed policy; types checked before it."""
        try:
            unverified = b64url_json(token.split(".")[1])
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise InvalidToken(f"payload does not decode: {exc.__class__.__name__}") from None
        check_claim_types(unverified)
        try:
            claims = jwt.decode(token, key, algorithms=list(self.policy.algorithms),
                                audience=self.policy.audience, issuer=self.policy.issuer,
                                leeway=self.policy.leeway, options=self._options)  # type: ignore[arg-type]
        except jwt.PyJWTError as exc:  # InvalidKeyError is outside InvalidTokenError: catch the root
            raise InvalidToken(f"{exc.__class__.__name__}: {exc}") from None
        except (ValueError, TypeError) as exc:  # a key the algorithm cannot use, a bad number...
            raise InvalidToken(f"{exc.__class__.__name__}") from None
        return claims  # the same JSON text whose types were checked above


def issue_token(claims: dict[str, Any], key: Any, algorithm: str, headers: dict[str, Any]) -> str:
    """Sign claims (PyJWT). The caller builds the claim set; see ``standard_claims``."""
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def b64url(raw: bytes) -> bytes:
    """RFC 7515 §2 base64url without padding."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


class RS256Signer:
    """RS256 compact JWS (RFC 7515 §7.1, RFC 7518 §3.3: RSASSA-PKCS1-v1_5 with SHA-256) with ONE loaded
    RSA private key (2048 bits or more) and a fixed header, encoded once: per token only the claims are
    serialised and signed. The output is what ``jwt.encode`` gives for the same key, header and claims."""

    _PADDING = padding.PKCS1v15()
    _HASH = hashes.SHA256()

    def __init__(self, key: rsa.RSAPrivateKey, kid: str, typ: str = "at+jwt") -> None:
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
            raise ValueError("RS256 needs an RSA private key of at least 2048 bits (RFC 7518 §3.3)")
        self.key, self.kid = key, kid
        header = json.dumps({"alg": "RS256", "kid": kid, "typ": typ}, separators=(",", ":"), sort_keys=True)
        self._prefix = b64url(header.encode()) + b"."

    def sign(self, claims: dict[str, Any]) -> str:
        return self.sign_payload(json.dumps(claims, separators=(",", ":")).encode())

    def sign_payload(self, payload: bytes) -> str:
        """Sign an already serialised claims object (UTF-8 JSON text)."""
        signing_input = self._prefix + b64url(payload)
        signature = self.key.sign(signing_input, self._PADDING, self._HASH)
        return (signing_input + b"." + b64url(signature)).decode("ascii")


def standard_claims(*, issuer: str, audience: str, subject: str, ttl: int, **extra: Any) -> dict[str, Any]:
    """RFC 9068 §2.2 claims: iss, sub, aud, iat, exp, jti (+ whatever the caller adds)."""
    now = int(time.time())
    claims = {"iss": issuer, "sub": subject, "aud": audience, "iat": now, "exp": now + ttl,
              "jti": os.urandom(16).hex()}  # 128 random bits, 32 hex digits
    claims.update({k: v for k, v in extra.items() if v is not None})
    return claims
