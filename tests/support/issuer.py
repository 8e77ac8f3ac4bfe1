"""A local RS256 authorization server's public face (RFC 8414 metadata and a JWKS over real HTTP) and the
pieces the backend4 tests share: bearer headers, the invalid_token assertion, waiting for the first JWKS fetch,
and client_credentials / GET against live processes."""
from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from servers.backend4 import KEYSET

from .jose import b64uint
from .settings import free_port

AUD = "http://127.0.0.1:9000"  # make_settings: port 9000, so backend4's identifier is its public URL
INVALID_TOKEN = 'Bearer error="invalid_token"'
DROP = object()


def jwk_of(key: rsa.RSAPrivateKey, kid: str | None, **members) -> dict:
    nums = key.public_key().public_numbers()
    jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "n": b64uint(nums.n), "e": b64uint(nums.e)}
    if kid is not None:
        jwk["kid"] = kid
    jwk.update(members)
    return {k: v for k, v in jwk.items() if v is not DROP}


_KEYS: dict[str, rsa.RSAPrivateKey] = {}


def rsa_key(name: str, bits: int = 2048) -> rsa.RSAPrivateKey:
    """RSA keys are slow to make: one per name for the whole session."""
    if name not in _KEYS:
        _KEYS[name] = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return _KEYS[name]


@dataclass
class LocalIssuer:
    """An RS256 authorization server's public face: discovery metadata and a JWKS, over real HTTP."""
    port: int = field(default_factory=free_port)
    jwks: list = field(default_factory=list)
    metadata_path: str = "/.well-known/oauth-authorization-server"
    metadata_issuer: str | None = None  # None: the true issuer
    hits: dict = field(default_factory=dict)
    jwks_delay: float = 0.0  # seconds the JWKS answer takes (a slow issuer)
    extra_metadata: dict = field(default_factory=dict)
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def metadata(self) -> dict:
        return {"issuer": self.metadata_issuer or self.url, "jwks_uri": self.url + "/keys/jwks.json",
                "authorization_endpoint": self.url + "/oauth/authorize",
                "token_endpoint": self.url + "/oauth/token", "revocation_endpoint": self.url + "/oauth/revoke",
                "code_challenge_methods_supported": ["S256"], **self.extra_metadata}

    def app(self) -> web.Application:
        async def metadata(request: web.Request) -> web.Response:
            self.hits["metadata"] = self.hits.get("metadata", 0) + 1
            return web.json_response(self.metadata())

        async def keys(request: web.Request) -> web.Response:
            self.hits["jwks"] = self.hits.get("jwks", 0) + 1
            await asyncio.sleep(self.jwks_delay)
            return web.json_response({"keys": self.jwks})

        app = web.Application()
        app.router.add_get(self.metadata_path, metadata)
        app.router.add_get("/keys/jwks.json", keys)
        return app

    async def start(self) -> LocalIssuer:
        self.runner = web.AppRunner(self.app())
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    def publish(self, name: str, kid: str | None = None, **members) -> str:
        kid = kid if kid is not None else name + "-kid"
        self.jwks.append(jwk_of(rsa_key(name), kid, **members))
        return kid

    def claims(self, **overrides) -> dict:
        now = int(time.time())
        claims = {"iss": self.url, "sub": "johndoe", "aud": AUD, "iat": now, "exp": now + 300,
                  "client_id": "frontend", "azp": "frontend", "gty": "authorization-code",
                  "scope": "me items", "jti": uuid.uuid4().hex}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not DROP}

    def mint(self, name: str = "k1", *, kid: object = None, alg: str = "RS256", header: dict | None = None,
             key=None, **claims) -> str:
        """A token signed by key ``name`` (kid ``name-kid`` unless given; DROP removes it)."""
        h = {"typ": "at+jwt", "kid": name + "-kid" if kid is None else kid, **(header or {})}
        h = {k: v for k, v in h.items() if v is not DROP}
        return jwt.encode(self.claims(**claims), key or rsa_key(name), algorithm=alg, headers=h)


@pytest.fixture
async def issuer():
    iss = LocalIssuer()
    iss.publish("k1")
    await iss.start()
    yield iss
    await iss.stop()


async def settled(app: web.Application, fetches: int = 1) -> None:
    """Wait for the start-up JWKS fetch of backend4's background task."""
    ks = app[KEYSET]
    for _ in range(200):
        if ks.fetches >= fetches and not ks._lock.locked():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("backend4 never fetched the JWKS")


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def assert_invalid_token(resp) -> None:
    assert resp.status == 401, await resp.text()
    assert resp.headers["WWW-Authenticate"] == INVALID_TOKEN
    body = await resp.json()
    assert body["error"] == "invalid_token"
    assert "Traceback" not in json.dumps(body)


def get(url: str, token: str | None = None) -> tuple[int, dict, dict]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"{}")


def client_credentials(proxy: str, keys_dir, scope: str, resource: str | None = None) -> dict:
    secret = (keys_dir / "client-secret-m2m").read_text().strip()
    body = f"grant_type=client_credentials&scope={scope}" + (f"&resource={resource}" if resource else "")
    req = urllib.request.Request(proxy + "/token", data=body.encode(), method="POST", headers={
        "Authorization": "Basic " + base64.b64encode(f"m2m:{secret}".encode()).decode()})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return {"status": e.code, **json.loads(e.read() or b"{}")}
