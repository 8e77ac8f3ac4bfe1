"""Hypothesis strategies for access tokens and the requests that carry them. Plural nouns, each citing the
rule it draws from, in three kinds: valid (a verifier following the profile must accept), lenient (the RFCs
leave the answer to the verifier: either answer is fine) and invalid (one rule broken: it must refuse).
``base`` arguments are T0's claims/header (harness/rskit.py); times are drawn as offsets and "now" added
after, so the same draws mean the same data while hypothesis shrinks.

- ``claim_sets`` / ``lenient_claim_sets``: RFC 7519 §4.1 and RFC 9068 §2.2 claim sets.
- ``expired_claim_sets``, ``premature_claim_sets``, ``claim_sets_without``, ``claim_sets_with_wrong``,
  ``claim_sets_with_bad_type``: one claim rule broken (RFC 7519 §4.1.3-§4.1.5, RFC 9068 §4).
- ``jwt_headers`` / ``lenient_jwt_headers`` / ``headers_with_wrong_typ`` / ``headers_with_unknown_crit``:
  RFC 7515 §4.1 JOSE headers.
- ``token_shapes`` (not a compact JWS) / ``non_canonical_encodings`` (the signed bytes unchanged):
  RFC 7515 §7.1.
- ``authorization_headers`` / ``lenient_authorization_headers`` / ``credential_less_headers``: RFC 6750 §2.1.
"""
from __future__ import annotations

import time
from typing import Any

from hypothesis import strategies as st

