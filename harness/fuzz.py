"""Property-based fuzzing of a resource server (hypothesis) against an oracle of its profile's policy.

The oracle models two things only: the profile (algorithm, issuer, audience, leeway, required claims, typ
when the profile sets one, the trusted key) and the RFCs. Every token it judges gets one of three answers:
the target must accept it, must refuse it, or may do either (``None``: the RFCs leave the choice to the
verifier, e.g. ``kid`` null or unknown on a token signed by the one trusted key, RFC 7515 §4.1.4; iat in
the future; unknown extra claims; a non-integer NumericDate).

Each property breaks ONE rule (or none), is run by hypothesis on its own, and fails on its own: a run
reports every distinct failing property, each shrunk to a minimal example with a curl reproduction. See
docs/fuzzing.md. Running the properties is harness/fuzzrun.py's job.
"""
from __future__ import annotations

import math
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from . import checks, forge
from . import strategies as S
from .rskit import RSKit
from .scenario import Observation

DEFAULT_LEEWAY = 300   # RFC 7519 §4.1.4: "some small leeway, usually no more than a few minutes"
RSA_FAMILY = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
HMAC_FAMILY = ("HS256", "HS384", "HS512")
NONE_SPELLINGS = ("none", "None", "NONE", "nOnE", "noNE")


@dataclass
class Case:
    key: str                    # the property that generated it ("exp:ignored")
    authorization: str          # the Authorization header value sent
    expected: bool | None       # oracle: True accept, False refuse, None either
    why: str = ""
    header: Any = None          # the JOSE header and claims the token carries, for the report
    claims: Any = None

    def curl(self, url: str) -> str:
        auth = f"-H {shlex.quote('Authorization: ' + self.authorization)} " if self.authorization else ""
        return f"curl -i {auth}{shlex.quote(url)}"


@dataclass(frozen=True)
class Property:
    key: str
    title: str                  # what a failure means: "exp not checked"
    impact: str                 # "vulnerability" | "deviation"
    keyword: str                # "MUST" | "SHOULD"
    severity: str               # for a vulnerability: the rating; deviations are low (MUST) / info (SHOULD)
    rule: str                   # the sentence it rests on
    cases: Callable[[Oracle], st.SearchStrategy[Case]]
    judge: Callable[[Case, Observation, Oracle], list[str]]
    applies: Callable[[Oracle], bool] = lambda o: o.mint
    weight: int = 1
    subsumed_by: tuple[str, ...] = ()


