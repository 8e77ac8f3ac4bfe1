"""The authorization-server kit: what an AS or token-endpoint scenario's ``mutate(kit)`` works with.

``build_kit(target, session)`` discovers the authorization server's metadata (RFC 8414
``/.well-known/oauth-authorization-server``, then OpenID Connect Discovery
``/.well-known/openid-configuration``) and returns an ``ASKit`` whose helpers drive one flow with one step
changed:

- ``authorize(**overrides)``: an authorization request (RFC 6749 §4.1.1) with a fresh PKCE S256 pair
  (RFC 7636 §4.1-4.2) and ``state``, walked through the login form by ``harness.login``; returns an
  ``Authorization`` (the observation where the walk stopped, the code, state, error, iss);
- ``redeem(authz, ...)`` / ``token(params, auth=...)``: the token endpoint (RFC 6749 §4.1.3, §3.2);
- ``refresh(...)``, ``client_credentials(...)``, ``password_grant(...)``;
- ``RFC7636_VERIFIER`` / ``RFC7636_CHALLENGE``: the RFC 7636 Appendix B pair.

For resource-server profiles with a ``token_endpoint`` (our password servers) the kit has only the token
endpoint and the password grant. ``capabilities(target)`` tells the runner what a profile allows.

Everything goes over HTTP through ``harness.client.send`` or the login driver; nothing here imports a
server. Request bodies are built by hand (``urlencode`` of a list of pairs) so that a scenario can repeat,
drop or reorder parameters exactly as it wants.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import string
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping
from urllib.parse import quote, urlencode, urlsplit

import aiohttp

from .client import send
from .login import CSRF_NAME, Credentials, LoginResult, OriginJar, drive, origin
from .scenario import Observation

try:  # the runner's contract: raised by mutate when the target lacks what a scenario needs
    from .scenario import NotApplicable
except ImportError:  # pragma: no cover - older scenario.py
    class NotApplicable(Exception):  # type: ignore[no-redef]
        """The target does not support what the scenario needs (verdict not-applicable)."""

RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
UNRESERVED = string.ascii_letters + string.digits + "-._~"      # RFC 7636 §4.1
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
DROP = None     # an override value of None removes the parameter


class Unreachable(Exception):
    """The target cannot be reached or has no usable metadata: one line for the user (exit 2)."""


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


# -- PKCE (RFC 7636) -----------------------------------------------------------------------------------------
def s256(verifier: str) -> str:
    """code_challenge = BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_verifier(length: int = 64) -> str:
    """A random verifier of ``length`` unreserved characters (RFC 7636 §4.1: 43..128)."""
    return "".join(secrets.choice(UNRESERVED) for _ in range(length))


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str
    method: str | None = "S256"

    @classmethod
    def new(cls, length: int = 64) -> "Pkce":
        v = new_verifier(length)
        return cls(v, s256(v))

    @classmethod
    def for_verifier(cls, verifier: str) -> "Pkce":
        return cls(verifier, s256(verifier))


RFC7636_PAIR = Pkce(RFC7636_VERIFIER, RFC7636_CHALLENGE)


# -- results -------------------------------------------------------------------------------------------------
@dataclass
class Authorization:
    """One authorization request and where its walk stopped."""
    url: str
    params: list[tuple[str, str]]
    pkce: Pkce | None
    state: str | None
    redirect_uri: str | None
    walk: LoginResult
    observation: Observation     # the last response seen (the redirect to the client, or the error page)

    @property
    def code(self) -> str | None:
        return self.walk.code

    @property
    def error(self) -> str | None:
        return self.walk.error

    @property
    def redirected(self) -> bool:
        return self.walk.redirected

    def require_code(self) -> str:
        if not self.code:
            raise SetupFailed(f"the authorization request did not return a code ({self.walk.stopped}"
                              f"{', error=' + self.error if self.error else ''})", self.observation)
        return self.code


def _body(obs: Observation) -> dict:
    return obs.json if isinstance(obs.json, dict) else {}


def require_tokens(obs: Observation, what: str = "the token request") -> dict:
    """The JSON of a successful token response, or SetupFailed."""
    body = _body(obs)
    if obs.status != 200 or not body.get("access_token"):
        raise SetupFailed(f"{what} did not return tokens", obs)
    return body


