"""Small HTTP servers the harness runs itself, on 127.0.0.1:

- ``Listener``: the out-of-band canary. Attack tokens point ``jku``/``x5u``/claims at unique paths on it;
  a secure target never fetches them (RFC 8725 §3.10; draft 8725bis on SSRF). Every request is recorded.
  It serves a harness JWKS and certificate on those paths, so a target that does fetch them would be
  fooled (jwt_tool ``-X s``), which is what makes the attack real.
- ``HostedIssuer``: for profiles with ``hosted_issuer = "HOST:PORT"``, an issuer whose discovery document
  (RFC 8414 / OIDC) and JWKS the target is configured to trust, so the harness can mint RS256 tokens for
  a black-box resource server.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import forge


@dataclass
class Hit:
    method: str
    path: str
    user_agent: str


@dataclass
class Listener:
    host: str = "127.0.0.1"
    port: int = 0
    hits: list[Hit] = field(default_factory=list)
    jwks: dict = field(default_factory=dict)
    cert_pem: bytes = b""
    _runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, tag: str) -> str:
        """A unique URL for one probe: ``/oob/<tag>-<random>``."""
        return f"{self.base}/oob/{tag}-{secrets.token_hex(4)}"

    def hits_for(self, prefix: str) -> list[Hit]:
        path = prefix.split(self.base, 1)[-1]
        return [h for h in self.hits if h.path.startswith(path)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(Hit(request.method, request.path_qs, request.headers.get("User-Agent", "")))
        if "x5u" in request.path or request.path.endswith(".pem"):
            return web.Response(body=self.cert_pem, content_type="application/x-pem-file")
        return web.json_response(self.jwks)

    async def start(self) -> "Listener":
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@dataclass
class HostedIssuer:
    """Discovery + JWKS for a harness-controlled issuer at ``http://HOST:PORT``."""
    host: str
    port: int
    issuer: str
    key: Any
    kid: str
    _runner: web.AppRunner | None = None

    def documents(self) -> dict[str, Any]:
        jwk = forge.public_jwk(self.key, kid=self.kid, use="sig", alg=forge.alg_for_key(self.key))
        meta = {"issuer": self.issuer, "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
                "token_endpoint": f"{self.issuer}/token", "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": [jwk["alg"]], "subject_types_supported": ["public"]}
        return {"/.well-known/oauth-authorization-server": meta, "/.well-known/openid-configuration": meta,
                "/.well-known/jwks.json": {"keys": [jwk]}, "/jwks.json": {"keys": [jwk]}}

    async def start(self) -> "HostedIssuer":
        docs = self.documents()
        app = web.Application()
        for path, doc in docs.items():
            body = json.dumps(doc)
            app.router.add_get(path, lambda r, body=body: web.Response(text=body, content_type="application/json"))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