@dataclass
class Oracle:
    """The profile's policy, as the fuzzer models it, and the tokens it builds from it."""
    kit: RSKit
    leeway: int = DEFAULT_LEEWAY
    required: tuple[str, ...] = ()
    base_claims: dict = field(default_factory=dict)
    base_header: dict = field(default_factory=dict)

    @classmethod
    def of(cls, kit: RSKit) -> Oracle:
        p = kit.profile
        leeway = getattr(p, "leeway", None)
        claims = {k: v for k, v in kit.claims().items() if v is not None} if kit.profile.signing_key is not None \
            else {}
        required = getattr(p, "required_claims", None)
        if not required and is_rfc9068(p):
            # RFC 9068 §4: iss "MUST exactly match", aud "MUST" contain the resource, "The current time MUST be
            # before the time represented by the exp claim": a token without them cannot pass. Without RFC 9068
            # (RFC 7519 §4.1: every registered claim is OPTIONAL) a missing claim is the target's choice.
            required = ("exp",) + (("iss",) if p.issuer else ()) + (("aud",) if p.audience else ())
        return cls(kit, DEFAULT_LEEWAY if leeway is None else int(leeway), tuple(required or ()), claims,
                   kit.header() if kit.profile.signing_key is not None else {})

    # -- what the target offers --------------------------------------------------------------------------
    @property
    def mint(self) -> bool:
        return "mint" in self.kit.capabilities

    @property
    def jwt(self) -> bool:
        return "jwt" in self.kit.capabilities

    # -- tokens ------------------------------------------------------------------------------------------
    def signed(self, header: dict, claims: dict, alg: str | None = None) -> str:
        return self.kit.mint(claims, header, alg=alg or self.kit.profile.algorithm)

    def case(self, key: str, token: str, header: Any, claims: Any, trusted: bool = True,
             scheme: str = "Bearer ") -> Case:
        expected, why = self.judge_token(header, claims, trusted)
        return Case(key, scheme + token, expected, why, header, claims)

    # -- the oracle ------------------------------------------------------------------------------------
    def judge_token(self, header: Any, claims: Any, trusted: bool) -> tuple[bool | None, str]:
        """(True: must accept / False: must refuse / None: either, the reason) for a token carrying
        ``header`` and ``claims``, signed by the trusted key with the profile's algorithm iff ``trusted``."""
        p = self.kit.profile
        if not trusted:
            return False, "not signed by the trusted key with the profile's algorithm"
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return False, "header or payload is not a JSON object"
        if header.get("alg") != p.algorithm:
            return False, f"alg {header.get('alg')!r} is not the profile's {p.algorithm}"
        if "crit" in header:
            return False, "crit names an extension the verifier does not understand (RFC 7515 §4.1.11)"
        either = []
        if p.typ is not None:
            typ, mine = header.get("typ"), p.typ.lower().removeprefix("application/")
            if not isinstance(typ, str) or typ.lower().removeprefix("application/") != mine:
                return False, f"typ {typ!r} is not {p.typ!r}"
            if typ not in (p.typ, mine, "application/" + mine, "application/" + p.typ):
                either.append("typ in another case")
        now, times = time.time(), {}
        for name in ("exp", "nbf"):
            if name in claims:
                times[name] = _numeric_date(claims[name])
                if times[name] is None:
                    return False, f"{name} is not a NumericDate"
                if isinstance(claims[name], (bool, str)):
                    either.append(f"{name} as a string or boolean (a reader may convert it)")
        for name in self.required:
            if name not in claims:
                return False, f"required claim {name} missing"
        if "exp" in times:
            past = now - times["exp"]
            if past >= self.leeway + S.MARGIN / 2:
                return False, f"expired {int(past)} s ago (leeway {self.leeway} s)"
            if past > -S.MARGIN / 2:
                either.append("exp within the leeway")
        if "nbf" in times:
            ahead = times["nbf"] - now
            if ahead >= self.leeway + S.MARGIN / 2:
                return False, f"not valid for another {int(ahead)} s (leeway {self.leeway} s)"
            if ahead > -S.MARGIN / 2:
                either.append("nbf within the leeway")
        if p.issuer and claims.get("iss") != p.issuer:
            return False, "iss is not the profile's issuer"
        if p.audience:
            aud = claims.get("aud")
            if not (aud == p.audience or isinstance(aud, list) and p.audience in aud):
                return False, "aud does not contain the profile's audience"
        if "sub" in claims and not isinstance(claims["sub"], str):
            return False, "sub is not a string (RFC 7519 §4.1.2)"
        either += self._lenient(header, claims)
        if either:
            return None, "; ".join(either)
        return True, "valid under the profile's policy"

    def _lenient(self, header: dict, claims: dict) -> list[str]:
        """What the RFCs leave open on an otherwise valid token: anything outside T0's shape."""
        out = []
        allowed_header = {"alg", "typ"} | ({"kid"} if "kid" in self.base_header else set())
        if set(header) - allowed_header or header.get("kid") != self.base_header.get("kid"):
            out.append("a header member outside T0's (kid, cty, jku...) on a token signed by the trusted key")
        extra = set(claims) - set(self.base_claims) - {"nbf"}
        missing = set(self.base_claims) - set(claims)
        if extra or missing:
            out.append(f"claims {sorted(extra | missing)} differ from T0's set")
        for name, value in self.base_claims.items():
            if name in ("exp", "iat", "nbf", "aud") or name not in claims:
                continue
            if claims[name] != value:
                out.append(f"another {name}")
        for name in ("exp", "iat", "nbf"):
            v = claims.get(name)
            if name in claims and (not isinstance(v, int) or isinstance(v, bool)):
                out.append(f"{name} is not an integer NumericDate")
        if isinstance(claims.get("iat"), (int, float)) and claims["iat"] > time.time():
            out.append("iat in the future")
        return out


def is_rfc9068(profile: Any) -> bool:
    """Does the profile declare the target an RFC 9068 resource server (``rfc9068 = true``)? Only then are
    exp, iss and aud required of every token (RFC 9068 §4), as in the catalog's runs."""
    return bool(getattr(profile, "rfc9068", False))


def _numeric_date(v: Any) -> float | None:
    """The time a NumericDate (RFC 7519 §2) stands for; a string that reads as a finite number counts (a
    lenient reader converts it, and then checks it), so does a boolean (Python's int(True) is 1); anything else
    is None."""
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            return None
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return v


