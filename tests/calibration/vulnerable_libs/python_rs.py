"""A tiny resource server around one version of a Python JWT library, written the way applications of that
version's time wrote it (tests only; run it with the vendored version first on PYTHONPATH).

``--mode pkcs1``: the public key is read from a PKCS#1 PEM file (``-----BEGIN RSA PUBLIC KEY-----``) and
``jwt.decode(token, key, audience=..., issuer=...)`` is called without ``algorithms``, as PyJWT 1.x allowed:
CVE-2017-11424 (PyJWT <= 1.5.0 let that key be used as an HMAC secret; 1.5.1 refuses it, and 1.5.2 is the first
version that also verifies signatures when ``algorithms`` is not given).

``--mode openssh``: the public key is an OpenSSH ``ecdsa-sha2-nistp256`` line and the algorithms passed are
``jwt.algorithms.get_default_algorithms()``, as in the advisory's proof of concept: CVE-2022-29217
(PyJWT <= 2.3.0 let that key be used as an HMAC secret; 2.4.0 refuses it).

``--mode hs256``: a careful HS256 application (``algorithms=["HS256"]``, issuer and audience given):
CVE-2024-53861 (PyJWT 2.10.0 compared a string ``issuer`` with ``in``, so any substring of it passed as
``iss``; 2.10.1 compares for equality).

``--mode python-jwt``: python-jwt's ``verify_jwt(token, jwk, ["HS256"], checks_optional=True)`` with the
HS256 secret as an ``oct`` JWK: CVE-2022-39227 (python-jwt < 3.3.4 read the claims from the compact form
while jwcrypto verified the JSON serialisation of the same string; 3.3.4 refuses such polyglots).

``--mode authlib``: Authlib's ``jwt.decode(token, pem, claims_options=...)`` with the RS256 public key as SPKI
PEM and no algorithm named: CVE-2024-37568 (Authlib < 1.3.1 used those PEM bytes as the HMAC secret of an
HS256 token; 1.3.1 refuses to import a PEM or SSH key as an HMAC secret).

``GET /users/me`` answers 200 with the subject, or 401 with an RFC 6750 §3 challenge; ``GET /health`` 200.
"""
from __future__ import annotations

import argparse
import collections
import collections.abc
import json
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# PyJWT 1.5 imports these from ``collections``, which Python 3.10 removed: the one alias it needs today.
for _name in ("Mapping", "Iterable", "Sequence"):
    setattr(collections, _name, getattr(collections.abc, _name))
warnings.simplefilter("ignore")


class Refused(Exception):
    """The library refused the token."""


def make_verifier(key: bytes, mode: str, issuer: str, audience: str):
    """``verify(token) -> claims``, raising Refused, as the application calls its library."""
    if mode == "authlib":
        from authlib.jose import jwt as authlib_jwt
        options = {"iss": {"essential": True, "value": issuer}, "aud": {"essential": True, "value": audience},
                   "exp": {"essential": True}}

        def verify(token: str) -> dict:
            try:
                claims = authlib_jwt.decode(token, key, claims_options=options)
                claims.validate()
            except Exception as exc:  # noqa: BLE001 - Authlib raises JoseError, and ValueError for a refused key
                raise Refused(str(exc)) from None
            return dict(claims)
        return verify
    if mode == "python-jwt":
        import python_jwt
        from jwcrypto import jwk
        from jwcrypto.common import base64url_encode
        secret = jwk.JWK(kty="oct", k=base64url_encode(key))

        def verify(token: str) -> dict:
            try:
                _header, claims = python_jwt.verify_jwt(token, secret, ["HS256"], checks_optional=True)
            except Exception as exc:  # noqa: BLE001 - python-jwt raises plain exceptions of several kinds
                raise Refused(str(exc)) from None
            if claims.get("iss") != issuer or claims.get("aud") != audience:
                raise Refused("issuer or audience")
            return claims
        return verify
    import jwt
    refused = tuple(e for e in (getattr(jwt, "PyJWTError", None), jwt.InvalidTokenError,
                                getattr(jwt.exceptions, "InvalidKeyError", None)) if e is not None)
    algorithms = {"openssh": list(jwt.algorithms.get_default_algorithms()), "hs256": ["HS256"]}.get(mode)

    def verify(token: str) -> dict:
        kwargs = {"audience": audience, "issuer": issuer}
        try:
            return jwt.decode(token, key, **kwargs) if algorithms is None else \
                jwt.decode(token, key, algorithms=algorithms, **kwargs)
        except refused as exc:
            raise Refused(str(exc)) from None
    return verify


def make_handler(key: bytes, mode: str, issuer: str, audience: str):
    verify = make_verifier(key, mode, issuer, audience)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, body: dict, challenge: str | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if challenge:
                self.send_header("WWW-Authenticate", challenge)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/health":
                return self._send(200, {"status": "ok"})
            if self.path != "/users/me":
                return self._send(404, {"error": "not_found"})
            scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not token:
                return self._send(401, {"error": "unauthorized"}, "Bearer")
            try:
                claims = verify(token)
            except Refused:
                return self._send(401, {"error": "invalid_token"}, 'Bearer error="invalid_token"')
            return self._send(200, {"sub": claims.get("sub")})
    return Handler


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--key-file", required=True, help="the public key (or the HS256 secret), as the application holds it")
    p.add_argument("--mode", choices=("pkcs1", "openssh", "hs256", "python-jwt", "authlib"), required=True)
    p.add_argument("--issuer", required=True)
    p.add_argument("--audience", required=True)
    a = p.parse_args()
    with open(a.key_file, "rb") as fh:
        key = fh.read()
    server = ThreadingHTTPServer(("127.0.0.1", a.port), make_handler(key, a.mode, a.issuer, a.audience))
    server.serve_forever()


if __name__ == "__main__":
    main()
