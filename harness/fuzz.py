"""Property-based fuzzing of a resource server (hypothesis) against an oracle of its profile's policy.

Properties, for every generated request:
1. the target never answers 5xx;
2. it accepts the token (200) if and only if the oracle says the token is valid (``None``: the policy
   leaves it open, e.g. a ``jku`` member on an otherwise valid token: either answer is fine);
3. refusals follow RFC 6750: 401 with ``WWW-Authenticate: Bearer`` (``error="invalid_token"``) or 400
   ``invalid_request``.

A failure prints the shrunk case and a curl command that reproduces it. ``--seed`` makes a run repeatable.
The oracle is a model, not the target's code: RFC 7519/9068/8725 rules applied to the profile (algorithm,
issuer, audience, typ, subject, required claims) with a margin around every time boundary.
"""
from __future__ import annotations

import asyncio
import math
import shlex
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import aiohttp
from hypothesis import HealthCheck, Phase, given, seed as hyp_seed, settings, strategies as st
from yarl import URL

from . import checks, forge, strategies
from .client import send
from .listener import Listener
from .rskit import RSKit
from .scenario import Observation
from .targets import Target

KEY_HEADERS = ("jku", "x5u", "jwk", "x5c")


@dataclass
class Case:
    kind: str                   # "claims" | "shape" | "header"
    authorization: str          # the Authorization header value sent
    expected: bool | None       # oracle: True accept, False refuse, None either
    why: str = ""
    token: str = ""

    def curl(self, url: str) -> str:
        return f"curl -i -H {shlex.quote('Authorization: ' + self.authorization)} {shlex.quote(url)}"


def oracle(kit: RSKit, header: Any, claims: Any, signed_by_trusted_key: bool) -> tuple[bool | None, str]:
    """Is this token valid under the profile's policy? (verdict, reason)."""
    p = kit.profile
    if not signed_by_trusted_key:
        return False, "not signed by the trusted key"
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return False, "header or payload is not a JSON object"
    if header.get("alg") != p.algorithm:
        return False, f"alg {header.get('alg')!r} is not {p.algorithm}"
    if "crit" in header:
        return False, "crit names an extension the verifier cannot understand (RFC 7515 §4.1.11)"
    kid = header.get("kid")
    if "kid" in header and (not isinstance(kid, str) or (kit.kid is not None and kid != kit.kid)):
        return False, "kid is not the trusted key's"
    if p.typ is not None:
        typ = header.get("typ")
        norm = lambda t: t.lower().removeprefix("application/")  # noqa: E731
        if not isinstance(typ, str) or norm(typ) != norm(p.typ):
            return False, f"typ {typ!r} is not {p.typ!r}"
    required = list(strategies.REQUIRED) + (["client_id"] if "client_id" in kit.claims() else [])
    for name in required:
        if name not in claims:
            return False, f"required claim {name} missing"
    now = time.time()
    for name in ("exp", "iat", "nbf"):
        if name in claims:
            v = claims[name]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                return False, f"{name} is not a NumericDate"
    if claims["exp"] <= now - 60:
        return False, "expired"
    if "nbf" in claims and claims["nbf"] > now + 60:
        return False, "not yet valid"
    for name in ("iss", "sub", "jti", "scope", "client_id", "azp"):
        if name in claims and not isinstance(claims[name], str):
            return False, f"{name} is not a string"
    if claims["iss"] != p.issuer:
        return False, "wrong issuer"
    aud = claims["aud"]
    if isinstance(aud, list):
        if not all(isinstance(a, str) for a in aud) or p.audience not in aud:
            return False, "audience array without the target (or with non-strings)"
    elif aud != p.audience:
        return False, "wrong audience"
    if claims["sub"] != p.subject:
        return None, "another subject: the target may not know that user"
    if claims.get("scope") != kit.claims().get("scope"):
        return None, "another scope"
    if any(h in header for h in KEY_HEADERS):
        return None, "a key-carrying header on a validly signed token (ignoring or refusing it are both fine)"
    return True, "valid"


