"""Hypothesis strategies for access tokens and the requests that carry them. Plural nouns, valid/invalid pairs,
each citing the rule it draws from. ``base`` arguments are T0's claims/header (harness/rskit.py).

- ``claim_sets(base)`` / ``invalid_claim_sets(base)``: RFC 7519 §4.1 and RFC 9068 §2.2 claim sets.
- ``jwt_headers(base)`` / ``invalid_jwt_headers(base)``: RFC 7515 §4.1 JOSE headers (alg spellings, kid
  values, crit, jku/x5u/jwk/x5c).
- ``token_shapes(token)``: RFC 7515 §7.1 compact-serialisation shapes that are NOT a JWS (segments, padding,
  whitespace, non-base64url characters).
- ``authorization_headers(token)`` / ``invalid_authorization_headers(token)``: RFC 6750 §2.1 credentials.
"""
from __future__ import annotations

import time
from typing import Any

from hypothesis import strategies as st

REQUIRED = ("iss", "sub", "aud", "exp", "iat", "jti")          # RFC 9068 §2.2 (client_id when the profile has it)
STRING_CLAIMS = ("iss", "sub", "jti", "scope", "client_id")
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                  st.dictionaries(st.text(max_size=8), inner,
                                                                                  max_size=3)), max_leaves=6)
EXTRA_NAMES = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12).filter(
    lambda n: n not in REQUIRED + ("nbf", "scope", "client_id", "azp", "aud"))
MARGIN = 120  # seconds kept away from any leeway boundary, so the oracle never has to guess the skew


def _now() -> int:
    return int(time.time())


@st.composite
def claim_sets(draw: Any, base: dict) -> dict:
    """Valid claim sets (RFC 7519 §4.1): T0 with times moved safely inside validity, aud as a string or an
    array containing it (§4.1.3), fractional NumericDates (§2), and extra claims of any JSON type."""
    c = dict(base)
    now = _now()
    # offsets are drawn, "now" is added after: hypothesis needs the same draws to mean the same data
    c["exp"] = now + draw(st.one_of(st.integers(MARGIN, 86400), st.floats(MARGIN, 86400, allow_nan=False)))
    c["iat"] = now - draw(st.integers(MARGIN, 86400))
    if draw(st.booleans()):
        c["nbf"] = now - draw(st.integers(MARGIN, 86400))
    if draw(st.booleans()):
        c["aud"] = draw(st.permutations([base["aud"], *draw(st.lists(st.text(min_size=1, max_size=20), max_size=2))]))
    c.update(draw(st.dictionaries(EXTRA_NAMES, JSON_VALUES, max_size=3)))
    return c


@st.composite
def invalid_claim_sets(draw: Any, base: dict) -> dict:
    """Claim sets with one rule broken: a required claim missing (RFC 9068 §2.2), expired or not yet valid
    (RFC 7519 §4.1.4/§4.1.5), a wrong issuer or audience (RFC 9068 §4), or a claim of the wrong JSON type."""
    c = dict(draw(claim_sets(base)))
    now = _now()
    kind = draw(st.sampled_from(["drop", "expired", "nbf", "iss", "aud", "type"]))
    if kind == "drop":
        c.pop(draw(st.sampled_from([k for k in REQUIRED if k in c])), None)
    elif kind == "expired":
        c["exp"] = max(0, now - draw(st.integers(MARGIN, 10 ** 9)))
    elif kind == "nbf":
        c["nbf"] = now + draw(st.integers(MARGIN, 10 ** 9))
    elif kind == "iss":
        c["iss"] = draw(st.text(max_size=30).filter(lambda v: v != base["iss"]))
    elif kind == "aud":
        c["aud"] = draw(st.one_of(st.text(max_size=30), st.lists(st.text(max_size=10), max_size=2)).filter(
            lambda v: v != base["aud"] and (not isinstance(v, list) or base["aud"] not in v)))
    else:
        name = draw(st.sampled_from(["exp", "iat", "iss", "sub", "aud", "jti"]))
        c[name] = draw(JSON_VALUES.filter(lambda v, n=name: _wrong_type(n, v)))
    return c


def _wrong_type(name: str, v: Any) -> bool:
    if name in ("exp", "iat", "nbf"):
        return isinstance(v, bool) or not isinstance(v, (int, float))
    if name == "aud":
        return not isinstance(v, (str, list))
    return not isinstance(v, str)


