"""HTML forms as a browser submits them (HTML §4.10.21.4), parsed with the standard library's ``html.parser``.

``parse_forms`` collects every form of a page (inputs, buttons, selects with the selected or first option,
textareas); ``form_pairs`` is what a browser would submit; ``fill_login`` puts the credentials in a login
form; ``choose_approve`` picks the consent button that approves; ``submit_request`` turns a submission into
(method, url, body). Nothing here knows any particular server.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urljoin

if TYPE_CHECKING:
    from .login import Credentials

APPROVE_WORDS = ("approve", "allow", "accept", "authorize", "authorise", "consent", "grant", "yes", "continue",
                 "confirm", "ok")
DENY_WORDS = ("deny", "reject", "cancel", "decline", "no")
CSRF_NAME = re.compile(r"csrf|xsrf|authenticity|verification|_token$|^token$|nonce", re.I)


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



def fill_login(form: Form, credentials: "Credentials", *, drop: re.Pattern | None = None) -> list[tuple[str, str]]:
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
