"""Issuing and revoking the proxy's tokens.

Access tokens (RFC 9068): RS256 JWTs, header ``typ: at+jwt`` and ``kid`` (RFC 7638 thumbprint), claims
normalized for every grant: iss, sub, aud, iat, exp, azp, gty, scope, client_id, jti.

Refresh tokens: 256-bit opaque random strings, stored by SHA-256 only, each in a *family* (one per
authorization: a code redemption starts one). Every use rotates (RFC 9700 §4.14.2): the old token is
consumed atomically and a tombstone remembers it; presenting a tombstoned token again is reuse and revokes
the whole family: its current refresh token and every access token issued in it.

Revocation visible to resource servers: a revoked access token's ``jti`` goes to the ``revoked-jti``
namespace until the token's ``exp``. Resource servers learn about it through RFC 7662 introspection
(``/introspect``, confidential clients) or by polling ``/revocations`` (the list of revoked, unexpired
jtis; no secrets in it). Store namespaces used here:

    code/<sha256>           pending authorization code (60 s, consumed atomically)
    code-used/<sha256>      tombstone of a redeemed code -> its family (code replay revokes it)
    rt/<sha256>             live refresh token -> family, client, user, scope, audience
    rt-used/<sha256>        tombstone of a rotated refresh token -> its family (reuse detection)
    family:<id>/<jti>       access tokens issued in a family (so the family can revoke them)
    family-revoked/<id>     a revoked family
    revoked-jti/<jti>       revoked access tokens, until they expire
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import secrets
import time
from typing import Any

from servers.common.errors import InvalidGrant, InvalidScope
from servers.common.jwks import KeyRing
from servers.common.store import Store
from servers.common.tokens import RS256Signer, TokenPolicy, TokenVerifier

from .signing import BatchSigner

log = logging.getLogger("oauthlab.oauth_proxy")

FAMILY_TTL = 24 * 3600     # absolute lifetime of a refresh token family
CODE_TTL = 60              # authorization codes (RFC 6749 §4.1.2: short; FAPI: 60 s)
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


def digest(value: str) -> str:
    """Storage key of a secret value: the store never holds codes or refresh tokens in the clear."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class TokenService:
    def __init__(self, store: Store, keyring: KeyRing, issuer: str, access_ttl: int, leeway: int) -> None:
        self.store = store
        self.keyring = keyring
        self.issuer = issuer
        self.access_ttl = access_ttl
        self.leeway = min(leeway, 30)
        self._verifiers: dict[str, TokenVerifier] = {}
        self._signer: tuple[Any, RS256Signer | None] = (None, None)  # (the KeySet it was made for, signer)
        self._fixed_json: dict[tuple, str] = {}
        self._batch = BatchSigner()

    # -- access tokens --------------------------------------------------------------------------------
    def sign(self, *, sub: str, aud: str, client_id: str, scope: str, gty: str) -> tuple[str, str, int]:
        """An RFC 9068 access token, its jti and its exp. Per token only iat, exp and jti change: the JSON of
        the other claims is encoded once per (subject, audience, client, scope, grant type)."""
        keys = self.keyring.refresh()
        if self._signer[0] is not keys:  # a new key set (rotation, activation): a new signer
            self._signer = (keys, RS256Signer(keys.signing_key, keys.signing_kid))
        shape = (sub, aud, client_id, scope, gty)
        fixed_json = self._fixed_json.get(shape)
        if fixed_json is None:
            if len(self._fixed_json) >= 1024:
                self._fixed_json.clear()
            fixed = {"iss": self.issuer, "sub": sub, "aud": aud, "azp": client_id, "gty": gty,
                     "client_id": client_id, "scope": scope}
            fixed_json = self._fixed_json[shape] = json.dumps(fixed, separators=(",", ":"))[1:-1]
        now = int(time.time())
        exp, jti = now + self.access_ttl, os.urandom(16).hex()
        payload = f'{{"iat":{now},"exp":{exp},"jti":"{jti}",{fixed_json}}}'
        return self._signer[1].sign_payload(payload.encode()), jti, exp

    def verifier(self, audience: str) -> TokenVerifier:
        """A verifier of our own access tokens for one audience (introspection, revocation)."""
        v = self._verifiers.get(audience)
        if v is None:
            policy = TokenPolicy(algorithms=("RS256",), issuer=self.issuer, audience=audience,
                                 leeway=self.leeway, typ=("at+jwt",),
                                 required=("exp", "iat", "iss", "aud", "sub", "jti", "client_id"))
            v = self._verifiers[audience] = TokenVerifier(policy, self._resolve, cache_size=1000)
        return v

    async def _resolve(self, header: dict) -> Any:
        from servers.common.errors import InvalidToken

        key = self.keyring.refresh().public.get(header.get("kid", ""))
        if key is None:
            raise InvalidToken("unknown kid")
        return key

    async def issue(self, *, sub: str, aud: str, client_id: str, scope: tuple[str, ...], gty: str,
                    family: str | None = None, refresh: bool = False,
                    family_expires: float | None = None,
                    refresh_scope: tuple[str, ...] | None = None) -> dict[str, Any]:
        """A token response body (RFC 6749 §5.1). With ``family``: the access token is recorded in it,
        and with ``refresh`` a new refresh token of the family is issued."""
        scope_str = " ".join(scope)
        # An RSA-2048 signature is most of a token's cost: the tokens wanted together are signed back to
        # back, inline with one CPU, in the executor with more (signing.py).
        token, jti, exp = await self._batch.run(
            functools.partial(self.sign, sub=sub, aud=aud, client_id=client_id, scope=scope_str, gty=gty))
        body: dict[str, Any] = {"access_token": token, "token_type": "Bearer",
                                "expires_in": self.access_ttl, "scope": scope_str}
        if family is not None:
            await self.store.put(f"family:{family}", jti, {"exp": exp},
                                 ttl=self.access_ttl + self.leeway)
            if refresh:
                expires = family_expires or time.time() + FAMILY_TTL
                body["refresh_token"] = await self.new_refresh(
                    family=family, client_id=client_id, sub=sub, scope=refresh_scope or scope, aud=aud,
                    expires=expires)
            # A replay detected while we were issuing (concurrent redemptions on several instances):
            # what we just made is revoked too. The response still goes out (exactly one redemption
            # succeeds, RFC 6749 §4.1.2), but its tokens are already dead.
            if await self.store.get("family-revoked", family):
                await self.revoke_family(family, "replay raced the issuance")
        return body

    # -- refresh tokens -------------------------------------------------------------------------------
    async def new_refresh(self, *, family: str, client_id: str, sub: str, scope: tuple[str, ...], aud: str,
                          expires: float) -> str:
        rt = secrets.token_urlsafe(32)
        ttl = max(1.0, expires - time.time())
        await self.store.put("rt", digest(rt), {"family": family, "client_id": client_id, "sub": sub,
                                                "scope": list(scope), "aud": aud, "expires": expires},
                             ttl=ttl)
        await self.store.put(f"family-rt:{family}", "current", {"rt": digest(rt)}, ttl=ttl)
        return rt

    async def rotate(self, rt: str, client_id: str, requested: tuple[str, ...] = ()) -> dict:
        """Take a refresh token for rotation: bound to its client, used at most once; a second use of
        a rotated token revokes its family (RFC 9700 §4.14.2)."""
        key = digest(rt)
        record = await self.store.get("rt", key)
        if record is None:
            used = await self.store.get("rt-used", key)
            if used is not None:
                await self.revoke_family(used["family"], "refresh token reuse")
                raise InvalidGrant("refresh token reused: family revoked")
            raise InvalidGrant("unknown or expired refresh token")
        if not secrets.compare_digest(record["client_id"].encode(), client_id.encode()):
            raise InvalidGrant("refresh token issued to another client")
        beyond = [s for s in requested if s not in record["scope"]]
        if beyond:  # RFC 6749 §6: MUST NOT include any scope not originally granted
            raise InvalidScope(f"scope(s) {beyond} were not granted")
        taken = await self.store.consume("rt", key)
        if taken is None:  # lost a race with a concurrent use of the same token: that is reuse too
            await self.revoke_family(record["family"], "concurrent refresh token use")
            raise InvalidGrant("refresh token reused: family revoked")
        await self.store.put("rt-used", key, {"family": taken["family"]},
                             ttl=max(1.0, taken["expires"] - time.time()))
        if await self.store.get("family-revoked", taken["family"]):
            raise InvalidGrant("refresh token family revoked")
        return taken

    # -- revocation -----------------------------------------------------------------------------------
    async def revoke_jti(self, jti: str, exp: float) -> None:
        ttl = exp + self.leeway - time.time()
        if ttl > 0:
            await self.store.put("revoked-jti", jti, {"exp": exp}, ttl=ttl)
        for v in self._verifiers.values():
            v.forget(lambda c: c.get("jti") == jti)

    async def is_revoked(self, jti: str) -> bool:
        return await self.store.get("revoked-jti", jti) is not None

    async def revoke_family(self, family: str, reason: str) -> int:
        """Revoke a grant: its refresh token and all its access tokens. Returns the access tokens revoked."""
        await self.store.put("family-revoked", family, {"at": int(time.time()), "reason": reason},
                             ttl=FAMILY_TTL)
        current = await self.store.get(f"family-rt:{family}", "current")
        if current is not None:
            await self.store.delete("rt", current["rt"])
        tokens = await self.store.list(f"family:{family}")
        for jti, rec in tokens:
            await self.revoke_jti(jti, rec["exp"])
        log.warning("revoked grant family %s… (%s): %d access token(s)", family[:8], reason, len(tokens))
        return len(tokens)

    async def revoked_list(self) -> list[dict]:
        return [{"jti": jti, "exp": rec["exp"]} for jti, rec in await self.store.list("revoked-jti")]

    # -- authorization codes --------------------------------------------------------------------------
    async def new_code(self, record: dict) -> str:
        """A 256-bit code bound to client, redirect_uri, challenge, user, scope and audience (60 s)."""
        code = secrets.token_urlsafe(32)
        record = {**record, "family": secrets.token_urlsafe(16), "exp": time.time() + CODE_TTL}
        await self.store.put("code", digest(code), record, ttl=CODE_TTL)
        return code

    async def take_code(self, code: str) -> dict:
        """RFC 6749 §4.1.2: the code "MUST NOT be used more than once ... SHOULD revoke (when possible) all tokens
        previously issued based on that authorization code": consumed atomically; a replay revokes them."""
        key = digest(code)
        record = await self.store.consume("code", key)
        if record is None:
            used = await self.store.get("code-used", key)
            if used is not None:
                await self.revoke_family(used["family"], "authorization code replay")
                raise InvalidGrant("authorization code replayed: its tokens are revoked")
            raise InvalidGrant("unknown or expired authorization code")
        await self.store.put("code-used", key, {"family": record["family"]}, ttl=FAMILY_TTL)
        if record.get("exp", 0) <= time.time():
            raise InvalidGrant("authorization code expired")
        return record
