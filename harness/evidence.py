"""Evidence for reports: what was sent and what came back, with every token shortened and every secret
redacted. No report ever holds a full token, a password or a key.

A token is shown as ``eyJhbGci…x9Q (312 chars)``: enough to recognise it, useless to replay.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from .scenario import Observation

BODY_EXCERPT = 400
# JWS/JWE-like dotted base64url strings, and long base64url/hex runs (opaque tokens, codes, secrets).
DOTTED = re.compile(r"[A-Za-z0-9_\-+/=]{8,}(?:\.[A-Za-z0-9_\-+/=]*){1,4}")
LONG_RUN = re.compile(r"[A-Za-z0-9_\-+/~]{32,}={0,2}")
SENSITIVE_FIELDS = re.compile(
    r"((?<![\w-])(?:password|client_secret|refresh_token|access_token|code_verifier|code|id_token|assertion|secret)"
    r"[\"']?\s*[=:]\s*[\"']?)([^&\"',\s}]+)", re.I)


def shorten(token: str) -> str:
    """``eyJhbGci…x9Q (312 chars)``: the first 8 and last 3 characters and the length."""
    if len(token) <= 16:
        return token
    return f"{token[:8]}…{token[-3:]} ({len(token)} chars)"


def _shorten_match(m: re.Match) -> str:
    text = m.group(0)
    # keep URL-ish or dotted names short enough to be harmless (hosts, file names): only shorten if long
    if len(text) < 24 and text.count(".") < 2:
        return text
    if "://" in text or re.fullmatch(r"[a-z0-9\-]+(\.[a-z0-9\-]+)+", text):
        return text
    return shorten(text)


def scrub(text: str | None, secrets: Iterable[str] = (), limit: int | None = None) -> str | None:
    """Redact known secrets, shorten anything token-like, cut to ``limit`` characters."""
    if text is None:
        return None
    for s in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(s, "[redacted]")
    text = SENSITIVE_FIELDS.sub(lambda m: m.group(1) + (shorten(m.group(2)) if len(m.group(2)) > 16
                                                         else "[redacted]" if "password" in m.group(1).lower()
                                                         or "secret" in m.group(1).lower() else m.group(2)), text)
    text = DOTTED.sub(_shorten_match, text)
    text = LONG_RUN.sub(lambda m: shorten(m.group(0)), text)
    if limit is not None and len(text) > limit:
        text = text[:limit] + f"… ({len(text)} chars)"
    return text


# Headers whose values are media types and such, never credentials: shortening them only garbles them
# ("application/x-www-form-urlencoded" looks like a long token).
PLAIN_HEADERS = frozenset({"content-type", "accept"})


def scrub_header(name: str, value: str, secrets: Iterable[str]) -> str:
    low = name.lower()
    if low in PLAIN_HEADERS:
        return value
    if low in ("authorization", "proxy-authorization"):
        scheme, _, cred = value.partition(" ")
        if scheme.lower() == "basic":
            return "Basic [redacted]"
        if not cred:
            return scrub(value, secrets) or ""
        return f"{scheme} {shorten(cred) if len(cred) > 16 else scrub(cred, secrets)}"
    if low in ("cookie", "set-cookie"):
        return re.sub(r"=([^;]{12,})", lambda m: "=" + shorten(m.group(1)), scrub(value, secrets) or "")
    return scrub(value, secrets) or ""


class Evidence(dict):
    """The secret-free record (a plain dict to every serialiser), holding on to the raw ``Observation`` so
    that a local ``--reveal`` reproduction can replay the exact request. Never serialised."""
    observation: Observation | None = None


def evidence(obs: Observation, secrets: Iterable[str] = (), problems: list[str] | None = None) -> dict[str, Any]:
    """A JSON-ready, secret-free record of one request and its response."""
    secrets = list(secrets)
    record = Evidence({
        "label": scrub(obs.label, secrets, 200),
        "request": {
            "method": obs.method,
            "url": scrub(obs.url, secrets, 300),
            "headers": {k: scrub_header(k, v, secrets) for k, v in obs.request_headers.items()},
            "body": scrub(obs.request_body, secrets, BODY_EXCERPT),
        },
        "response": {
            "status": obs.status,
            "headers": {k: scrub_header(k, ", ".join(obs.header_values(k)) or v, secrets)
                        for k, v in obs.headers.items()
                        if k.lower() in ("www-authenticate", "content-type", "cache-control", "pragma", "location",
                                         "retry-after", "access-control-allow-origin", "x-frame-options",
                                         "content-security-policy", "referrer-policy", "server", "set-cookie")},
            "body_excerpt": scrub(obs.body, secrets, BODY_EXCERPT),
            "elapsed_ms": round(obs.elapsed * 1000, 1),
            "error": obs.error,
        },
        "problems": list(problems or []),
    })
    record.observation = obs
    return record
