"""The token endpoint, as the harness's clients use it (RFC 6749 §3.2, §4.1.3, §4.3.2, §4.4, §6; client
authentication §2.3.1).

``TokenClient`` is the token-endpoint half of the authorization-server kit (``harness.askit.ASKit``):
``token(params, auth=...)`` sends one request, built by hand (``urlencode`` of a list of pairs) so that a
scenario can repeat, drop or reorder parameters exactly as it wants; ``redeem``, ``refresh``,
``client_credentials`` and ``password_grant`` are the grants. A request that got no answer because the server
had closed the keep-alive connection is sent once more (``harness.sender.resend_once``).
"""
from __future__ import annotations

import base64
from typing import Any, Iterable, Mapping
from urllib.parse import quote, urlencode

import aiohttp

from .client import send
from .scenario import NotApplicable, Observation
from .sender import resend_once

FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}


class _Auto:
    def __repr__(self) -> str:
        return "AUTO"


AUTO: Any = _Auto()     # "the kit's default" for an optional argument whose None means "leave it out"


class SetupFailed(Exception):
    """A step that must work for the scenario to mean anything did not (no code, no token): the verdict
    is ``error``, never ``pass``."""

    def __init__(self, message: str, observation: Observation | None = None) -> None:
        detail = ""
        if observation is not None:
            detail = f" [{observation.method} {observation.url.split('?')[0]} -> {observation.status}"
            body = observation.json if isinstance(observation.json, dict) else None
            if body and body.get("error"):
                detail += f" {body.get('error')}"
            detail += "]"
        super().__init__(message + detail)
        self.observation = observation


def require_tokens(obs: Observation, what: str = "the token request") -> dict:
    """The JSON of a successful token response, or SetupFailed."""
    body = obs.json if isinstance(obs.json, dict) else {}
    if obs.status != 200 or not body.get("access_token"):
        raise SetupFailed(f"{what} did not return tokens", obs)
    return body


