"""The resource-server kit: what a resource-server scenario's ``mutate(kit)`` works with.

It knows the target's profile, holds the valid baseline token T0 (minted with the profile's key, or
obtained with the password grant for ``algorithm = "opaque"``), the target's public keys (for the
key-confusion attacks), the out-of-band listener, and builds probes from T0 with one thing changed.

T0 (catalog "Conventions"): header ``{"alg": <profile>, "typ": <profile typ; else at+jwt for an RFC 9068
resource server, JWT otherwise>, "kid": <kid>}``, claims ``iss sub aud iat exp jti`` + ``scope`` + the
profile's extra ``claims`` (RFC 9068 §2.2). ``iss`` and ``aud`` only when the profile names them: a target
that checks neither gets tokens without them, as its own issuer would mint.
"""
from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from . import forge
from .client import send
from .listener import HostedIssuer, Listener
from .scenario import Observation, Probe
from .capabilities import resource_capabilities
from .targets import ResourceProfile, Target


class TargetUnavailable(Exception):
    """The target cannot be reached, or refuses the profile's credentials: one line for the user."""

    exit_code = 2  # a usage/configuration problem: the CLI prints it as one line and exits 2


@dataclass(frozen=True)
class PublicKey:
    kid: str | None
    key: Any
    jwk_text: str | None = None