# -- discovery -----------------------------------------------------------------------------------------------
def metadata_urls(issuer: str) -> list[str]:
    """RFC 8414 §3.1 (well-known segment inserted before the issuer's path), then OIDC Discovery §4
    (appended), then the RFC 8414 form appended (some servers do that)."""
    parts = urlsplit(issuer.rstrip("/"))
    root = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    urls = [f"{root}/.well-known/oauth-authorization-server{path}",
            f"{root}{path}/.well-known/openid-configuration"]
    if path:
        urls.append(f"{root}{path}/.well-known/oauth-authorization-server")
    return urls


async def discover(session: aiohttp.ClientSession, issuer: str) -> tuple[dict, Observation]:
    """The metadata document of ``issuer`` and the observation it came from. Raises Unreachable."""
    last: Observation | None = None
    for url in metadata_urls(issuer):
        obs = await send(session, "GET", url, label="metadata", headers={"Accept": "application/json"})
        last = obs
        if obs.status is None:
            raise Unreachable(f"{issuer} is unreachable ({obs.error})")
        if obs.status == 200 and isinstance(obs.json, dict):
            meta = obs.json
            if meta.get("issuer") not in (issuer, issuer.rstrip("/")):
                raise Unreachable(f"the metadata at {url} names issuer {meta.get('issuer')!r}, not the profile's "
                                  f"{issuer!r} (RFC 8414 §3.3: they MUST be identical)")
            for name in ("authorization_endpoint", "token_endpoint"):
                if not isinstance(meta.get(name), str):
                    raise Unreachable(f"the metadata at {url} has no {name}")
            return meta, obs
    raise Unreachable(f"no authorization server metadata for {issuer} (last answer: "
                      f"{last.status if last else '-'} at {last.url if last else '-'})")


# -- capabilities ------------------------------------------------------------------------------------------
# Why a scenario needing a capability is not applicable (for the runner's reasons and the reports).
NEED_REASONS = {
    "authorization_code": "the profile describes no authorization endpoint and login ([authorization_server])",
    "login": "the profile names no username/password for the login form",
    "refresh_token": "the authorization server issues no refresh tokens",
    "confidential_client": "the profile names no confidential client (confidential_client_id/_secret)",
    "client_credentials": "the profile names no confidential client (confidential_client_id/_secret)",
    "scopes": "the profile's scope is empty",
    "multi_scope": "the profile's scope has fewer than two values",
    "redirect_uri_query": "the profile's redirect_uri has no query component",
    "password_scopes": "the password grant's profile has no scope",
}


def capabilities(target: Any) -> set[str]:
    """What the profile lets the AS scenarios do (metadata-dependent conditions are checked in ``mutate``,
    which raises NotApplicable)."""
    caps: set[str] = set()
    a = getattr(target, "authorization_server", None)
    r = getattr(target, "resource", None)
    if a is not None:
        caps |= {"authorization_server", "token_endpoint", "authorization_code", "login", "refresh_token"}
        if a.confidential_client_id and a.confidential_client_secret:
            caps |= {"confidential_client", "client_credentials"}
        scopes = (a.scope or "").split()
        if scopes:
            caps.add("scopes")
        if len(scopes) >= 2:
            caps.add("multi_scope")
        if "?" in a.redirect_uri:
            caps.add("redirect_uri_query")
    if r is not None and getattr(r, "token_endpoint", None):
        caps.add("token_endpoint")
        if r.username and r.password:
            caps.add("password_grant")
            if (r.scope or "").split():
                caps.add("password_scopes")
    return caps


# -- the kit -------------------------------------------------------------------------------------------------
class _Auto:
    def __repr__(self) -> str:
        return "AUTO"


AUTO: Any = _Auto()