# -- judges: what a property checks in one answer ---------------------------------------------------------
def accepted(obs: Observation) -> bool:
    return obs.status is not None and 200 <= obs.status < 300


def refused_invalid(case: Case, obs: Observation, o: Oracle) -> list[str]:
    if case.expected is False and accepted(obs):
        return [f"accepted with {obs.status}: {case.why}"]
    return []


def accepted_valid(case: Case, obs: Observation, o: Oracle) -> list[str]:
    if case.expected is True and not accepted(obs):
        challenge = obs.header_values("WWW-Authenticate")
        return [f"refused with {obs.status or obs.error} {challenge[0][:100] if challenge else ''}".rstrip()]
    return []


def no_server_error(case: Case, obs: Observation, o: Oracle) -> list[str]:
    return checks.no_server_error(obs)


def refusal_challenge(case: Case, obs: Observation, o: Oracle) -> list[str]:
    """A refusal (400/401/403) carries a Bearer challenge."""
    if obs.status in (400, 401, 403) and not checks.bearer_challenges(obs):
        got = list(obs.header_values("WWW-Authenticate")) or "none"
        return [f"{obs.status} without a WWW-Authenticate: Bearer challenge (got {got})"]
    return []


def refusal_error(case: Case, obs: Observation, o: Oracle) -> list[str]:
    """A refused token: 401 error="invalid_token" (400 invalid_request for a malformed request); no
    credentials: 401 and no error attribute."""
    if obs.status is None or accepted(obs) or obs.status >= 500 or case.expected is True:
        return []
    if case.key == "credentials:missing" and not case.authorization:
        return checks.bearer_error(None, 401)(obs)
    if case.key in ("header:lenient", "credentials:missing"):
        # a bare scheme, another scheme, quotes, trailing text: "no credentials", "malformed request" and
        # "invalid token" all describe it (RFC 6750 §3.1)
        answers = [checks.bearer_error(None, 401)(obs), checks.invalid_token(obs),
                   checks.bearer_error("invalid_request", 400)(obs)]
        return [] if any(not a for a in answers) else answers[1]
    if obs.status == 400:
        return checks.bearer_error("invalid_request", 400)(obs)
    if obs.status == 403 and case.expected is None:  # a token the target may accept, without the scope it needs
        return checks.bearer_error("insufficient_scope", 403)(obs)
    return checks.invalid_token(obs)


# -- the cases each property draws ------------------------------------------------------------------------
def _signed_cases(key: str, claims: Callable[[Oracle], st.SearchStrategy], headers=None):
    """Tokens signed by the trusted key: ``claims(oracle)`` with T0's headers (or ``headers(base)``)."""
    def build(o: Oracle) -> st.SearchStrategy[Case]:
        hs = headers(o.base_header) if headers else st.one_of(S.jwt_headers(o.base_header),
                                                              S.lenient_jwt_headers(o.base_header))
        return st.builds(lambda h, c: o.case(key, o.signed(h, c), h, c), hs, claims(o))
    return build


def _valid_claims(o: Oracle) -> st.SearchStrategy:
    return S.claim_sets(o.base_claims, o.kit.profile.lifetime)


def _any_claims(o: Oracle) -> st.SearchStrategy:
    return st.one_of(_valid_claims(o), S.lenient_claim_sets(o.base_claims, o.kit.profile.lifetime))


def valid_cases(o: Oracle) -> st.SearchStrategy[Case]:
    """Tokens the profile's policy accepts, in any scheme case; without minting, the issued token."""
    if not o.mint:
        return S.authorization_headers(st.just(o.kit.valid_token)).map(
            lambda a: Case("valid", a, True, "the token the target issued", None, None))

    def build(h: dict, c: dict, scheme: str) -> Case:
        expected, why = o.judge_token(h, c, True)
        return Case("valid", f"{scheme} {o.signed(h, c)}", expected, why, h, c)
    return st.builds(build, S.jwt_headers(o.base_header), _valid_claims(o), S.SCHEMES)