class RSKit:
    def __init__(self, target: Target, session: aiohttp.ClientSession, listener: Listener) -> None:
        assert target.resource is not None
        self.target = target
        self.profile: ResourceProfile = target.resource
        self.session = session
        self.listener = listener
        self.valid_token: str | None = None
        self.narrow_token: str | None = None
        self.public_keys: list[PublicKey] = []
        self.kid: str | None = self.profile.signing_kid
        self.capabilities: set[str] = resource_capabilities(target.resource)
        self.hosted: HostedIssuer | None = None
        self.notes: list[str] = []
        self.phase = "attacks"  # "before" / "attacks" / "after": set by the runner around the controls

    # -- set-up ----------------------------------------------------------------------------------------
    async def prepare(self) -> None:
        """Reach the target, learn its keys, get the valid tokens. Raises TargetUnavailable."""
        p = self.profile
        if p.hosted_issuer:
            host, _, port = p.hosted_issuer.rpartition(":")
            self.hosted = HostedIssuer(host, int(port), p.issuer or f"http://{p.hosted_issuer}", p.signing_key,
                                       self.kid or "")
            try:
                await self.hosted.start()
            except OSError as exc:
                raise TargetUnavailable(f"{self.target.name}: cannot serve the hosted issuer on "
                                        f"{p.hosted_issuer}: {exc.strerror or exc}") from None
        probe = await send(self.session, "GET", self.target.url(p.endpoint), label="reachability")
        if probe.status is None:
            raise TargetUnavailable(f"{self.target.name}: {self.target.url(p.endpoint)} is unreachable "
                                    f"({probe.error})")
        if p.signing_key is not None and not p.hmac:
            self.public_keys.append(PublicKey(self.kid, p.signing_key.public_key()))
        if p.jwks_url:
            await self._fetch_jwks(p.jwks_url)
        if p.signing_key is not None and not p.hmac and self.kid is None:
            self.kid = forge.jwk_thumbprint(forge.public_jwk(p.signing_key))
            self.public_keys[0] = PublicKey(self.kid, self.public_keys[0].key)
        if self.public_keys:
            self.capabilities.add("jwks")
        if p.signing_key is not None:
            self.valid_token = self.mint()
            if p.scoped_scope:
                narrow = " ".join(s for s in p.scope.split() if s not in p.scoped_scope.split())
                self.narrow_token = self.mint(self.claims(scope=narrow) if narrow else self.claims(drop=("scope",)))
        else:
            self.valid_token = await self.password_grant(p.scope)
            if p.scoped_scope:
                narrow = " ".join(s for s in p.scope.split() if s not in p.scoped_scope.split())
                if narrow:
                    self.narrow_token = await self.password_grant(narrow)
        if self.valid_token:
            self.capabilities.add("valid_token")
            if self._is_jwt(self.valid_token):
                self.capabilities.add("jwt")
        if self.narrow_token:
            self.capabilities.add("narrow_token")
        if p.signing_key is not None and not p.issuer:
            await self._observe_foreign_issuer()

    async def _observe_foreign_issuer(self) -> None:
        """Without an issuer in the profile, whether the target accepts a token from any issuer is reported as
        a note (RFC 7519 §4.1.1 leaves iss processing to the application; for an RFC 9068 resource server the
        issuer MUST match exactly, RFC 9068 §4)."""
        foreign = "https://other-issuer.example"
        obs = await send(self.session, "GET", self.target.url(self.profile.endpoint), label="foreign issuer",
                         headers={"Authorization": f"Bearer {self.mint(self.claims(iss=foreign))}"})
        if obs.status is not None and 200 <= obs.status < 300:
            self.notes.append(f"accepts a token with iss={foreign!r} signed by its key: it does not check the "
                              "issuer (any issuer sharing the key is trusted)")

    @staticmethod
    def _is_jwt(token: str) -> bool:
        try:
            forge.header_of(token)
            forge.claims_of(token)
            return token.count(".") == 2
        except (ValueError, UnicodeDecodeError, IndexError):
            return False

    async def _fetch_jwks(self, url: str) -> None:
        obs = await send(self.session, "GET", url, label="jwks")
        if obs.status != 200 or not isinstance(obs.json, dict) and not obs.body.startswith("{"):
            self.notes.append(f"jwks_url answered {obs.status or obs.error}; key-confusion uses the private key")
            return
        try:
            doc = obs.json if isinstance(obs.json, dict) else json.loads(obs.body)
            entries = doc.get("keys", [])
        except ValueError:
            return
        mine = None
        if self.profile.signing_key is not None and not self.profile.hmac:
            mine = forge.public_jwk(self.profile.signing_key)
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("kty") not in ("RSA", "EC"):
                continue
            try:
                key = forge.public_key_from_jwk(entry)
            except (KeyError, ValueError, TypeError):
                continue
            kid = entry.get("kid")
            if mine is not None and entry.get("n", entry.get("x")) == mine.get("n", mine.get("x")):
                if self.kid is None:
                    self.kid = kid
            self.public_keys.append(PublicKey(kid, key, json.dumps(entry)))
        # de-duplicate by key material, keeping the published entry (it has the JWK text)
        seen: dict[str, PublicKey] = {}
        for k in self.public_keys:
            ident = json.dumps(forge.public_jwk(k.key), sort_keys=True)
            if ident not in seen or k.jwk_text:
                seen[ident] = PublicKey(k.kid or self.kid, k.key, k.jwk_text)
        self.public_keys = list(seen.values())

    async def password_grant(self, scope: str) -> str:
        p = self.profile
        form = {"grant_type": "password", "username": p.username or "", "password": p.password or ""}
        if scope:
            form["scope"] = scope
        if p.client_id:
            form["client_id"] = p.client_id
        obs = await send(self.session, "POST", self.target.url(p.token_endpoint or "/token"), label="password grant",
                         data=form)
        if obs.status is None:
            raise TargetUnavailable(f"{self.target.name}: token endpoint {self.target.url(p.token_endpoint or '')} "
                                    f"is unreachable ({obs.error})")
        token = obs.json.get("access_token") if isinstance(obs.json, dict) else None
        if obs.status != 200 or not isinstance(token, str):
            err = obs.json.get("error") if isinstance(obs.json, dict) else obs.body[:80]
            raise TargetUnavailable(f"{self.target.name}: the password grant for {p.username!r} failed "
                                    f"({obs.status} {err}); check username/password/client_id in the profile")
        return token

    async def close(self) -> None:
        if self.hosted is not None:
            await self.hosted.stop()

    # -- building tokens ---------------------------------------------------------------------------------
    def header(self, drop: tuple[str, ...] = (), **changes: Any) -> dict:
        p = self.profile
        h: dict[str, Any] = {"alg": p.algorithm if not p.opaque else "RS256",
                             "typ": p.required_typ or "JWT"}
        if self.kid:
            h["kid"] = self.kid
        h.update(changes)
        for name in drop:
            h.pop(name, None)
        return h

    def claims(self, drop: tuple[str, ...] = (), **changes: Any) -> dict:
        p = self.profile
        now = int(time.time())
        c: dict[str, Any] = {"iss": p.issuer, "sub": p.subject, "aud": p.audience, "iat": now,
                             "exp": now + p.lifetime, "jti": uuid.uuid4().hex}
        for name in ("iss", "aud"):
            if c[name] is None:
                del c[name]
        if p.scope.strip():
            c["scope"] = p.scope
        if p.client_id and "client_id" not in p.claims:
            c["client_id"] = p.client_id
        c.update(p.claims)
        c.update(changes)
        for name in drop:
            c.pop(name, None)
        return c

    def mint(self, claims: Any = None, header: Any = None, alg: str | None = None) -> str:
        """A token with a VALID signature by the key the target trusts (claims/header may be raw text)."""
        p = self.profile
        if p.signing_key is None:
            raise RuntimeError("this target's key is not known (needs 'mint')")
        header = self.header() if header is None else header
        claims = self.claims() if claims is None else claims
        if alg is None:
            alg = header["alg"] if isinstance(header, dict) else p.algorithm
        return forge.jws(header, claims, p.signing_key, alg)

    def base_token(self) -> str:
        """T0 if the harness can mint it, else the valid token the target issued."""
        if "mint" in self.capabilities:
            return self.mint()
        assert self.valid_token is not None
        return self.valid_token

    # -- probes ------------------------------------------------------------------------------------------
    def probe(self, label: str, token: str | None, **kw: Any) -> Probe:
        return Probe(label=label, token=token, **kw)

    def oob_url(self, tag: str) -> str:
        return self.listener.url(tag)

    async def send_probe(self, probe: Probe) -> Observation:
        p = self.profile
        url = self.target.url(probe.path or p.endpoint)
        if probe.query is not None:
            url += ("&" if "?" in url else "?") + probe.query
        headers = dict(probe.headers or {})
        if probe.token is not None and not any(k.lower() == "authorization" for k in headers):
            headers["Authorization"] = f"Bearer {probe.token}"
        return await send(self.session, probe.method, URL(url, encoded=True), label=probe.label, headers=headers,
                          data=probe.body)


def random_marker(claim: str) -> str:
    """jwt_tool's reflected-claim marker: ``jwt_inject_<random>_<claim>``."""
    return f"jwt_inject_{secrets.token_hex(8)}_{claim}"
