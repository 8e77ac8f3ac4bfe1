"""The login driver's cookie jar: what a browser keeps for ONE origin, and what it sends back.

RFC 6265 as far as an authorization server's login needs it: a cookie is kept per (name, path) and sent only
to request paths it path-matches (§5.1.4), longest path first (§5.4); ``Max-Age``/``Expires`` in the past
delete it (§5.3). ``SameSite`` (RFC 6265bis §5.4.7) is modelled for the one case the harness forges: on a
cross-site request a ``Strict`` cookie is never sent and a ``Lax`` cookie only on a top-level GET
navigation, never on a cross-site POST. A cookie without ``SameSite`` is sent (what browsers without
Lax-by-default do, the attacker's best case). Cookies set by another origin are dropped and none is ever sent
to another origin; domains are not modelled: one origin, one jar.

Each authorization flow walks with its own jar (``copy()``), so concurrent flows never clobber each other's
interaction cookies; what a successful sign-in set is merged back into the shared browser state (``merge``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit


def origin(url: str) -> str:
    """scheme://host:port of a URL (default ports made explicit), lower-cased scheme and host."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


@dataclass(frozen=True)
class Cookie:
    name: str
    value: str
    path: str = "/"
    samesite: str = ""          # "strict" | "lax" | "none" | "" (not set)


def default_path(url: str) -> str:
    """RFC 6265 §5.1.4: the directory of the request path."""
    path = urlsplit(url).path or "/"
    if not path.startswith("/") or path.count("/") == 1:
        return "/"
    return path[:path.rindex("/")]


def path_matches(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 §5.1.4."""
    if request_path == cookie_path:
        return True
    if request_path.startswith(cookie_path):
        return cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"
    return False


def _expired(morsel) -> bool:
    max_age = morsel["max-age"]
    if max_age not in ("", None):
        try:
            return int(max_age) <= 0
        except ValueError:
            return False
    if morsel["expires"]:
        try:
            return parsedate_to_datetime(morsel["expires"]).timestamp() < time.time()
        except (TypeError, ValueError):
            return False
    return False


class OriginJar:
    """Cookies of ONE origin (the authorization server's)."""

    def __init__(self, url: str) -> None:
        self.origin = origin(url)
        self.jar: dict[tuple[str, str], Cookie] = {}

    @property
    def cookies(self) -> dict[str, str]:
        """name -> value (the longest path wins when a name is set for several paths)."""
        out: dict[str, str] = {}
        for c in sorted(self.jar.values(), key=lambda c: len(c.path)):
            out[c.name] = c.value
        return out

    def store(self, url: str, set_cookie_headers: list[str]) -> None:
        if origin(url) != self.origin:
            return
        for header in set_cookie_headers:
            parsed = SimpleCookie()
            try:
                parsed.load(header)
            except CookieError:
                continue
            for name, morsel in parsed.items():
                path = morsel["path"] if morsel["path"].startswith("/") else default_path(url)
                key = (name, path)
                if _expired(morsel):
                    self.jar.pop(key, None)
                else:
                    self.jar[key] = Cookie(name, morsel.value, path, str(morsel["samesite"] or "").lower())

    def header(self, url: str, *, cross_site: bool = False, method: str = "GET") -> str | None:
        """The Cookie header a browser sends with a request to ``url``; ``cross_site``: the request is
        started by another site's page (a forged form POST)."""
        if origin(url) != self.origin:
            return None
        path = urlsplit(url).path or "/"
        chosen = []
        for c in sorted(self.jar.values(), key=lambda c: -len(c.path)):
            if not path_matches(path, c.path):
                continue
            if cross_site and (c.samesite == "strict" or (c.samesite == "lax" and method.upper() != "GET")):
                continue
            chosen.append(c)
        if not chosen:
            return None
        return "; ".join(f"{c.name}={c.value}" for c in chosen)

    def copy(self) -> "OriginJar":
        other = OriginJar.__new__(OriginJar)
        other.origin, other.jar = self.origin, dict(self.jar)
        return other

    def merge(self, other: "OriginJar") -> None:
        """Take over what ``other`` (a flow's jar that started as a copy of this one) set or deleted."""
        self.jar = dict(other.jar)

    def clear(self) -> None:
        self.jar.clear()
