"""harness/forge.py: hand-built JWS must be byte-exact (RFC 7515 Appendix A known answers) and able to
build what PyJWT refuses (public key as HMAC secret, alg none, duplicate members, non-UTF-8 JSON)."""
from __future__ import annotations

import hashlib
import hmac
import json

from cryptography.hazmat.primitives import serialization

from harness import forge

A1_HEADER = '{"typ":"JWT",\r\n "alg":"HS256"}'
A1_PAYLOAD = '{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}'
A1_KEY = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
A1_TOKEN = ("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9l"
            "eGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
A2_N = ("ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-"
        "pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2Ca"
        "pHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb5"
        "4h4FRWyuXpoQ")
A2_TOKEN = ("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290"
            "Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbd"
            "s9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383"
            "LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVr"
            "Bp0igcN_IoypGlUPQGe77Rw")


def test_hs256_reproduces_rfc7515_a1():
    """RFC 7515 Appendix A.1: the HS256 JWS over the exact header/payload octets (CRLF kept) is the published token."""
    assert forge.jws(A1_HEADER, A1_PAYLOAD, forge.b64url_decode(A1_KEY), "HS256") == A1_TOKEN


def test_rs256_verifies_rfc7515_a2():
    """RFC 7515 Appendix A.2: the published RS256 token verifies with the published public key, and a bit flip fails."""
    key = forge.public_key_from_jwk({"kty": "RSA", "n": A2_N, "e": "AQAB"})
    h, p, s = forge.split(A2_TOKEN)
    assert forge.verify("RS256", key, f"{h}.{p}".encode(), forge.b64url_decode(s))
    assert not forge.verify("RS256", key, f"{h}.{p}x".encode(), forge.b64url_decode(s))


def test_rs256_round_trip_with_harness_key():
    """A token the forge signs RS256 verifies with the matching public key (RSASSA-PKCS1-v1_5 is deterministic)."""
    key = forge.harness_rsa_key()
    token = forge.jws({"alg": "RS256"}, {"sub": "x"}, key)
    h, p, s = forge.split(token)
    assert forge.verify("RS256", key.public_key(), f"{h}.{p}".encode(), forge.b64url_decode(s))
    assert token == forge.jws({"alg": "RS256"}, {"sub": "x"}, key)


def test_es256_signature_is_raw_r_s():
    """RFC 7518 §3.4: ES256 signatures are the 64-byte R||S, not DER."""
    key = forge.harness_ec_key()
    token = forge.jws({"alg": "ES256"}, {"sub": "x"}, key)
    h, p, s = forge.split(token)
    assert len(forge.b64url_decode(s)) == 64
    assert forge.verify("ES256", key.public_key(), f"{h}.{p}".encode(), forge.b64url_decode(s))


def test_alg_none_header_matches_catalog_example():
    """Catalog Appendix A: {"alg":"none","typ":"JWT"} encodes to eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."""
    token = forge.unsigned_token({"typ": "JWT"}, {"sub": "x"}, "none")
    assert forge.segment({"alg": "none", "typ": "JWT"}) == "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"
    assert token.endswith(".") and forge.header_of(token) == {"typ": "JWT", "alg": "none"}


def test_public_key_as_hmac_secret_uses_exact_bytes():
    """CVE-2016-10555 and kin: HS256 keyed with the PEM bytes, exactly as published (trailing newline kept)."""
    pub = forge.harness_rsa_key().public_key()
    pem = pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    token = forge.hmac_token({"alg": "RS256"}, {"sub": "x"}, pem, "HS256")
    h, p, s = forge.split(token)
    assert forge.header_of(token)["alg"] == "HS256"
    assert forge.b64url_decode(s) == hmac.new(pem, f"{h}.{p}".encode(), hashlib.sha256).digest()


def test_public_key_variants_cover_every_encoding():
    """The catalog's confusion rows: SPKI PEM, its variants, PKCS#1, DER, certificate, JWK and OpenSSH."""
    groups = forge.public_key_variants(forge.harness_rsa_key().public_key())
    assert set(groups) == {"spki-pem", "pem-variants", "pkcs1-pem", "der-cert-jwk", "openssh"}
    v = groups["pem-variants"]
    assert v["spki-pem-no-trailing-newline"] + b"\n" == groups["spki-pem"]["spki-pem"]
    assert b"\r\n" in v["spki-pem-crlf"] and v["spki-pem-prefix-space"].startswith(b" -----BEGIN")
    assert groups["pkcs1-pem"]["pkcs1-pem"].startswith(b"-----BEGIN RSA PUBLIC KEY-----")
    assert groups["openssh"]["openssh"].startswith(b"ssh-rsa ")
    assert json.loads(groups["der-cert-jwk"]["jwk-json"])["kty"] == "RSA"
    assert groups["der-cert-jwk"]["x509-cert-pem"].startswith(b"-----BEGIN CERTIFICATE-----")
    all_values = [b for g in groups.values() for b in g.values()]
    assert len(all_values) == len(set(all_values))


def test_psychic_signatures_match_cve_2022_21449_forms():
    """DER r=s=0 is MAYCAQACAQA; the raw ES256 form is 64 zero bytes = 86 'A'."""
    sigs = forge.psychic_signatures("ES256")
    assert sigs["der-zero"] == "MAYCAQACAQA" and forge.b64url_decode("MAYCAQACAQA") == bytes.fromhex("3006020100020100")
    assert sigs["raw-zero"] == "A" * 86
    assert len(forge.b64url_decode(forge.psychic_signatures("ES384")["raw-zero"])) == 96


def test_raw_parts_allow_duplicate_members_and_non_utf8():
    """RFC 7519 §4 duplicates and RFC 8725 §3.7 encodings can only be tested if the forge writes raw octets."""
    token = forge.jws('{"alg":"HS256","alg":"none"}', '{"sub":"a","sub":"b"}', b"k", "HS256")
    h, p, _ = forge.split(token)
    assert forge.b64url_decode(p) == b'{"sub":"a","sub":"b"}'
    utf16 = forge.jws({"alg": "HS256"}, json.dumps({"sub": "x"}).encode("utf-16-le"), b"k")
    assert forge.b64url_decode(forge.split(utf16)[1]) == '{"sub": "x"}'.encode("utf-16-le")
