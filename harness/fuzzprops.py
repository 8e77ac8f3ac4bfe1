"""The fuzzer's properties: one per claim or header and kind of break, each with the sentence it rests on.

A property names what its failure means ("exp not checked"), draws only cases that break its one rule
(harness/fuzz.py builds them), and is judged on its own, so that one flaw never hides another.
"""
from __future__ import annotations

from hypothesis import strategies as st

from . import strategies as S
from .fuzz import (
    Case,
    Oracle,
    Property,
    _any_claims,
    _raw_cases,
    _signed_cases,
    accepted_valid,
    confusion_cases,
    forged_cases,
    lenient_cases,
    no_server_error,
    none_alg_cases,
    other_alg_cases,
    refusal_challenge,
    refusal_error,
    refused_invalid,
    valid_cases,
)

EXP_RULE = ('RFC 7519 §4.1.4: "the current date/time MUST be before the expiration date/time listed in the exp '
            'claim. Implementers MAY provide for some small leeway, usually no more than a few minutes"')
NBF_RULE = ('RFC 7519 §4.1.5: "the current date/time MUST be after or equal to the not-before date/time listed in '
            'the nbf claim"')
ISS_RULE = ('RFC 9068 §4: "The issuer identifier for the authorization server ... MUST exactly match the value of '
            'the iss claim"')
AUD_RULE = ('RFC 9068 §4: "The JWT access token MUST be rejected if aud does not contain a resource indicator of '
            'the current resource server as a valid audience" (RFC 7519 §4.1.3)')
SIG_RULE = ('RFC 9068 §4: "The resource server MUST validate the signature of all incoming JWT access tokens"; '
            'RFC 7515 §5.2')
ALG_RULE = ('RFC 8725 §3.1: "Libraries MUST enable the caller to specify a supported set of algorithms and MUST '
            'NOT use any other algorithms when performing cryptographic operations"')


def _claims(key: str, make) -> object:
    return _signed_cases(key, lambda o: make(o))


def _expired(low, high):
    return lambda o: S.expired_claim_sets(o.base_claims, low(o), high(o))


def _premature(low, high):
    return lambda o: S.premature_claim_sets(o.base_claims, low(o), high(o))


def _near(o: Oracle) -> int:
    return o.leeway + S.MARGIN


def _far(o: Oracle) -> int:
    return max(S.FAR, o.leeway + 2 * S.MARGIN)


def _has(name: str):
    return lambda o: o.mint and name in o.required


def _mix(o: Oracle) -> st.SearchStrategy[Case]:
    """Every case of every applicable property, and the lenient ones."""
    return st.one_of(lenient_cases(o), *(p.cases(o) for p in PROPERTIES if p.applies(o) and p.key in BREAKS))


def vuln(key, title, severity, rule, cases, applies=lambda o: o.mint, subsumed_by=()) -> Property:
    return Property(key, title, "vulnerability", "MUST", severity, rule, cases, refused_invalid, applies,
                    subsumed_by=subsumed_by)