def basic_auth(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined with ':' and base64-encoded."""
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass
class ASKit:
    target: Any
    session: aiohttp.ClientSession
    token_endpoint: str
    metadata: dict = field(default_factory=dict)
    metadata_observation: Observation | None = None
    issuer: str | None = None
    authorization_endpoint: str | None = None
    revocation_endpoint: str | None = None
    client_id: str | None = None
    redirect_uri: str | None = None
    scope: str = ""
    credentials: Credentials | None = None
    confidential: tuple[str, str] | None = None
    password_client_id: str | None = None
    jar: OriginJar | None = None
    memo: dict = field(default_factory=dict)   # results shared by scenarios of one run (see ``shared``)
    _first_login: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    _signed_in: bool = False

    async def shared(self, key: str, make):
        """``await make()`` once per kit; concurrent callers wait for the same result (a page collection
        several hygiene scenarios judge differently, say). Exceptions are shared too."""
        task = self.memo.get(key)
        if task is None:
            task = self.memo[key] = asyncio.ensure_future(make())
        return await asyncio.shield(task)

    # -- authorization endpoint -----------------------------------------------------------------------------
    @property
    def has_code_flow(self) -> bool:
        return self.authorization_endpoint is not None

    def _need_code_flow(self) -> None:
        if not self.has_code_flow or self.credentials is None:
            raise NotApplicable("the profile describes no authorization endpoint and login")

    def authorization_url(self, pairs: list[tuple[str, str]]) -> str:
        assert self.authorization_endpoint
        sep = "&" if "?" in self.authorization_endpoint else "?"
        return f"{self.authorization_endpoint}{sep}{urlencode(pairs)}"

    async def authorize(self, *, label: str = "authorize", pkce: Pkce | None | Any = AUTO,
                        state: str | None | Any = AUTO, redirect_uri: str | None | Any = AUTO,
                        scope: str | None | Any = AUTO, overrides: Mapping[str, str | None] | None = None,
                        extra: Iterable[tuple[str, str]] = (), fresh: bool = False,
                        drop_csrf: bool = False, headers: Mapping[str, str] | None = None,
                        stop_at_login: bool = False) -> Authorization:
        """An authorization request walked through login and consent.

        Defaults: response_type=code, the profile's client_id, redirect_uri and scope, a random state, a
        fresh S256 pair. ``pkce=None`` sends no challenge; a ``Pkce`` with ``method=None`` sends a challenge
        without a method. ``overrides`` replaces (or, with None, drops) any parameter; ``extra`` appends
        pairs (repeats included). ``fresh`` starts with an empty cookie jar (a new browser): the login form
        is shown and posted again. ``drop_csrf`` removes the CSRF-looking hidden inputs of the forms.
        ``stop_at_login`` ends the walk at the login page without signing in (no password check spent)."""
        self._need_code_flow()
        assert self.jar is not None and self.credentials is not None
        if pkce is AUTO:
            pkce = Pkce.new()
        if state is AUTO:
            state = secrets.token_urlsafe(16)
        if redirect_uri is AUTO:
            redirect_uri = self.redirect_uri
        if scope is AUTO:
            scope = self.scope or None
        params: dict[str, str | None] = {"response_type": "code", "client_id": self.client_id,
                                         "redirect_uri": redirect_uri, "scope": scope, "state": state}
        if pkce is not None:
            params["code_challenge"] = pkce.challenge
            params["code_challenge_method"] = pkce.method
        for k, v in (overrides or {}).items():
            params[k] = v
        pairs = [(k, v) for k, v in params.items() if v is not None]
        pairs += list(extra)
        url = self.authorization_url(pairs)
        jar = OriginJar(self.authorization_endpoint) if fresh else self.jar

        async def walk_once() -> LoginResult:
            return await drive(self.session, url, credentials=self.credentials, jar=jar,
                               stop_uris=[u for u in (redirect_uri, self.redirect_uri) if u], label=label,
                               drop_hidden=CSRF_NAME if drop_csrf else None, extra_headers=dict(headers or {}),
                               follow_origins={origin(u) for u in (self.authorization_endpoint, self.issuer) if u},
                               stop_at_login=stop_at_login)

        if jar is self.jar and not self._signed_in:
            # Until the shared browser session exists, walks go one at a time: concurrent scenarios would
            # otherwise each sign in (one password check each) instead of reusing the first session.
            async with self._first_login:
                walk = await walk_once()
                if walk.login_post is not None and walk.redirected:
                    self._signed_in = True
        else:
            walk = await walk_once()
        final = replace(walk.final, label=label)
        return Authorization(url, pairs, pkce if isinstance(pkce, Pkce) else None,
                             params.get("state"), params.get("redirect_uri"), walk, final)

    # -- token endpoint -------------------------------------------------------------------------------------
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
            return await send(self.session, "GET", f"{self.token_endpoint}{sep}{body}", label=label, headers=hdrs)
        return await send(self.session, method, self.token_endpoint, label=label, headers=hdrs, data=body)

    def code_params(self, code: str | None, *, verifier: str | None | Any = AUTO, authz: Authorization | None = None,
                    redirect_uri: str | None | Any = AUTO, client_id: str | None | Any = AUTO) -> dict[str, str | None]:
        if verifier is AUTO:
            verifier = authz.pkce.verifier if authz is not None and authz.pkce else None
        if redirect_uri is AUTO:
            redirect_uri = authz.redirect_uri if authz is not None else self.redirect_uri
        if client_id is AUTO:
            client_id = self.client_id
        return {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "client_id": client_id, "code_verifier": verifier}

    async def redeem(self, authz: Authorization, *, label: str = "token", verifier: str | None | Any = AUTO,
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

    async def tokens(self, *, label: str = "setup", scope: str | None | Any = AUTO) -> tuple[Authorization, Observation, dict]:
        """A complete, valid code flow; SetupFailed if any step does not work."""
        authz = await self.authorize(label=f"{label}: authorize", scope=scope)
        authz.require_code()
        obs = await self.redeem(authz, label=f"{label}: token")
        return authz, obs, require_tokens(obs, "redeeming a valid code")

    async def refresh_token(self, *, label: str = "setup", scope: str | None | Any = AUTO) -> tuple[str, dict]:
        """A fresh refresh token from a valid code flow; NotApplicable if the AS issues none."""
        _, _, body = await self.tokens(label=label, scope=scope)
        rt = body.get("refresh_token")
        if not isinstance(rt, str) or not rt:
            raise NotApplicable("the authorization server issued no refresh_token to the public client")
        return rt, body

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

    async def close(self) -> None:
        return None


async def build_kit(target: Any, session: aiohttp.ClientSession) -> ASKit:
    """The kit for ``target``: metadata discovered for an authorization server; the token endpoint of the
    profile for a password server. Raises Unreachable (one line) when discovery fails."""
    a = getattr(target, "authorization_server", None)
    r = getattr(target, "resource", None)
    if a is not None:
        meta, obs = await discover(session, a.issuer)
        kit = ASKit(target=target, session=session, token_endpoint=meta["token_endpoint"], metadata=meta,
                    metadata_observation=obs, issuer=meta.get("issuer"),
                    authorization_endpoint=meta["authorization_endpoint"],
                    revocation_endpoint=meta.get("revocation_endpoint"), client_id=a.client_id,
                    redirect_uri=a.redirect_uri, scope=a.scope or "",
                    credentials=Credentials(a.username, a.password, a.username_field or "username",
                                            a.password_field or "password"),
                    confidential=(a.confidential_client_id, a.confidential_client_secret)
                    if a.confidential_client_id and a.confidential_client_secret else None,
                    jar=OriginJar(meta["authorization_endpoint"]))
        return kit
    if r is not None and getattr(r, "token_endpoint", None):
        url = r.token_endpoint if "://" in r.token_endpoint else \
            target.base_url.rstrip("/") + "/" + r.token_endpoint.lstrip("/")
        return ASKit(target=target, session=session, token_endpoint=url, scope=r.scope or "",
                     password_client_id=getattr(r, "client_id", None))
    raise Unreachable(f"{getattr(target, 'name', '?')}: the profile has neither [authorization_server] nor a "
                      "token_endpoint")


__all__ = ["ASKit", "Authorization", "Pkce", "RFC7636_PAIR", "RFC7636_VERIFIER", "RFC7636_CHALLENGE", "AUTO",
           "NEED_REASONS", "NotApplicable", "SetupFailed", "Unreachable", "build_kit", "capabilities", "discover", "new_verifier",
           "s256", "require_tokens", "basic_auth"]
