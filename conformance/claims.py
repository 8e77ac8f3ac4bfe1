"""Catalog §3: claims and time (resource server). RFC 7519 §4.1.4-4.1.6 (exp, nbf, iat), RFC 9068 §2.2
(required claims), RFC 7519 §4 / RFC 7515 §4 (duplicate members), RFC 8725 §3.7 (UTF-8 only).

Every probe carries a VALID signature by the key the target trusts, so the only reason to refuse it is
the claim under test.

Decision on time-exp-leeway: RFC 9068 §4 lets implementers "provide for some small leeway, usually no more
than a few minutes, to account for clock skew" (Spring Security's default is 60 s, Microsoft.IdentityModel's
5 minutes). The profile's ``leeway`` says the skew the target allows (default 300 s: "a few minutes"). We
judge: ``exp = now + 10`` must be accepted (still valid); ``exp = now - (leeway + 30)`` must be rejected;
``exp = now`` and ``now - 10`` may be accepted (inside a skew) or rejected (no skew), never a 5xx.
"""
from __future__ import annotations

import json
import time

from harness import checks
from harness.mutations import rs, with_rules
from harness.rskit import RSKit
from harness.scenario import NotApplicable, Probe

MINT = ("mint",)
# Where the RFC leaves the choice to the resource server, every answer passes (only a 5xx is reported).
EITHER = checks.either(200, 401)
RFC9068 = MINT + ("rfc9068",)
# RFC 7519 §4.1.4: "the current date/time MUST be before the expiration date/time listed in the exp claim";
# RFC 9068 §4: "The current time MUST be before the time represented by the exp claim". Accepted = vulnerability.
# A non-integer NumericDate is legal (RFC 7519 §2 "a JSON numeric value"), so 300.5 s ahead is valid.
VALID_NUMERIC_DATE = checks.accepts('RFC 7519 §2: NumericDate: "A JSON numeric value representing the number of '
                                    'seconds from 1970-01-01T00:00:00Z UTC ... non-integer values can be represented"')
NBF_NOW = checks.accepts('RFC 7519 §4.1.5: "the current date/time MUST be after or equal to the not-before '
                         'date/time listed in the nbf claim"')
UNEXPIRED = checks.accepts("RFC 7519 §4.1.4: a token is valid until its exp; 10 s ahead is still valid")
# RFC 8259 §8.1: "implementations that parse JSON texts MAY ignore the presence of a byte order mark rather than
# treating it as an error": both answers pass.
BOM_EITHER = checks.either(200, 401)


def _now() -> int:
    return int(time.time())


def expire_token(kit: RSKit) -> list[Probe]:
    return [Probe("exp = now - 3600", kit.mint(kit.claims(exp=_now() - 3600)))]


def move_expiry_around_leeway(kit: RSKit) -> list[Probe]:
    now = _now()
    return [Probe("exp = now + 10 s (still valid)", kit.mint(kit.claims(exp=now + 10)), expect=UNEXPIRED),
            Probe(f"exp = now - {kit.profile.leeway + 30} s (beyond the {kit.profile.leeway} s skew)",
                  kit.mint(kit.claims(exp=now - kit.profile.leeway - 30))),
            Probe("exp = now (inside the skew: 200, or 401 without skew)", kit.mint(kit.claims(exp=now)), expect=EITHER),
            Probe("exp = now - 10 s (inside the skew: 200, or 401 without skew)", kit.mint(kit.claims(exp=now - 10)),
                  expect=EITHER)]


def drop_claim(name: str):
    def drop(kit: RSKit) -> list[Probe]:
        return [Probe(f"no {name}", kit.mint(kit.claims(drop=(name,))))]
    drop.__name__ = f"drop_{name}"
    return drop


def _raw_claims(kit: RSKit, name: str, raw_value: str) -> str:
    """The claims as JSON text with ``name`` set to a raw JSON value (e.g. 1e400, which json.dumps cannot write)."""
    c = kit.claims()
    c[name] = "__RAW__"
    return json.dumps(c, separators=(",", ":")).replace('"__RAW__"', raw_value)


def mistype_expiry(kit: RSKit) -> list[Probe]:
    probes = [Probe(f"exp = {raw}", kit.mint(_raw_claims(kit, "exp", raw)),
                    expect=checks.all_of(checks.invalid_token, checks.no_server_error))
              for raw in ('"9999999999"', "null", "true", f"[{_now() + 300}]", "1e400", '{"v":1}')]
    probes.append(Probe("exp = now + 300.5 (a non-integer NumericDate is legal)",
                        kit.mint(kit.claims(exp=_now() + 300.5)), expect=VALID_NUMERIC_DATE))
    return probes