PROPERTIES: list[Property] = [
    vuln("alg:none", "alg none accepted", "critical",
         'RFC 9068 §4: "The resource server MUST reject any JWT in which the value of alg is none"', none_alg_cases,
         applies=lambda o: o.jwt and bool(o.base_header)),
    vuln("signature:forged", "signature not verified", "critical", SIG_RULE, forged_cases),
    vuln("alg:confusion", "the public key accepted as an HMAC secret", "critical",
         'RFC 8725 §2.1 (RS256 to HS256 with the public key as the HMAC secret); ' + ALG_RULE, confusion_cases,
         applies=lambda o: o.mint and bool(o.kit.public_keys) and not o.kit.profile.hmac),
    vuln("alg:other", "an algorithm outside the profile's accepted", "high", ALG_RULE, other_alg_cases),
    vuln("crit:unknown", "an unknown crit extension accepted", "medium",
         'RFC 7515 §4.1.11: "If any of the listed extension Header Parameters are not understood and supported by '
         'the recipient, then the JWS is invalid"', _signed_cases("crit:unknown", lambda o: _any_claims(o),
                                                                   S.headers_with_unknown_crit)),
    vuln("typ:wrong", "typ not checked", "medium",
         'RFC 9068 §4: "The resource server MUST verify that the typ header value is at+jwt or application/at+jwt '
         'and reject tokens carrying any other value"',
         _signed_cases("typ:wrong", lambda o: _any_claims(o), S.headers_with_wrong_typ),
         applies=lambda o: o.mint and o.kit.profile.typ is not None),
    vuln("exp:missing", "exp not required", "high",
         'RFC 9068 §2.2: exp REQUIRED; ' + EXP_RULE + " (a token without exp never expires)",
         _claims("exp:missing", lambda o: S.claim_sets_without(o.base_claims, "exp")), applies=_has("exp")),
    vuln("exp:ignored", "exp not checked", "high", EXP_RULE, _claims("exp:ignored", _expired(_far, lambda o: 10 ** 9))),
    vuln("exp:leeway", "leeway larger than the profile's (exp)", "medium", EXP_RULE,
         _claims("exp:leeway", _expired(_near, lambda o: _far(o) - 1)), subsumed_by=("exp:ignored",)),
    vuln("exp:type", "exp of the wrong type accepted", "high",
         EXP_RULE + '; "Its value MUST be a number containing a NumericDate value"',
         _claims("exp:type", lambda o: S.claim_sets_with_bad_type(o.base_claims, "exp"))),
    vuln("nbf:ignored", "nbf ignored", "medium", NBF_RULE,
         _claims("nbf:ignored", _premature(_far, lambda o: 10 ** 9))),
    vuln("nbf:leeway", "leeway larger than the profile's (nbf)", "low", NBF_RULE,
         _claims("nbf:leeway", _premature(_near, lambda o: _far(o) - 1)), subsumed_by=("nbf:ignored",)),
    vuln("nbf:type", "nbf of the wrong type accepted", "medium",
         'RFC 7519 §4.1.5: "Its value MUST be a number containing a NumericDate value"',
         _claims("nbf:type", lambda o: S.claim_sets_with_bad_type(o.base_claims, "nbf"))),
    vuln("iss:wrong", "iss not checked", "high", ISS_RULE,
         _claims("iss:wrong", lambda o: S.claim_sets_with_wrong(o.base_claims, "iss")),
         applies=lambda o: o.mint and bool(o.kit.profile.issuer)),
    vuln("iss:missing", "iss not required", "medium", ISS_RULE,
         _claims("iss:missing", lambda o: S.claim_sets_without(o.base_claims, "iss")), applies=_has("iss")),
    vuln("aud:wrong", "aud not checked", "high", AUD_RULE,
         _claims("aud:wrong", lambda o: S.claim_sets_with_wrong(o.base_claims, "aud")),
         applies=lambda o: o.mint and bool(o.kit.profile.audience)),
    vuln("aud:missing", "aud not required", "medium", AUD_RULE,
         _claims("aud:missing", lambda o: S.claim_sets_without(o.base_claims, "aud")), applies=_has("aud")),
    Property("sub:type", "sub of the wrong type accepted", "deviation", "MUST", "low",
             'RFC 7519 §4.1.2: "The sub value is a case-sensitive string containing a StringOrURI value"',
             _claims("sub:type", lambda o: S.claim_sets_with_bad_type(o.base_claims, "sub")), refused_invalid),
    vuln("token:shape", "a string that is not a compact JWS accepted", "critical",
         'RFC 7515 §7.1 (the compact serialisation: three base64url parts); RFC 7519 §7.2 step 1',
         _raw_cases("token:shape", False, "not a compact JWS", S.token_shapes), applies=lambda o: o.jwt),
    vuln("credentials:missing", "a request without a token accepted", "critical",
         'RFC 6750 §3: a request that "does not include authentication credentials" is answered with a challenge',
         lambda o: S.credential_less_headers().map(lambda a: Case("credentials:missing", a, False, "no token")),
         applies=lambda o: True),
    Property("valid", "a token the profile's policy accepts was refused", "deviation", "MUST", "low",
             "RFC 6750 §2.1 with the profile's policy (algorithm, issuer, audience, typ, leeway, required claims)",
             valid_cases, accepted_valid, applies=lambda o: o.mint or bool(o.kit.valid_token), weight=3),
    Property("server-error", "a server error on a request", "deviation", "MUST", "low",
             "RFC 6750 §3.1: a malformed request is invalid_request (400), a bad token invalid_token (401), "
             "never a 5xx", lambda o: _mix(o), no_server_error, applies=lambda o: True, weight=2),
    Property("refusal:challenge", "a refusal without a Bearer challenge", "deviation", "MUST", "low",
             'RFC 6750 §3: "the resource server MUST include the HTTP WWW-Authenticate response header field"',
             lambda o: _mix(o), refusal_challenge, applies=lambda o: True),
    Property("refusal:error", "a refusal with another status or error code", "deviation", "SHOULD", "info",
             'RFC 6750 §3.1: invalid_token "The resource SHOULD respond with the HTTP 401 (Unauthorized) status '
             'code"; a request without credentials "SHOULD NOT include an error code"',
             lambda o: _mix(o), refusal_error, applies=lambda o: True),
]
BREAKS = {p.key for p in PROPERTIES if p.impact == "vulnerability" or p.key == "sub:type"}