def judge(case: Case, obs: Observation) -> list[str]:
    problems = checks.no_server_error(obs)
    if obs.status is None or problems:
        return problems
    if case.expected is True and obs.status != 200:
        problems.append(f"a valid token was refused with {obs.status} ({case.why})")
    if case.expected is False:
        if obs.status == 200:
            problems.append(f"an invalid token was accepted ({case.why})")
        elif obs.status == 401:
            if not checks.bearer_challenges(obs):
                problems.append("401 without a WWW-Authenticate: Bearer challenge (RFC 6750 §3)")
        elif obs.status == 400:
            problems += checks.bearer_error("invalid_request", 400)(obs)
        elif obs.status != 403:
            problems.append(f"status {obs.status}; RFC 6750 refusals are 400 or 401")
    return problems


def cases(kit: RSKit) -> st.SearchStrategy[Case]:
    """Every kind of case the target's capabilities allow."""
    options = []
    valid = kit.valid_token or ""
    if "mint" in kit.capabilities:
        base_claims, base_header = kit.claims(), kit.header()

        @st.composite
        def claim_cases(draw) -> Case:
            header = draw(st.one_of(strategies.jwt_headers(base_header), strategies.invalid_jwt_headers(base_header)))
            claims = draw(st.one_of(strategies.claim_sets(base_claims), strategies.invalid_claim_sets(base_claims)))
            trusted = True
            alg = header.get("alg") if isinstance(header.get("alg"), str) else ""
            signable = alg[:2] == kit.profile.algorithm[:2] and alg in ("HS256", "HS384", "HS512", "RS256", "RS384",
                                                                         "RS512", "PS256", "PS384", "PS512", "ES256")
            if signable and draw(st.integers(0, 4)) > 0:
                token = kit.mint(claims, header, alg=alg)
            else:
                trusted = False
                token = forge.jws(header, claims, forge.harness_rsa_key(8) if not kit.profile.hmac else b"k" * 32,
                                  "HS256" if kit.profile.hmac else "RS256")
            expected, why = oracle(kit, header, claims, trusted)
            return Case("claims", f"Bearer {token}", expected, why, token)
        options.append(claim_cases())
    if valid:
        template = valid if "jwt" in kit.capabilities else forge.hmac_token({"alg": "HS256"}, {"sub": "x"}, b"k" * 32)
        options.append(strategies.token_shapes(template).map(
            lambda t: Case("shape", f"Bearer {t}", False, "not a compact JWS", t)))
        options.append(strategies.authorization_headers(valid).map(
            lambda h: Case("header", h, True, "valid credentials, scheme in any case", valid)))
        options.append(strategies.invalid_authorization_headers(valid).map(
            lambda h: Case("header", h, False, "malformed or non-Bearer credentials", valid)))
    return st.one_of(*options)


@dataclass
class FuzzResult:
    examples: int = 0
    failure: Case | None = None
    problems: list[str] = field(default_factory=list)
    curl: str = ""
    status: int | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


async def fuzz(target: Target, examples: int = 100, seed: int = 0,
               progress: Callable[[int, int], None] | None = None) -> FuzzResult:
    """Run the properties against ``target``. Hypothesis runs in a worker thread; requests go through this
    event loop (so targets in the same process, e.g. test servers, keep being served)."""
    loop = asyncio.get_running_loop()
    listener = await Listener().start()
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10), cookie_jar=aiohttp.DummyCookieJar())
    result = FuzzResult()
    try:
        kit = RSKit(target, session, listener)
        await kit.prepare()
        url = target.url(kit.profile.endpoint)
        last: dict[str, Any] = {}

        @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                  phases=(Phase.explicit, Phase.generate, Phase.shrink),
                  suppress_health_check=list(HealthCheck))
        @hyp_seed(seed)
        @given(case=cases(kit))
        def prop(case: Case) -> None:
            result.examples += 1
            if progress is not None:
                progress(result.examples, examples)
            obs = asyncio.run_coroutine_threadsafe(
                send(session, "GET", URL(url, encoded=True), label=case.kind,
                     headers={"Authorization": case.authorization}), loop).result()
            problems = judge(case, obs)
            last.update(case=case, problems=problems, status=obs.status)
            assert not problems, problems

        try:
            await asyncio.to_thread(prop)
        except AssertionError:
            result.failure = last["case"]
            result.problems = last["problems"]
            result.status = last["status"]
            result.curl = result.failure.curl(url)
    finally:
        await session.close()
        await listener.stop()
    return result