def set_future_nbf(kit: RSKit) -> list[Probe]:
    return [Probe("nbf = now + 3600", kit.mint(kit.claims(nbf=_now() + 3600)))]


def set_nbf_now(kit: RSKit) -> list[Probe]:
    return [Probe("nbf = now (valid: 'after or equal to')", kit.mint(kit.claims(nbf=_now())), expect=NBF_NOW)]


def set_future_iat(kit: RSKit) -> list[Probe]:
    return [Probe("iat = now + 3600", kit.mint(kit.claims(iat=_now() + 3600)))]


def drop_required_claims(kit: RSKit) -> list[Probe]:
    """RFC 9068 §2.2 makes sub, client_id and jti REQUIRED of the issuer; §4 gives the resource server no duty
    about them, so a token without one may be accepted or refused: only a 5xx is reported."""
    t0 = kit.claims()
    return [Probe(f"no {name} (the issuer's duty: 200 or a refusal)", kit.mint(kit.claims(drop=(name,))),
                  expect=EITHER) for name in ("sub", "client_id", "jti") if name in t0]


def confuse_claim_types(kit: RSKit) -> list[Probe]:
    """(a) every claim set to null/true/false/0/"jwt_tool" under the original signature; (b) re-signed with
    values of the wrong type (strings as non-strings, dates as non-numbers, exp = 0)."""
    token = kit.mint()
    h, _, s = token.split(".")
    t0 = kit.claims()
    expect = checks.all_of(checks.invalid_token, checks.no_server_error)
    probes = []
    from harness import forge
    for name in t0:
        for value in (None, True, False, 0, "jwt_tool"):
            probes.append(Probe(f"{name}={json.dumps(value)}, signature kept",
                                f"{h}.{forge.segment({**t0, name: value})}.{s}", expect=expect))
    # Re-signed by the trusted key: a wrong type is refused where the resource server relies on the claim: sub
    # names the principal (RFC 7519 §4.1.2 "a case-sensitive string containing a StringOrURI value"), aud MUST
    # identify it when present (RFC 7519 §4.1.3), iss and scope when it checks them (a declared issuer, a scoped
    # endpoint). jti and client_id are the issuer's duty (RFC 9068 §2.2): either answer passes.
    relied_on = {"sub", "aud"} | ({"iss"} if kit.profile.issuer else set()) | \
        ({"scope"} if kit.profile.scoped_endpoint else set())
    # A scope that is not a string grants nothing: 401 invalid_token or 403 insufficient_scope both refuse it
    # (scope is authorisation, not one of RFC 9068 §4's validation steps).
    scope_refused = checks.any_of(expect, checks.insufficient_scope(""))
    for name in ("iss", "sub", "aud", "jti", "scope", "client_id"):
        if name in t0:
            for value in (None, True, False, 0):
                judged = (scope_refused if name == "scope" else expect) if name in relied_on else EITHER
                probes.append(Probe(f"{name}={json.dumps(value)}, re-signed", kit.mint({**t0, name: value}),
                                    expect=judged))
    # exp: RFC 7519 §4.1.4 "Its value MUST be a number containing a NumericDate value"; an exp that is not one
    # cannot be checked, so the token is refused. iat is informational (RFC 7519 §4.1.6): either answer.
    for name in ("exp",):
        for value in (None, True, False, "jwt_tool"):
            probes.append(Probe(f"{name}={json.dumps(value)}, re-signed", kit.mint({**t0, name: value}), expect=expect))
    for value in (None, True, False, "jwt_tool"):
        probes.append(Probe(f"iat={json.dumps(value)}, re-signed (informational claim: either answer)",
                            kit.mint({**t0, "iat": value}), expect=EITHER))
    probes.append(Probe("exp=0, re-signed", kit.mint({**t0, "exp": 0}), expect=expect))
    return probes


def duplicate_claims(kit: RSKit) -> list[Probe]:
    """Raw JSON with a claim twice: the valid value FIRST, a bad one LAST. A verifier must reject, or use the
    last member (and then refuse the bad value). Authorising on the first value is the bug."""
    t0 = kit.claims()
    body = json.dumps(t0, separators=(",", ":"))[:-1]
    # RFC 7519 §4: "JWT parsers MUST either reject JWTs with duplicate Claim Names or use a JSON parser that returns
    # only the lexically last duplicate member name". The last value is the foreign one, so either way: refused.
    # (iss only where the profile names an issuer: a target that checks no issuer accepts any.)
    no_ok = checks.all_of(checks.rejected_without_crash)
    probes = [Probe("aud twice: valid first, https://other-rs.example last",
                    kit.mint(body + ',"aud":"https://other-rs.example"}'), expect=no_ok),
              Probe("exp twice: valid first, expired last",
                    kit.mint(body + f',"exp":{_now() - 3600}}}'), expect=no_ok)]
    if kit.profile.issuer:
        probes.insert(1, Probe("iss twice: valid first, https://evil.example last",
                               kit.mint(body + ',"iss":"https://evil.example"}'), expect=no_ok))
    p = kit.profile
    if p.scoped_endpoint and p.scoped_scope:
        narrow = " ".join(s for s in p.scope.split() if s not in p.scoped_scope.split())
        probes.append(Probe("scope twice on the scoped endpoint: full first, without the needed scope last",
                            kit.mint(body + f',"scope":{json.dumps(narrow)}}}'), path=p.scoped_endpoint,
                            expect=no_ok))
    return probes


