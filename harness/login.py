"""The login driver: walks an authorization server's browser flow (RFC 6749 §4.1.1-§4.1.2) without a browser.

Starting at an authorization request URL it:

- follows redirects itself (302/303 as GET; 307/308 repeat the method and body, like a browser);
- on an HTML page, fills the FIRST form that has a password field: the username and password fields named
  in the profile (falling back to the form's first text/email input), every hidden input kept as it is
  (CSRF tokens, OAuth parameters), checked boxes and selected options kept, the form action resolved
  against the page URL;
- submits any consent form that follows (the button that says approve/allow/accept... if there are
  several);
- keeps cookies for the authorization server's origin only, in its own jar (never sent anywhere else);
- stops at the client: a ``Location`` that starts with a redirect URI (the one sent, or the registered one),
  that leaves the authorization server's origin, or that is not http(s). Nothing needs to listen there: ``code``,
  ``state``, ``error`` and ``iss`` are parsed from the ``Location`` itself (query, then fragment).

Pages are parsed with the standard library's ``html.parser``; nothing here knows our servers, so it works on
any authorization server with a plain HTML login form. Observations never carry the password or the
session cookies: both are masked before anything is recorded.
"""
from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import aiohttp
from yarl import URL

from .client import BODY_LIMIT, all_values, first_values
from .scenario import Observation

PAGE_LIMIT = 1 << 20        # read at most 1 MiB of a page to parse it
MAX_HOPS = 15
APPROVE_WORDS = ("approve", "allow", "accept", "authorize", "authorise", "consent", "grant", "yes", "continue",
                 "confirm", "ok")
DENY_WORDS = ("deny", "reject", "cancel", "decline", "no")
CSRF_NAME = re.compile(r"csrf|xsrf|authenticity|verification|_token$|^token$|nonce", re.I)


def origin(url: str) -> str:
    """scheme://host:port of a URL (default ports made explicit), lower-cased scheme and host."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


# -- cookies -----------------------------------------------------------------------------------------------
class OriginJar:
    """Cookies of ONE origin (the authorization server's). Cookies set by any other origin are dropped and
    none is ever sent to another origin. Paths and domains are not modelled: one origin, one jar."""

    def __init__(self, url: str) -> None:
        self.origin = origin(url)
        self.cookies: dict[str, str] = {}

    def store(self, url: str, set_cookie_headers: list[str]) -> None:
        if origin(url) != self.origin:
            return
        for header in set_cookie_headers:
            jar = SimpleCookie()
            try:
                jar.load(header)
            except CookieError:
                continue
            for name, morsel in jar.items():
                max_age = morsel["max-age"]
                expired = False
                if max_age not in ("", None):
                    try:
                        expired = int(max_age) <= 0
                    except ValueError:
                        expired = False
                if morsel["expires"] and not expired:
                    try:
                        from email.utils import parsedate_to_datetime
                        expired = parsedate_to_datetime(morsel["expires"]).timestamp() < time.time()
                    except (TypeError, ValueError):
                        expired = False
                if expired:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def header(self, url: str) -> str | None:
        if origin(url) != self.origin or not self.cookies:
            return None
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def clear(self) -> None:
        self.cookies.clear()


# -- HTML forms ----------------------------------------------------------------------------------------------
@dataclass
class Field:
    tag: str
    type: str
    name: str
    value: str
    checked: bool = False


@dataclass
class Form:
    action: str
    method: str
    fields: list[Field] = field(default_factory=list)
    _select: str | None = None

    @property
    def has_password(self) -> bool:
        return any(f.type == "password" for f in self.fields)

    def submits(self) -> list[Field]:
        return [f for f in self.fields if f.type in ("submit", "image")]


class FormParser(HTMLParser):
    """Collects the forms of a page: inputs, buttons, selects (selected or first option) and textareas."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: Field | None = None
        self._textarea: Field | None = None
        self._seen_option = False

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k.lower(): (v if v is not None else "") for k, v in attrs_list}
        if tag == "form":
            self._form = Form(action=attrs.get("action", ""), method=(attrs.get("method") or "get").lower())
            self.forms.append(self._form)
            return
        form = self._form
        if form is None:
            return
        name = attrs.get("name", "")
        if tag == "input":
            kind = (attrs.get("type") or "text").lower()
            form.fields.append(Field("input", kind, name, attrs.get("value", "on" if kind in ("checkbox", "radio")
                                                                         else ""), "checked" in attrs))
        elif tag == "button":
            kind = (attrs.get("type") or "submit").lower()
            form.fields.append(Field("button", kind, name, attrs.get("value", "")))
        elif tag == "select":
            self._select = Field("select", "select", name, "", False)
            self._seen_option = False
            form.fields.append(self._select)
        elif tag == "option" and self._select is not None:
            # the selected option wins; otherwise the first one (checked marks "a selected one was seen")
            if "selected" in attrs or (not self._select.checked and not self._seen_option):
                self._select.value = attrs.get("value", "")
                self._select.checked = "selected" in attrs
            self._seen_option = True
        elif tag == "textarea":
            self._textarea = Field("textarea", "textarea", name, "")
            form.fields.append(self._textarea)

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def parse_forms(html: str) -> list[Form]:
    parser = FormParser()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - html.parser is lenient; a broken page just has fewer forms
        pass
    return parser.forms


