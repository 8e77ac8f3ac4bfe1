"""The authorization-server kit: what an AS or token-endpoint scenario's ``mutate(kit)`` works with.

``build_kit(target, session)`` discovers the authorization server's metadata (``harness.asmeta``) and returns
an ``ASKit`` whose helpers drive one flow with one step changed:

- ``authorize(**overrides)``: an authorization request (RFC 6749 §4.1.1) with a fresh PKCE S256 pair
  (RFC 7636 §4.1-4.2, ``harness.pkce``) and ``state``, walked through the login form by ``harness.login``
  in its own cookie jar; returns an ``Authorization`` (the observation where the walk stopped, the code,
  state, error, iss);
- the token endpoint (``harness.astoken.TokenClient``): ``token``, ``redeem``, ``refresh``,
  ``client_credentials``, ``password_grant``; ``tokens()`` and ``refresh_token()`` run a whole valid flow.

For resource-server profiles with a ``token_endpoint`` (password servers) the kit has only the token
endpoint and the password grant. ``capabilities(target)`` (``harness.capabilities``) tells the runner what a
profile allows. Everything goes over HTTP; nothing here imports a server.
"""
from __future__ import annotations

import asyncio
import secrets
import weakref
from dataclasses import dataclass, field, fields
from typing import Any, Iterable, Mapping
from urllib.parse import urlencode

import aiohttp

from .asobs import AuthzObservation
from .capabilities import NEED_REASONS
from .capabilities import profile_capabilities as capabilities
from .asmeta import Unreachable, discover, metadata_urls
from .astoken import AUTO, SetupFailed, TokenClient, basic_auth, require_tokens
from .login import CSRF_NAME, Credentials, LoginResult, OriginJar, drive, origin
from .pkce import RFC7636_CHALLENGE, RFC7636_PAIR, RFC7636_VERIFIER, UNRESERVED, Pkce, new_verifier, s256
from .scenario import NotApplicable, Observation

DROP = None     # an override value of None removes the parameter


@dataclass
class Authorization:
    """One authorization request and where its walk stopped."""
    url: str
    params: list[tuple[str, str]]
    pkce: Pkce | None
    state: str | None
    redirect_uri: str | None
    walk: LoginResult
    observation: AuthzObservation     # the last response seen (the redirect to the client, or the error page)

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


def as_authz_observation(obs: Observation, label: str, sent: str | None, registered: str | None) -> AuthzObservation:
    values = {f.name: getattr(obs, f.name) for f in fields(Observation)}
    values["label"] = label
    return AuthzObservation(**values, sent_redirect_uri=sent, registered_redirect_uri=registered)