def other_alg_cases(o: Oracle) -> st.SearchStrategy[Case]:
    """Signed by the trusted key, with an algorithm outside the profile's one (or its name in another case)."""
    p = o.kit.profile
    family = HMAC_FAMILY if p.hmac else RSA_FAMILY if p.algorithm[:2] in ("RS", "PS") else ()
    choices = [(a, a) for a in family if a != p.algorithm]
    choices += [(spelled, p.algorithm) for spelled in {p.algorithm.lower(), p.algorithm.title(), p.algorithm + " "}]

    def build(h: dict, c: dict, choice: tuple[str, str]) -> Case:
        h = {**h, "alg": choice[0]}
        return Case("alg:other", "Bearer " + o.signed(h, c, alg=choice[1]), False, f"alg {choice[0]!r}", h, c)
    return st.builds(build, S.jwt_headers(o.base_header), _any_claims(o), st.sampled_from(choices))


def none_alg_cases(o: Oracle) -> st.SearchStrategy[Case]:
    """alg none in every spelling, with an empty signature or the original one left in place."""
    def build(h: dict, c: dict, alg: str, keep: bool) -> Case:
        sig = forge.split(o.signed(h, c))[2] if keep else ""
        h2 = {**h, "alg": alg}
        return Case("alg:none", "Bearer " + forge.unsigned_token(h, c, alg, sig), False, f"alg {alg!r}", h2, c)
    return st.builds(build, S.jwt_headers(o.base_header), _any_claims(o), st.sampled_from(NONE_SPELLINGS),
                     st.booleans())


def forged_cases(o: Oracle) -> st.SearchStrategy[Case]:
    """T0-shaped tokens signed by another key, or a valid token whose payload was changed afterwards."""
    p = o.kit.profile
    other = forge.harness_rsa_key(8) if p.algorithm[:2] in ("RS", "PS") else forge.harness_ec_key(8) \
        if p.algorithm.startswith("ES") else b"another-secret-of-32-bytes-long!"

    def build(h: dict, c: dict, tamper: bool, sub: str) -> Case:
        if tamper:
            sub = sub if sub != c.get("sub") else sub + "x"
            token = forge.with_payload(o.signed(h, c), {**c, "sub": sub})
            c = {**c, "sub": sub}
        else:
            token = forge.jws(h, c, other, p.algorithm)
        return o.case("signature:forged", token, h, c, trusted=False)
    return st.builds(build, S.jwt_headers(o.base_header), _any_claims(o), st.booleans(),
                     st.text(min_size=1, max_size=12).filter(lambda s: s != o.base_claims.get("sub")))


def confusion_cases(o: Oracle) -> st.SearchStrategy[Case]:
    """HS256/384/512 keyed with the target's public key in every encoding (RFC 8725 §2.1)."""
    keys = [(name, secret) for k in o.kit.public_keys
            for group in forge.public_key_variants(k.key, k.jwk_text).values() for name, secret in group.items()]

    def build(h: dict, c: dict, alg: str, key: tuple[str, bytes]) -> Case:
        h = {**h, "alg": alg}
        return Case("alg:confusion", "Bearer " + forge.hmac_token(h, c, key[1]), False,
                    f"{alg} keyed with the public key as {key[0]}", h, c)
    return st.builds(build, S.jwt_headers(o.base_header), _any_claims(o), st.sampled_from(HMAC_FAMILY),
                     st.sampled_from(keys))


def _raw_cases(key: str, expected: bool | None, why: str, make: Callable[[st.SearchStrategy[str]], st.SearchStrategy[str]],
               authorization: bool = False):
    """Cases whose Authorization value ``make`` builds from a valid token (freshly minted, or the issued one)."""
    def build(o: Oracle) -> st.SearchStrategy[Case]:
        source = st.builds(lambda h, c: o.signed(h, c), S.jwt_headers(o.base_header), _valid_claims(o)) \
            if o.mint else st.just(o.kit.valid_token)
        prefix = "" if authorization else "Bearer "
        return make(source).map(lambda v: Case(key, prefix + v, expected, why))
    return build


def lenient_cases(o: Oracle) -> st.SearchStrategy[Case]:
    """Everything the RFCs leave to the verifier: either answer is fine, but never a 5xx, and a refusal
    still says why in the RFC 6750 way."""
    options = [_raw_cases("header:lenient", None, "valid token, Authorization bent", S.lenient_authorization_headers,
                          authorization=True)(o)]
    if o.jwt:
        options.append(_raw_cases("token:encoding", None, "non-canonical base64url", S.non_canonical_encodings)(o))
    if o.mint:
        options.append(st.builds(lambda h, c: o.case("lenient", o.signed(h, c), h, c),
                                 S.lenient_jwt_headers(o.base_header), _any_claims(o)))
    return st.one_of(*options)