def form_pairs(form: Form, *, submit: Field | None = None, drop: re.Pattern | None = None) -> list[tuple[str, str]]:
    """The name/value pairs a browser would submit (successful controls, HTML §4.10.21.4)."""
    pairs: list[tuple[str, str]] = []
    for f in form.fields:
        if not f.name:
            continue
        if f.type in ("submit", "image", "button", "reset", "file"):
            if f is submit:
                pairs.append((f.name, f.value))
            continue
        if f.type in ("checkbox", "radio") and not f.checked:
            continue
        if drop is not None and f.type == "hidden" and drop.search(f.name):
            continue
        pairs.append((f.name, f.value))
    return pairs


def choose_approve(form: Form) -> Field | None:
    """The consent button to press: one saying approve/allow/... ; else the first one not saying deny."""
    buttons = form.submits()
    for words in (APPROVE_WORDS,):
        for b in buttons:
            text = f"{b.name} {b.value}".lower()
            if any(w in text for w in words) and not any(re.search(rf"\b{d}\b", text) for d in DENY_WORDS):
                return b
    for b in buttons:
        text = f"{b.name} {b.value}".lower()
        if not any(re.search(rf"\b{d}\b", text) for d in DENY_WORDS):
            return b
    return buttons[0] if buttons else None


# -- one request -----------------------------------------------------------------------------------------------
def mask_cookie(header: str | None) -> str:
    if not header:
        return ""
    return "; ".join(f"{part.split('=', 1)[0]}=***" for part in header.split("; "))


async def fetch(session: aiohttp.ClientSession, method: str, url: str, *, jar: OriginJar, label: str,
                data: str | None = None, headers: dict[str, str] | None = None,
                shown_body: str | None = None) -> tuple[Observation, str]:
    """One request with the jar's cookies; returns the Observation (password and cookies masked) and the
    page text (up to PAGE_LIMIT, for form parsing)."""
    hdrs = dict(headers or {})
    cookie = jar.header(url)
    if cookie:
        hdrs["Cookie"] = cookie
    if data is not None:
        hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
    shown_headers = {**hdrs, **({"Cookie": mask_cookie(cookie)} if cookie else {})}
    start = time.monotonic()
    try:
        async with session.request(method, URL(url, encoded=True), headers=hdrs, data=data,
                                   allow_redirects=False) as resp:
            raw = await resp.content.read(PAGE_LIMIT)
            text = raw.decode(resp.charset or "utf-8", "replace")
            jar.store(url, resp.headers.getall("Set-Cookie", []))
            resp_headers = first_values(resp.headers)
            parsed = None
            if resp.content_type == "application/json":
                try:
                    parsed = json.loads(text)
                except ValueError:
                    parsed = None
            obs = Observation(label=label, method=method, url=url, request_headers=shown_headers,
                              request_body=shown_body if shown_body is not None else data, status=resp.status,
                              headers=resp_headers, body=text[:BODY_LIMIT], elapsed=time.monotonic() - start,
                              json=parsed, header_lists=all_values(resp.headers))
            return obs, text
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
        obs = Observation(label=label, method=method, url=url, request_headers=shown_headers,
                          request_body=shown_body if shown_body is not None else data, status=None, headers={},
                          body="", elapsed=time.monotonic() - start, error=f"{exc.__class__.__name__}: {exc}")
        return obs, ""


# -- the driver ----------------------------------------------------------------------------------------------
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
                follow_origins: set[str] | None = None, stop_at_login: bool = False) -> LoginResult:
    """Walk from the authorization request ``url`` to the client's redirect URI (or to a dead end).

    Each hop sends one request; its answer decides the next: a redirect is followed (or ends the walk at
    the client), an HTML page has its login or consent form submitted, anything else ends the walk.
    ``drop_hidden`` removes matching hidden inputs (the CSRF scenario); ``extra_headers`` go on every
    request (an ``Origin``, say). ``stop_at_login``: end the walk at the login page, without signing in.
    ``follow_origins``: the origins redirects are followed to (default: the
    jar's, i.e. the authorization server's)."""
    follow = set(follow_origins or ()) | {jar.origin}
    result = LoginResult(steps=[])
    method, current, data, shown = "GET", url, None, None
    kind, step_label = "start", label
    logins = consents = 0
    for _ in range(max_hops):
        obs, text = await fetch(session, method, current, jar=jar, label=step_label, data=data,
                                headers=extra_headers, shown_body=shown)
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
            if logins >= 2:
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


def fill_login(form: Form, credentials: Credentials, *, drop: re.Pattern | None = None) -> list[tuple[str, str]]:
    """The login form's pairs with the username and password filled in."""
    names = {f.name for f in form.fields}
    user_field = credentials.username_field
    if user_field not in names:
        user_field = next((f.name for f in form.fields if f.type in ("text", "email") and f.name), user_field)
    pass_field = credentials.password_field
    if pass_field not in names:
        pass_field = next((f.name for f in form.fields if f.type == "password" and f.name), pass_field)
    submit = next(iter(form.submits()), None)
    pairs = [(k, v) for k, v in form_pairs(form, submit=submit, drop=drop) if k not in (user_field, pass_field)]
    return [(user_field, credentials.username), (pass_field, credentials.password), *pairs]


def submit_request(form: Form, page_url: str, pairs: list[tuple[str, str]],
                   password: str | None) -> tuple[str, str, str | None, str | None]:
    """(method, url, body, body as shown in evidence) of submitting ``form`` from ``page_url``."""
    action = urljoin(page_url, form.action) if form.action else page_url
    body = urlencode(pairs)
    shown = body
    if password is not None:
        shown = urlencode([(k, "***" if v == password else v) for k, v in pairs])
    if form.method == "post":
        return "POST", action, body, shown
    base = action.split("#", 1)[0].split("?", 1)[0]
    return "GET", f"{base}?{body}", None, None