def basic_auth(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined with ':' and base64-encoded."""
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


class TokenClient:
    """Token endpoint requests; the kit provides ``session``, ``token_endpoint``, ``target``, ``client_id``,
    ``redirect_uri``, ``scope``, ``confidential``, ``credentials`` and ``password_client_id``."""
    session: aiohttp.ClientSession
    token_endpoint: str
    target: Any
    client_id: str | None
    redirect_uri: str | None
    scope: str
    confidential: tuple[str, str] | None
    credentials: Any
    password_client_id: str | None
    authorization_endpoint: str | None

    async def token(self, params: Mapping[str, str | None] | Iterable[tuple[str, str]], *,
                    auth: tuple[str, str] | str | None = None, label: str = "token",
                    headers: Mapping[str, str] | None = None, method: str = "POST") -> Observation:
        """One token endpoint request. ``params``: a mapping (None values dropped) or a list of pairs
        (repeats kept). ``auth``: (client_id, secret) for HTTP Basic, or a raw Authorization value.
        ``method="GET"`` puts the parameters in the query string instead (tok-get)."""
        if isinstance(params, Mapping):
            pairs = [(k, v) for k, v in params.items() if v is not None]
        else:
            pairs = list(params)
        hdrs = dict(FORM)
        if isinstance(auth, tuple):
            hdrs["Authorization"] = basic_auth(*auth)
        elif isinstance(auth, str):
            hdrs["Authorization"] = auth
        hdrs.update(headers or {})
        body = urlencode(pairs)
        if method == "GET":
            hdrs.pop("Content-Type", None)
            sep = "&" if "?" in self.token_endpoint else "?"
            url, data = f"{self.token_endpoint}{sep}{body}", None
        else:
            url, data = self.token_endpoint, body

        async def once() -> tuple[Observation, str]:
            return await send(self.session, method, url, label=label, headers=hdrs, data=data), ""
        obs, _ = await resend_once(once)
        return obs

    def code_params(self, code: str | None, *, verifier: str | None | Any = AUTO, authz: Any = None,
                    redirect_uri: str | None | Any = AUTO, client_id: str | None | Any = AUTO) -> dict[str, str | None]:
        if verifier is AUTO:
            verifier = authz.pkce.verifier if authz is not None and authz.pkce else None
        if redirect_uri is AUTO:
            redirect_uri = authz.redirect_uri if authz is not None else self.redirect_uri
        if client_id is AUTO:
            client_id = self.client_id
        return {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "client_id": client_id, "code_verifier": verifier}

    async def redeem(self, authz: Any, *, label: str = "token", verifier: str | None | Any = AUTO,
                     redirect_uri: str | None | Any = AUTO, client_id: str | None | Any = AUTO,
                     auth: tuple[str, str] | str | None = None, extra: Iterable[tuple[str, str]] = (),
                     code: str | Any = AUTO) -> Observation:
        """Exchange the code of ``authz`` (RFC 6749 §4.1.3) with its own verifier unless told otherwise."""
        if code is AUTO:
            code = authz.require_code()
        params = self.code_params(code, verifier=verifier, authz=authz, redirect_uri=redirect_uri,
                                  client_id=client_id)
        pairs = [(k, v) for k, v in params.items() if v is not None] + list(extra)
        return await self.token(pairs, auth=auth, label=label)

    async def refresh(self, refresh_token: str, *, scope: str | None = None, label: str = "refresh",
                      client: str = "public", extra: Iterable[tuple[str, str]] = ()) -> Observation:
        """RFC 6749 §6. ``client``: "public" (client_id in the body), "confidential" (HTTP Basic with the
        confidential client), or "none" (no client identification at all)."""
        params: list[tuple[str, str]] = [("grant_type", "refresh_token"), ("refresh_token", refresh_token)]
        if scope is not None:
            params.append(("scope", scope))
        auth = None
        if client == "public" and self.client_id:
            params.append(("client_id", self.client_id))
        elif client == "confidential":
            auth = self.require_confidential()
        return await self.token(params + list(extra), auth=auth, label=label)

    def require_confidential(self) -> tuple[str, str]:
        if self.confidential is None:
            raise NotApplicable("the profile names no confidential client")
        return self.confidential

    async def client_credentials(self, *, scope: str | None = None, auth: str = "basic", label: str = "token",
                                 client_id: str | None = None, secret: str | None = None,
                                 extra: Iterable[tuple[str, str]] = ()) -> Observation:
        """RFC 6749 §4.4. ``auth``: "basic" (client_secret_basic), "post" (client_secret_post), "none"
        (client_id in the body, no secret), "both" (Basic and client_secret in the body)."""
        cid, sec = self.require_confidential()
        cid, sec = client_id or cid, secret if secret is not None else sec
        params: list[tuple[str, str]] = [("grant_type", "client_credentials")]
        if scope is not None:
            params.append(("scope", scope))
        header = None
        if auth in ("basic", "both"):
            header = (cid, sec)
        if auth in ("post", "both"):
            params += [("client_id", cid), ("client_secret", sec)]
        if auth == "none":
            params.append(("client_id", cid))
        return await self.token(params + list(extra), auth=header, label=label)

    async def password_grant(self, username: str | Any = AUTO, password: str | Any = AUTO, *,
                             scope: str | None | Any = AUTO, label: str = "token",
                             extra: Iterable[tuple[str, str]] = (), method: str = "POST") -> Observation:
        """RFC 6749 §4.3.2 with the profile's user (our password servers), or the given credentials."""
        creds = self.password_credentials()
        username = creds[0] if username is AUTO else username
        password = creds[1] if password is AUTO else password
        if scope is AUTO:
            scope = self.scope or None
        params: list[tuple[str, str]] = [("grant_type", "password"), ("username", username),
                                         ("password", password)]
        if scope:
            params.append(("scope", scope))
        if self.password_client_id:
            params.append(("client_id", self.password_client_id))
        return await self.token(params + list(extra), label=label, method=method)

    def password_credentials(self) -> tuple[str, str]:
        r = getattr(self.target, "resource", None)
        if r is not None and r.token_endpoint and r.username and r.password:
            return r.username, r.password
        if self.credentials is not None:
            return self.credentials.username, self.credentials.password
        raise NotApplicable("the profile names no username/password")

    @property
    def is_password_server(self) -> bool:
        r = getattr(self.target, "resource", None)
        return self.authorization_endpoint is None and r is not None and bool(r.token_endpoint)