def duplicate_header_alg(kit: RSKit) -> list[Probe]:
    h = kit.header()
    alg = h["alg"]
    raw = json.dumps(h, separators=(",", ":"))[:-1] + ',"alg":"none"}'
    from harness import forge
    return [Probe(f'header alg twice ("{alg}" then "none"), signed with {alg}', kit.mint(kit.claims(), raw, alg=alg)),
            Probe('header alg twice, empty signature', forge.jws(raw, kit.claims()))]


def encode_claims_badly(kit: RSKit) -> list[Probe]:
    c = json.dumps(kit.claims(), separators=(",", ":"))
    h = json.dumps(kit.header(), separators=(",", ":"))
    alg = kit.header()["alg"]
    bad_utf8 = c[:-1].encode() + b',"x":"\xff\xfe"}'
    # RFC 7519 §7.2 step 10 / RFC 8725 §3.7: the claims are "a UTF-8-encoded representation of a completely valid
    # JSON object" (MUST). The same claims in UTF-16, signed by the trusted key, change nothing but the encoding:
    # accepting them is a lenient decoder (a deviation), not a forgery. Invalid UTF-8 is refused the same way.
    utf8 = checks.lenient("RFC 7519 §7.2: verify that the octet sequence is a UTF-8-encoded representation of a "
                          "completely valid JSON object; RFC 8725 §3.7: MUST use UTF-8", error_check=checks.invalid_token)
    return [Probe("payload in UTF-16LE", kit.mint(c.encode("utf-16-le"), alg=alg), expect=utf8),
            Probe("payload in UTF-16 with BOM", kit.mint(c.encode("utf-16"), alg=alg), expect=utf8),
            Probe("payload with a UTF-8 BOM (RFC 8259 §8.1 MAY ignore it: either answer)",
                  kit.mint(b"\xef\xbb\xbf" + c.encode(), alg=alg), expect=BOM_EITHER),
            Probe("payload with invalid UTF-8 bytes", kit.mint(bad_utf8, alg=alg), expect=utf8),
            Probe("header in UTF-16LE", kit.mint(kit.claims(), h.encode("utf-16-le"), alg=alg), expect=utf8)]


def _needs_claim(kit: RSKit, name: str) -> None:
    if name not in kit.claims():
        raise NotApplicable(f"valid tokens carry no {name}")


