"""The login driver: walks an authorization server's browser flow (RFC 6749 §4.1.1-§4.1.2) without a browser.

Starting at an authorization request URL it:

- follows redirects itself (302/303 as GET; 307/308 repeat the method and body, like a browser);
- on an HTML page, fills the FIRST form that has a password field: the username and password fields named
  in the profile (falling back to the form's first text/email input), every hidden input kept as it is
  (CSRF tokens, OAuth parameters), checked boxes and selected options kept, the form action resolved
  against the page URL (``harness.forms``);
- submits any consent form that follows (the button that says approve/allow/accept... if there are
  several);
- keeps cookies for the authorization server's origin only, in the flow's own jar, path- and
  SameSite-aware (``harness.cookies``), and sends what a browser would (``harness.sender``);
- stops at the client: a ``Location`` that starts with a redirect URI (the one sent, or the registered one),
  that leaves the authorization server's origin, or that is not http(s). Nothing needs to listen there: ``code``,
  ``state``, ``error`` and ``iss`` are parsed from the ``Location`` itself (query, then fragment).

Nothing here knows our servers, so it works on any authorization server with a plain HTML login form.
Observations never carry the password or the session cookies: both are masked before anything is recorded.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urljoin, urlsplit

import aiohttp

from .cookies import OriginJar, origin
from .forms import CSRF_NAME, choose_approve, fill_login, form_pairs, parse_forms, submit_request
from .scenario import Observation
from .sender import fetch

MAX_HOPS = 15

__all__ = ["CSRF_NAME", "Credentials", "LoginResult", "OriginJar", "drive", "origin", "response_params",
           "stops_at_client"]


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    username_field: str = "username"
    password_field: str = "password"


@dataclass
class LoginResult:
    """Everything the walk saw. ``location`` is the redirect to the client where it stopped (None: it never
    got there, e.g. the AS showed an error page); ``params`` are parsed from it."""
    steps: list[Observation]
    location: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    login_post: Observation | None = None
    consent_posts: list[Observation] = field(default_factory=list)
    stopped: str = ""           # why the walk ended, for evidence

    @property
    def final(self) -> Observation:
        return self.steps[-1]

    @property
    def redirected(self) -> bool:
        return self.location is not None

    @property
    def code(self) -> str | None:
        return self.params.get("code")

    @property
    def state(self) -> str | None:
        return self.params.get("state")

    @property
    def error(self) -> str | None:
        return self.params.get("error")

    @property
    def iss(self) -> str | None:
        return self.params.get("iss")


def response_params(location: str) -> dict[str, str]:
    """Authorization response parameters from a redirect (query first, then fragment); first value wins."""
    parts = urlsplit(location)
    params: dict[str, str] = {}
    for source in (parts.query, parts.fragment):
        for k, v in parse_qsl(source, keep_blank_values=True):
            params.setdefault(k, v)
    return params


def stops_at_client(url: str, stop_uris: list[str], follow_origins: set[str]) -> bool:
    """True if ``url`` is where the user agent hands the response to the client: it starts with a redirect
    URI, or it leaves the authorization server's origins (the harness never follows a redirect to another
    host: a vulnerable AS may send it to an attacker's name), or it is not http(s)."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return True
    if any(uri and url.startswith(uri) for uri in stop_uris):
        return True
    try:
        return origin(url) not in follow_origins
    except ValueError:
        return True


async def drive(session: aiohttp.ClientSession, url: str, *, credentials: Credentials, jar: OriginJar,
                stop_uris: list[str], label: str = "authorize", drop_hidden: re.Pattern | None = None,
                extra_headers: dict[str, str] | None = None, max_hops: int = MAX_HOPS,
                follow_origins: set[str] | None = None, stop_at_login: bool = False,
                cross_site: bool = False, login_attempts: int = 2) -> LoginResult:
    """Walk from the authorization request ``url`` to the client's redirect URI (or to a dead end).

    Each hop sends one request; its answer decides the next: a redirect is followed (or ends the walk at
    the client), an HTML page has its login or consent form submitted, anything else ends the walk.
    ``drop_hidden`` removes matching hidden inputs (the CSRF scenario); ``extra_headers`` go on every
    request (an ``Origin``, say). ``stop_at_login``: end the walk at the login page, without signing in.
    ``follow_origins``: the origins redirects are followed to (default: the jar's, i.e. the authorization
    server's). ``cross_site``: every request is started by another site's page (a forged form): the jar
    sends only the cookies a browser sends cross-site (no SameSite=Strict ones, no SameSite=Lax ones on a
    POST). ``login_attempts``: how many times the login form is posted before the walk gives up."""
    follow = set(follow_origins or ()) | {jar.origin}
    result = LoginResult(steps=[])
    method, current, data, shown = "GET", url, None, None
    kind, step_label = "start", label
    logins = consents = 0
    for _ in range(max_hops):
        obs, text = await fetch(session, method, current, jar=jar, label=step_label, data=data,
                                headers=extra_headers, shown_body=shown, cross_site=cross_site)
        result.steps.append(obs)
        if kind == "login":
            result.login_post = obs
        elif kind == "consent":
            result.consent_posts.append(obs)
        if obs.status is None:
            result.stopped = "no response"
            return result
        location = obs.headers.get("Location")
        if 300 <= obs.status < 400 and location:
            target = urljoin(current, location)
            if stops_at_client(target, stop_uris, follow):
                result.location = target
                result.params = response_params(target)
                result.stopped = "redirected to the client"
                return result
            if obs.status not in (307, 308):  # 307/308 repeat the method and body, as a browser does
                method, data, shown = "GET", None, None
            current, kind, step_label = target, "redirect", f"{label} (redirect)"
            continue
        if obs.status != 200 or "html" not in obs.headers.get("Content-Type", "").lower():
            result.stopped = f"status {obs.status}: not a page to fill"
            return result
        forms = parse_forms(text)
        login_form = next((f for f in forms if f.has_password), None)
        if login_form is not None:
            if stop_at_login:
                result.stopped = "the login page (not signed in, as asked)"
                return result
            if logins >= login_attempts:
                result.stopped = "the login form came back: the credentials were refused"
                return result
            logins += 1
            pairs = fill_login(login_form, credentials, drop=drop_hidden)
            method, current, data, shown = submit_request(login_form, current, pairs, credentials.password)
            kind, step_label = "login", f"{label} (login form)"
            continue
        consent = next((f for f in forms if f.submits()), None)
        if consent is not None and consents < 2:
            consents += 1
            pairs = form_pairs(consent, submit=choose_approve(consent), drop=drop_hidden)
            method, current, data, shown = submit_request(consent, current, pairs, None)
            kind, step_label = "consent", f"{label} (consent form)"
            continue
        result.stopped = "a page with no form to submit"
        return result
    result.stopped = f"more than {max_hops} hops"
    return result


