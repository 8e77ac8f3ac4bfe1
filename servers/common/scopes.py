"""Scopes (RFC 6749 §3.3; RFC 9068 §2.2.3): a space-delimited, case-sensitive list of tokens.

scope       = scope-token *( SP scope-token )
scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
"""
from __future__ import annotations

import functools
import re

from .errors import InvalidScope

SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")


@functools.lru_cache(maxsize=1024)
def parse_scope(value: str | None) -> tuple[str, ...]:
    """RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), space-delimited; a malformed scope is
    ``invalid_scope``. Order kept, duplicates dropped. A pure function of the string, memoised (clients send
    the same few scope strings again and again; a malformed one raises and is not kept)."""
    if value is None or value == "":
        return ()
    parts = value.split(" ")
    if any(not SCOPE_TOKEN.fullmatch(p) for p in parts):
        raise InvalidScope(f"malformed scope {value!r}")
    return tuple(dict.fromkeys(parts))


def token_scopes(claims: dict) -> frozenset[str]:
    """The scopes a verified token carries: its ``scope`` claim, a string (an array counts as none)."""
    scope = claims.get("scope")
    return frozenset(scope.split()) if isinstance(scope, str) else frozenset()


def grant_scopes(requested: tuple[str, ...], known: tuple[str, ...], allowed: tuple[str, ...],
                 default: tuple[str, ...] = ()) -> tuple[str, ...]:
    """RFC 6749 §3.3: requested scopes must all be known (else invalid_scope); grant those the principal is
    allowed ("The authorization server MAY fully or partially ignore the scope requested").

    An empty request gets ``default`` (intersected with what is allowed)."""
    unknown = [s for s in requested if s not in known]
    if unknown:
        raise InvalidScope(f"unknown scope(s) {unknown}")
    wanted = requested or default
    return tuple(s for s in wanted if s in allowed)