@st.composite
def jwt_headers(draw: Any, base: dict) -> dict:
    """Valid JOSE headers (RFC 7515 §4.1): T0's, typ in another case or with application/ (RFC 9068 §4 /
    RFC 7515 §4.1.9), and extra registered-looking members the verifier may ignore."""
    h = dict(base)
    if "typ" in h and draw(st.booleans()):
        t = h["typ"]
        h["typ"] = draw(st.sampled_from([t, t.upper(), "application/" + t]))
    if draw(st.booleans()):
        h["cty"] = draw(st.sampled_from(["JWT", "json"]))
    return h


ALG_SPELLINGS = ("none", "None", "NONE", "nOnE", "HS256", "HS384", "HS512", "RS256", "RS512", "PS256", "ES256",
                 "EdDSA", "hs256", "rs256", "", "dir", "A128KW")


@st.composite
def invalid_jwt_headers(draw: Any, base: dict) -> dict:
    """Headers a verifier must refuse, or that cannot make a forged signature valid: other alg spellings
    (RFC 8725 §3.1), an unknown crit extension (RFC 7515 §4.1.11), key-carrying members (RFC 8725 §3.10)."""
    h = dict(base)
    kind = draw(st.sampled_from(["alg", "crit", "keyurl", "kid-type"]))
    if kind == "alg":
        h["alg"] = draw(st.sampled_from([a for a in ALG_SPELLINGS if a != base["alg"]]))
    elif kind == "crit":
        name = draw(st.sampled_from(["urn:x:unknown", "exp", "b64x"]))
        h["crit"] = [name]
        h[name] = True
    elif kind == "keyurl":
        h[draw(st.sampled_from(["jku", "x5u"]))] = draw(st.sampled_from(["http://127.0.0.1:9/jwks", "file:///etc/passwd"]))
    else:
        h["kid"] = draw(JSON_SCALARS.filter(lambda v: not isinstance(v, str)))
    return h


@st.composite
def token_shapes(draw: Any, token: str) -> str:
    """Strings that are not a compact JWS (RFC 7515 §7.1, RFC 7519 §7.2): wrong segment counts, padding,
    characters outside base64url, whitespace, truncation."""
    h, p, s = token.split(".")
    kind = draw(st.sampled_from(["segments", "padding", "alphabet", "whitespace", "truncate", "empty-parts"]))
    if kind == "segments":
        n = draw(st.sampled_from([1, 2, 4, 5, 6]))
        parts = [h, p, s, "e30", "x", "y"][:n]
        return ".".join(parts)
    if kind == "padding":
        return f"{h}=.{p}==.{s}"
    if kind == "alphabet":
        ch = draw(st.sampled_from(list("*%!$&'()+,;/=@[]{}\"é")))
        i = draw(st.integers(0, len(s) - 1))
        return f"{h}.{p}.{s[:i]}{ch}{s[i:]}"
    if kind == "whitespace":
        ch = draw(st.sampled_from([" ", "\t"]))
        i = draw(st.integers(1, len(p) - 1))
        return f"{h}.{p[:i]}{ch}{p[i:]}.{s}"
    if kind == "truncate":
        return token[: draw(st.integers(0, len(token) - 1))]
    return draw(st.sampled_from([f"{h}..{s}", f".{p}.{s}", f"{h}.{p}.", "..", "."]))


@st.composite
def authorization_headers(draw: Any, token: str) -> str:
    """Valid RFC 6750 §2.1 credentials: ``Bearer`` in any case (RFC 9110 §11.1), one space, the token."""
    scheme = "".join(draw(st.sampled_from([c.lower(), c.upper()])) for c in "Bearer")
    return f"{scheme} {token}"


@st.composite
def invalid_authorization_headers(draw: Any, token: str) -> str:
    """Credentials that are not ``Bearer 1*SP b64token`` or not Bearer at all (RFC 6750 §2.1, §3)."""
    return draw(st.sampled_from([f"Bearer {token} x", f"Bearer {token},", "Bearer",
                                 f"Basic {token}", f"Token {token}", f"{token}", f'Bearer "{token}"',
                                 f"Bearer\t{token}"]))
