"""JSON Web Keys (RFC 7517): our public keys as JWKs with RFC 7638 thumbprints as ``kid``, and the filter
that turns another issuer's JWK Set into usable verification keys (RFC 7518 §6, RFC 8037; RFC 8725 §3.1: one
algorithm family per key, no short RSA keys, no private members)."""
from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from ..discovery import DiscoveryError

log = logging.getLogger("oauthlab.jwks")

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