DAY = 86400
FAR = 7 * DAY   # beyond any leeway a verifier could call "a few minutes": the claim is not checked at all
MARGIN = 120    # seconds kept away from any leeway boundary, so the oracle never has to guess the skew
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2 ** 70), max_value=2 ** 70),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))
JSON_VALUES = JSON_SCALARS | st.sampled_from([[], {}, [1], ["x", "y"], [None], {"a": 1}, {"": []}, [[]]])
REGISTERED = ("iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "client_id", "azp", "typ", "cnf", "act")
EXTRA_NAMES = st.sampled_from(["roles", "groups", "email", "name", "tenant", "é", "__proto__", "constructor"]) | \
    st.text(min_size=1, max_size=8).filter(lambda n: n not in REGISTERED)


def _now() -> int:
    return int(time.time())


def claim_sets(base: dict, lifetime: int = 300) -> st.SearchStrategy[dict]:
    """Claim sets every verifier of the profile accepts: T0 with exp ahead and nbf behind by more than
    MARGIN, iat behind within the token's lifetime (RFC 7519 §4.1.4-§4.1.6), and aud as a string or an array
    containing it (RFC 7519 §4.1.3: "In the general case, the aud value is an array of case-sensitive
    strings")."""
    span = max(lifetime, MARGIN + 1)
    times = st.tuples(st.integers(MARGIN, MARGIN + lifetime), st.integers(5, span), st.none() | st.integers(MARGIN, span))
    auds = st.tuples(st.sampled_from([None, (), ("https://other.example",), ("urn:other", "api")]), st.booleans())

    def make(t: tuple, aud: tuple) -> dict:
        c, now = dict(base), _now()
        c["exp"] = now + t[0]
        if "iat" in c:
            c["iat"] = now - t[1]
        if t[2] is not None:
            c["nbf"] = now - t[2]
        if "aud" in base and aud[0] is not None:
            c["aud"] = [base["aud"], *aud[0]] if aud[1] else [*aud[0], base["aud"]]
        return c
    return st.builds(make, times, auds)


LENIENT_EDITS = st.lists(st.one_of(
    st.tuples(st.just("extra"), st.dictionaries(EXTRA_NAMES, JSON_VALUES, min_size=1, max_size=2)),
    st.tuples(st.just("fraction"), st.floats(0.001, 0.999)),
    st.tuples(st.just("iat-future"), st.integers(MARGIN, DAY)),
    st.tuples(st.just("drop"), st.sampled_from(["iat", "jti", "client_id"])),
    st.tuples(st.just("sub"), st.text(min_size=1, max_size=20)),
    st.tuples(st.just("scope"), st.sampled_from(["", "me", "items", "openid", "me items extra"]))),
    min_size=1, max_size=2)


def _lenient(c: dict, edits: list) -> dict:
    c = dict(c)
    for kind, value in edits:
        if kind == "extra":
            c.update(value)
        elif kind == "fraction":
            c["exp"] = c["exp"] + value
        elif kind == "iat-future":
            c["iat"] = _now() + value
        elif kind == "drop":
            c.pop(value, None)
        else:
            c[kind] = value
    return c


def lenient_claim_sets(base: dict, lifetime: int = 300) -> st.SearchStrategy[dict]:
    """Claim sets the RFCs let a verifier accept or refuse: unknown extra claims (RFC 7519 §4 "MUST be ignored
    unless otherwise required by the application"), non-integer NumericDates (RFC 7519 §2), iat in the future
    (RFC 7519 §4.1.6 gives no rule), no iat, jti or client_id (RFC 9068 §2.2: the issuer's duty), another
    subject or scope (the target may not know that user)."""
    return st.builds(_lenient, claim_sets(base, lifetime), LENIENT_EDITS)


def _any(base: dict) -> st.SearchStrategy[dict]:
    return claim_sets(base) | lenient_claim_sets(base)


def expired_claim_sets(base: dict, low: int, high: int) -> st.SearchStrategy[dict]:
    """Valid claim sets whose exp lies ``low``..``high`` seconds in the past (RFC 7519 §4.1.4: "the current
    date/time MUST be before the expiration date/time listed in the exp claim")."""
    def make(c: dict, past: int) -> dict:
        c = dict(c)
        c["exp"] = max(0, _now() - past)
        if isinstance(c.get("iat"), (int, float)) and c["iat"] > c["exp"]:
            c["iat"] = max(0, c["exp"] - 300)
        c.pop("nbf", None)
        return c
    return st.builds(make, _any(base), st.integers(low, high))


def premature_claim_sets(base: dict, low: int, high: int) -> st.SearchStrategy[dict]:
    """Valid claim sets whose nbf lies ``low``..``high`` seconds ahead (RFC 7519 §4.1.5: "the time before
    which the JWT MUST NOT be accepted for processing"), exp after it."""
    def make(c: dict, ahead: int) -> dict:
        c = dict(c)
        c["nbf"] = _now() + ahead
        c["exp"] = c["nbf"] + 300
        return c
    return st.builds(make, _any(base), st.integers(low, high))


def claim_sets_without(base: dict, name: str) -> st.SearchStrategy[dict]:
    """Valid claim sets without ``name`` (a claim the profile's policy requires)."""
    return _any(base).map(lambda c: {k: v for k, v in c.items() if k != name})


def claim_sets_with_wrong(base: dict, name: str) -> st.SearchStrategy[dict]:
    """Valid claim sets whose iss or aud names someone else: a near miss (case, trailing slash, prefix), any
    other string, or for aud an array without the target (RFC 9068 §4; RFC 7519 §4.1.3)."""
    mine = base[name]
    near = [mine.upper(), mine + "/", mine.rstrip("/"), mine + ".evil.example", "x" + mine, mine[:-1], " " + mine]
    values = st.sampled_from(near) | st.text(max_size=30)
    if name == "aud":
        values = values | st.lists(st.sampled_from(near) | st.text(max_size=10), max_size=3)

    def make(c: dict, value: Any) -> dict:
        if value == mine or isinstance(value, list) and mine in value:
            value = mine + "-other"
        return {**c, name: value}
    return st.builds(make, _any(base), values)


def _is_type_of(name: str, v: Any) -> bool:
    if name in ("exp", "nbf", "iat"):
        return not isinstance(v, bool) and isinstance(v, (int, float))
    return isinstance(v, str)


def claim_sets_with_bad_type(base: dict, name: str) -> st.SearchStrategy[dict]:
    """Valid claim sets where ``name`` has the wrong JSON type: exp/nbf "MUST be a number containing a
    NumericDate value" (RFC 7519 §4.1.4, §4.1.5), sub "a case-sensitive string" (§4.1.2). A numeric string
    that reads as a time a day ahead is the lenient-parser trap."""
    time_claim = name in ("exp", "nbf")
    values = st.sampled_from(["@trap", "@trap.0", "[+day]"] if time_claim else [None]) | \
        JSON_VALUES.filter(lambda v: not _is_type_of(name, v))

    def make(c: dict, value: Any) -> dict:
        # the trap: a numeric string that, read as a number, breaks the rule (exp a day ago, nbf in a
        # month); a reader that converts it refuses, one that ignores the claim accepts
        trap = _now() - DAY if name == "exp" else _now() + 30 * DAY
        if time_claim and isinstance(value, str):
            value = {"@trap": str(trap), "@trap.0": f"{trap}.0", "[+day]": [_now() + DAY]}.get(value, value)
        c = {**c, name: value}
        if name == "nbf":
            c["exp"] = _now() + 60 * DAY
        return c
    return st.builds(make, claim_sets(base), values)


def jwt_headers(base: dict) -> st.SearchStrategy[dict]:
    """Headers every verifier of the profile accepts: T0's, with typ ``at+jwt`` or ``application/at+jwt``
    (RFC 9068 §4: 'verify that the "typ" header value is "at+jwt" or "application/at+jwt"')."""
    if base.get("typ") != "at+jwt":
        return st.just(dict(base))
    return st.sampled_from([dict(base), {**base, "typ": "application/at+jwt"}]).map(dict)


HEADER_EDITS = st.one_of(st.tuples(st.just("kid"), st.just("drop") | JSON_SCALARS),
                         st.tuples(st.just("typ-case"), st.none()),
                         st.tuples(st.just("cty"), st.sampled_from(["json", "at+jwt", "application/json"])),
                         st.tuples(st.sampled_from(["jku", "x5u"]), st.just("http://127.0.0.1:9/jwks")),
                         st.tuples(st.just("extra"), st.dictionaries(EXTRA_NAMES, JSON_SCALARS, min_size=1,
                                                                     max_size=2)))


def _header_edit(h: dict, edit: tuple) -> dict:
    h = dict(h)
    kind, value = edit
    if kind == "kid" and value == "drop":
        h.pop("kid", None)
    elif kind == "typ-case":
        if isinstance(h.get("typ"), str):
            h["typ"] = h["typ"].upper()
    elif kind == "extra":
        h.update({k: v for k, v in value.items() if k not in ("alg", "typ", "kid", "crit")})
    else:
        h[kind] = value
    return h


def lenient_jwt_headers(base: dict) -> st.SearchStrategy[dict]:
    """Headers a verifier may accept or refuse on a token signed by the trusted key: kid absent, null, of
    another type or unknown (RFC 7515 §4.1.4: kid is a hint), typ in upper case (RFC 7515 §4.1.9 media
    types), cty, and key-carrying members it may ignore (RFC 8725 §3.10)."""
    return st.builds(_header_edit, jwt_headers(base), HEADER_EDITS)


def headers_with_wrong_typ(base: dict) -> st.SearchStrategy[dict]:
    """Headers whose typ is not the profile's: absent, plain JWT, another explicit type, or not a string
    (RFC 9068 §4: "reject tokens carrying any other value"; RFC 8725 §3.11)."""
    mine = base["typ"].lower().removeprefix("application/")
    values = st.sampled_from(["drop", "JWT", "jwt", "application/jwt", "id_token+jwt", "secevent+jwt", "logout+jwt",
                              "at-jwt", ""]) | st.text(max_size=15) | JSON_SCALARS

    def make(h: dict, value: Any) -> dict:
        h = dict(h)
        if value == "drop":
            h.pop("typ", None)
        elif isinstance(value, str) and value.lower().removeprefix("application/") == mine:
            h["typ"] = "JWT" if mine != "jwt" else "at+jwt"
        else:
            h["typ"] = value
        return h
    return st.builds(make, jwt_headers(base) | lenient_jwt_headers(base), values)


def headers_with_unknown_crit(base: dict) -> st.SearchStrategy[dict]:
    """Headers whose crit lists an extension no verifier knows (RFC 7515 §4.1.11: 'If any of the listed
    extension Header Parameters are not understood and supported by the recipient, then the JWS is
    invalid')."""
    def make(h: dict, name: str, value: Any) -> dict:
        h = {**h, "crit": [name]}
        if value != "absent":
            h[name] = value
        return h
    return st.builds(make, jwt_headers(base), st.sampled_from(["urn:x:unknown", "http://example.com/ext", "x-ext"]),
                     st.just("absent") | JSON_SCALARS)


def _split(token: str) -> tuple[str, str, str]:
    h, p, s = token.split(".")
    return h, p, s


POSITIONS = st.integers(0, 2 ** 16)   # a place in a segment, taken modulo its length
SHAPE_EDITS = st.one_of(st.tuples(st.just("segments"), st.sampled_from([1, 2, 4, 5, 6])),
                        st.tuples(st.just("truncate"), POSITIONS),
                        st.tuples(st.just("empty-parts"), st.integers(0, 5)),
                        st.tuples(st.just("swap"), st.none()),
                        st.tuples(st.just("junk"), st.integers(0, 4)))


def _shape(token: str, edit: tuple) -> str:
    h, p, s = _split(token)
    kind, n = edit
    if kind == "segments":
        return ".".join([h, p, s, "e30", "x", "y"][:n])
    if kind == "truncate":
        return token[: n % (len(token) - 1)]
    if kind == "swap":
        return f"{p}.{h}.{s}"
    if kind == "junk":
        return ["null", "undefined", "e30.e30.", "Bearer", f"{token}.{s}"][n]
    return [f"{h}..{s}", f".{p}.{s}", f"{h}.{p}.", "..", ".", f"{h}.{p}.{h}"][n]


def token_shapes(tokens: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Strings made from ``tokens`` that are not a compact JWS (RFC 7515 §7.1): wrong segment counts, a
    segment emptied, truncation, segments swapped, junk."""
    return st.builds(_shape, tokens, SHAPE_EDITS)


ENCODING_EDITS = st.one_of(st.tuples(st.just("padding"), st.integers(0, 2), st.none()),
                           st.tuples(st.just("alphabet"), POSITIONS, st.sampled_from(list("*%!$&'()+,;/=@[]{}\"é"))),
                           st.tuples(st.just("whitespace"), POSITIONS, st.sampled_from([" ", "\t"])))


def _encoding(token: str, edit: tuple) -> str:
    h, p, s = _split(token)
    kind, n, ch = edit
    if kind == "padding":
        return [f"{h}=.{p}.{s}", f"{h}.{p}==.{s}", f"{h}.{p}.{s}="][n]
    if kind == "alphabet":
        i = n % (len(s) + 1)
        return f"{h}.{p}.{s[:i]}{ch}{s[i:]}"
    i = 1 + n % (len(p) - 1)
    return f"{h}.{p[:i]}{ch}{p[i:]}.{s}"


def non_canonical_encodings(tokens: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """The same signed bytes spelled in a way RFC 7515 §2 excludes ("base64url encoding ... with all trailing
    '=' characters omitted ... and without the inclusion of any line breaks, whitespace, or other additional
    characters"): padding, a character outside the alphabet, whitespace."""
    return st.builds(_encoding, tokens, ENCODING_EDITS)


SCHEMES = st.lists(st.booleans(), min_size=6, max_size=6).map(
    lambda bits: "".join(c.upper() if b else c.lower() for c, b in zip("bearer", bits)))


def authorization_headers(tokens: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Valid RFC 6750 §2.1 credentials with one space: the scheme in any case (RFC 9110 §11.1: "It uses a
    case-insensitive token as a means to identify the authentication scheme")."""
    return st.builds(lambda scheme, token: f"{scheme} {token}", SCHEMES, tokens)


BENT = ("Bearer  {t}", "Bearer   {t}", "Bearer {t} x", "Bearer {t},", "Basic {t}", "Token {t}", "{t}", 'Bearer "{t}"',
        "Bearer\t{t}", "Bearer {t} ")


def lenient_authorization_headers(tokens: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Authorization values that carry a valid token but bend RFC 6750 §2.1 (``"Bearer" 1*SP b64token``):
    several spaces (valid, but no rule obliges a server to accept them), a tab, trailing text, quotes,
    another scheme. Refusing or accepting the valid token inside is both fine."""
    return st.builds(lambda form, token: form.format(t=token), st.sampled_from(BENT), tokens)


def credential_less_headers() -> st.SearchStrategy[str]:
    """Authorization values carrying no token at all (RFC 6750 §3: the request "does not include
    authentication credentials"): must be refused."""
    return st.sampled_from(["Bearer", "Bearer ", "bearer", "BEARER", ""])