@dataclass
class ASKit(TokenClient):
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
    jar: OriginJar | None = None               # an empty browser for the authorization server's origin
    memo: dict = field(default_factory=dict)   # results shared by scenarios of one run (see ``shared``)
    # One browser per scenario: the runner runs each scenario in its own task, and what one scenario does to
    # its session (a replayed code or refresh token makes many servers revoke the whole grant) must not
    # change what another one sees. Flows of one scenario share its browser, as a user's tabs do.
    _browsers: "weakref.WeakKeyDictionary[asyncio.Task, OriginJar]" = field(
        default_factory=weakref.WeakKeyDictionary, repr=False)

    def browser(self) -> OriginJar:
        """The cookie jar of the calling scenario's browser."""
        assert self.jar is not None
        task = asyncio.current_task()
        if task is None:
            return self.jar
        jar = self._browsers.get(task)
        if jar is None:
            jar = self._browsers[task] = self.jar.copy()
        return jar

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
                        stop_at_login: bool = False, cross_site: bool = False,
                        credentials: Credentials | None = None, login_attempts: int = 2) -> Authorization:
        """An authorization request walked through login and consent.

        Defaults: response_type=code, the profile's client_id, redirect_uri and scope, a random state, a
        fresh S256 pair. ``pkce=None`` sends no challenge; a ``Pkce`` with ``method=None`` sends a challenge
        without a method. ``overrides`` replaces (or, with None, drops) any parameter; ``extra`` appends
        pairs (repeats included). ``fresh`` starts with an empty cookie jar (a new browser): the login form
        is shown and posted again. ``drop_csrf`` removes the CSRF-looking hidden inputs of the forms;
        ``cross_site`` sends only the cookies a browser attaches to a request from another site.
        ``stop_at_login`` ends the walk at the login page without signing in (no password check spent);
        ``credentials`` signs in as someone else (a fresh browser), ``login_attempts`` times at most."""
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
        fresh = fresh or credentials is not None
        browser = None if fresh else self.browser()
        # One jar per flow: concurrent flows never share or clobber one interaction session; a flow of the
        # scenario's browser starts from its cookies and hands back what the walk left.
        jar = browser.copy() if browser is not None else OriginJar(self.authorization_endpoint)
        walk = await drive(self.session, url, credentials=credentials or self.credentials, jar=jar,
                           stop_uris=[u for u in (redirect_uri, self.redirect_uri) if u], label=label,
                           drop_hidden=CSRF_NAME if drop_csrf else None, extra_headers=dict(headers or {}),
                           follow_origins={origin(u) for u in (self.authorization_endpoint, self.issuer) if u},
                           stop_at_login=stop_at_login, cross_site=cross_site, login_attempts=login_attempts)
        if browser is not None and walk.redirected:
            browser.merge(jar)
        final = as_authz_observation(walk.final, label, params.get("redirect_uri"), self.redirect_uri)
        return Authorization(url, pairs, pkce if isinstance(pkce, Pkce) else None,
                             params.get("state"), params.get("redirect_uri"), walk, final)

    # -- whole flows ----------------------------------------------------------------------------------------
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

    async def close(self) -> None:
        return None


async def build_kit(target: Any, session: aiohttp.ClientSession) -> ASKit:
    """The kit for ``target``: metadata discovered for an authorization server; the token endpoint of the
    profile for a password server. Raises Unreachable (one line) when discovery fails."""
    a = getattr(target, "authorization_server", None)
    r = getattr(target, "resource", None)
    if a is not None:
        meta, obs = await discover(session, a.issuer)
        return ASKit(target=target, session=session, token_endpoint=meta["token_endpoint"], metadata=meta,
                     metadata_observation=obs, issuer=meta.get("issuer"),
                     authorization_endpoint=meta["authorization_endpoint"],
                     revocation_endpoint=meta.get("revocation_endpoint"), client_id=a.client_id,
                     redirect_uri=a.redirect_uri, scope=a.scope or "",
                     credentials=Credentials(a.username, a.password, a.username_field or "username",
                                             a.password_field or "password"),
                     confidential=(a.confidential_client_id, a.confidential_client_secret)
                     if a.confidential_client_id and a.confidential_client_secret else None,
                     jar=OriginJar(meta["authorization_endpoint"]))
    if r is not None and getattr(r, "token_endpoint", None):
        url = r.token_endpoint if "://" in r.token_endpoint else \
            target.base_url.rstrip("/") + "/" + r.token_endpoint.lstrip("/")
        return ASKit(target=target, session=session, token_endpoint=url, scope=r.scope or "",
                     password_client_id=getattr(r, "client_id", None))
    raise Unreachable(f"{getattr(target, 'name', '?')}: the profile has neither [authorization_server] nor a "
                      "token_endpoint")


__all__ = ["ASKit", "Authorization", "AuthzObservation", "Pkce", "RFC7636_PAIR", "RFC7636_VERIFIER",
           "RFC7636_CHALLENGE", "AUTO", "DROP", "NEED_REASONS", "NotApplicable", "SetupFailed", "Unreachable",
           "UNRESERVED", "basic_auth", "build_kit", "capabilities", "discover", "metadata_urls", "new_verifier",
           "require_tokens", "s256"]