SCENARIOS = [
    rs(id="time-exp-past", summary="An expired token (exp one hour ago) is rejected.",
       refs=("RFC 7519 §4.1.4", "RFC 9068 §4"), severity="critical", mutate=expire_token, needs=MINT,
       family="time"),
    rs(id="time-exp-leeway", summary="exp is honoured with at most the profile's skew (default a few "
       "minutes): 30 s beyond it is rejected, 10 s ahead accepted.", refs=("RFC 7519 §4.1.4", "RFC 9068 §4"),
       severity="high", mutate=move_expiry_around_leeway, needs=MINT, family="time"),
    # RFC 9068 §4 (an RFC 9068 resource server): "The current time MUST be before the time represented by the
    # exp claim" — a token without exp cannot satisfy it. RFC 7519 §4.1.4 makes exp OPTIONAL otherwise.
    rs(id="time-exp-missing", summary="A token without exp is rejected (RFC 9068 resource servers).",
       refs=("RFC 9068 §4", "RFC 9068 §2.2"), severity="high", mutate=drop_claim("exp"), needs=RFC9068,
       family="time"),
    rs(id="time-exp-type", summary="exp as a string, null, boolean, array, 1e400 or object is rejected "
       "without a 5xx.", refs=("RFC 7519 §4.1.4",), severity="high", mutate=mistype_expiry, needs=MINT,
       family="time"),
    rs(id="time-nbf-future", summary="A token not valid before an hour from now is rejected.",
       refs=("RFC 7519 §4.1.5",), severity="high", mutate=set_future_nbf, needs=MINT, family="time"),
    rs(id="time-nbf-now", summary="A token with nbf = now is accepted.", refs=("RFC 7519 §4.1.5",),
       severity="low", mutate=set_nbf_now, expect=NBF_NOW, needs=MINT, family="time"),
    # RFC 9068 §2.2: iat is REQUIRED of the issuer; no rule for the resource server: either answer passes.
    rs(id="time-iat-missing", summary="A token without iat is accepted or refused, without a 5xx (the "
       "issuer's duty).", refs=("RFC 9068 §2.2",), severity="medium", mutate=drop_claim("iat"), expect=EITHER,
       needs=MINT, family="time"),
    # RFC 7519 §4.1.6: iat "can be used to determine the age of the JWT"; no rule to refuse a future one.
    rs(id="time-iat-future", summary="A token issued an hour in the future is accepted or refused, without a "
       "5xx (policy).", refs=("RFC 7519 §4.1.6",), severity="low", mutate=set_future_iat, expect=EITHER,
       needs=MINT, family="time"),
    rs(id="claims-required-missing", summary="Tokens without sub, client_id or jti (each in turn) get no 5xx "
       "(the issuer's duty, RFC 9068 §2.2).", refs=("RFC 9068 §2.2", "RFC 9068 §4"), severity="high",
       mutate=drop_required_claims, needs=MINT, family="claims"),
    rs(id="claims-type-confusion", summary="Claims of the wrong JSON type are rejected, signed or not, "
       "without a 5xx.", refs=("RFC 7519 §4.1", "RFC 9068 §2.2"), severity="medium",
       mutate=confuse_claim_types, needs=MINT, family="claims"),
    rs(id="claims-duplicate-member", summary="A claim given twice (valid value first) is never authorised on "
       "the first value.", refs=("RFC 7519 §4",), severity="high", mutate=duplicate_claims, needs=MINT,
       family="claims"),
    rs(id="claims-header-duplicate", summary="A header with alg twice (then \"none\") is rejected.",
       refs=("RFC 7515 §4",), severity="high", mutate=duplicate_header_alg, needs=MINT, family="claims"),
    rs(id="claims-non-utf8", summary="Header or payload JSON in UTF-16, with a BOM or invalid UTF-8 is "
       "rejected.", refs=("RFC 8725 §2.6", "RFC 8725 §3.7"), severity="medium", mutate=encode_claims_badly,
       needs=MINT, family="claims"),
]

# The sentence each expectation rests on, with its keyword (audited against the RFC text).
RULES = {
    "time-exp-past": "RFC 7519 §4.1.4: the JWT MUST NOT be accepted for processing on or after the exp time; "
                     "RFC 9068 §4: The current time MUST be before the time represented by the exp claim",
    "time-exp-leeway": "RFC 9068 §4: Implementers MAY provide for some small leeway, usually no more than a few "
                       "minutes (MUST refuse beyond it: 30 s past the profile's leeway is refused)",
    "time-exp-missing": "RFC 9068 §4: The current time MUST be before the time represented by the exp claim",
    "time-exp-type": "RFC 7519 §4.1.4: Its value MUST be a number containing a NumericDate value",
    "time-nbf-future": "RFC 7519 §4.1.5: the JWT MUST NOT be accepted for processing before the nbf time",
    "time-nbf-now": "RFC 7519 §4.1.5: the current date/time MUST be after or equal to the not-before date/time",
    "time-iat-missing": "RFC 9068 §2.2: iat is REQUIRED of the issuer; no rule for the resource server (either answer)",
    "time-iat-future": "RFC 7519 §4.1.6: iat can be used to determine the age of the JWT (no rule: either answer)",
    "claims-required-missing": "RFC 9068 §2.2: sub, client_id, jti are REQUIRED of the issuer; no rule for the "
                               "resource server (either answer)",
    "claims-type-confusion": "RFC 7519 §4.1.2: sub is a case-sensitive string containing a StringOrURI value; "
                             "§4.1.3: aud MUST identify the recipient; §4.1.4: exp MUST be a NumericDate",
    "claims-duplicate-member": "RFC 7519 §4: JWT parsers MUST either reject JWTs with duplicate Claim Names or use "
                               "a JSON parser that returns only the lexically last duplicate member name",
    "claims-header-duplicate": "RFC 7515 §4: the JWS Parser MUST either reject JWSs with duplicate Header Parameter "
                               "names or use a JSON parser that returns only the lexically last duplicate member name",
    "claims-non-utf8": "RFC 7519 §7.2: Verify that the resulting octet sequence is a UTF-8-encoded representation "
                       "of a completely valid JSON object (MUST; RFC 8259 §8.1: MAY ignore a BOM)",
}
SCENARIOS = with_rules(SCENARIOS, RULES)
