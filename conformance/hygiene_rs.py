"""Catalog §11, resource-server rows: caching of query tokens (RFC 6750 §2.3), no reflection of token
contents or internals (RFC 8725 §3.10; jwt_tool's reflected-claims marker), no out-of-band fetches of URLs
planted in tokens (jwt_tool ``-M cc``), no time-based injection signal (responses under 9 s)."""
from __future__ import annotations

import re

from harness import checks, forge
from harness.mutations import base_claims, base_header, listener_untouched, plant, rs, signed_or_tampered, with_rules
from harness.rskit import RSKit, random_marker
from harness.scenario import Observation, Probe, deviation, vulnerability

DISCLOSURE_RULE = ("RFC 6750 §5.2 / RFC 8725 §3.10: error responses do not disclose token contents or implementation "
                   "internals (SHOULD)")

LIBRARY_NAMES = re.compile(r"pyjwt|jwt\.exceptions|python-jose|jwcrypto|jsonwebtoken|nimbus|jose4j|golang-jwt|"
                           r"InvalidSignatureError|ExpiredSignatureError|DecodeError|JWTError|JsonWebTokenError|"
                           r"TokenExpiredError|InvalidAudienceError|InvalidIssuerError|Traceback|site-packages",
                           re.I)
COMMON_HEADER_NAMES = ("jku", "x5u", "kid", "typ", "x5t")
COMMON_CLAIM_NAMES = ("iss", "sub", "aud", "picture", "website", "profile", "jku", "x5u", "url", "uri", "redirect_uri",
                      "callback", "avatar", "image", "logo", "homepage", "webhook", "email")


def _cache_private(obs: Observation) -> list[str]:
    """RFC 6750 §2.3: "Server success (2XX status) responses to these requests SHOULD contain a Cache-Control header
    with the private option"."""
    if obs.status is not None and 200 <= obs.status < 300:
        cc = ", ".join(obs.header_values("Cache-Control")).lower()
        if "private" not in cc:
            return [deviation(f"a 2xx to a query-string token lacks Cache-Control: private (got {cc or 'none'!r})",
                              "SHOULD", 'RFC 6750 §2.3: 2XX responses SHOULD contain Cache-Control "private"')]
    return checks.no_server_error(obs)


def send_token_in_query(kit: RSKit) -> list[Probe]:
    assert kit.valid_token is not None
    return [Probe("?access_token=<valid token>", None, query=f"access_token={kit.valid_token}", expect=_cache_private)]


def _no_reflection(markers: list[str], token: str):
    segments = [s for s in token.split(".") if len(s) >= 12]

    def check(obs: Observation) -> list[str]:
        problems = checks.no_server_error(obs)
        hay = obs.body + "\n" + "\n".join(f"{k}: {v}" for k, v in obs.headers.items())
        # a reflected marker shows the value was processed and echoed (injection surface): a vulnerability
        problems += [vulnerability(f"the response echoes the injected value {m[:24]}…", rule="RFC 8725 §3.10")
                     for m in markers if m in hay]
        problems += [deviation("the response echoes a segment of the token", "SHOULD", DISCLOSURE_RULE)
                     for s in segments[:3] if s in hay][:1]
        m = LIBRARY_NAMES.search(obs.body)
        if m:
            problems.append(deviation(f"the error body names internals ({m.group(0)!r})", "SHOULD", DISCLOSURE_RULE))
        return problems
    return check


def inject_markers(kit: RSKit) -> list[Probe]:
    """Negative cases whose header and claims carry unique markers; no response may show them."""
    probes = []
    claims = base_claims(kit)
    for name in list(claims) + ["x_marker"]:
        marker = random_marker(name)
        token = forge.with_signature(signed_or_tampered(kit, base_header(kit), {**claims, name: marker}), "AAAA")
        probes.append(Probe(f"claim {name} = marker, broken signature", token, expect=_no_reflection([marker], token)))
    for name in ("kid", "typ", "x_marker"):
        marker = random_marker(name)
        token = forge.hmac_token(base_header(kit, **{name: marker}), claims, b"wrong", "HS256")
        probes.append(Probe(f"header {name} = marker", token, expect=_no_reflection([marker], token)))
    h = base_header(kit)
    for alg in ("none", "HS256"):
        token = forge.unsigned_token(h, claims, alg, "") if alg == "none" else forge.hmac_token(h, claims, b"", alg)
        probes.append(Probe(f"alg {alg} forgery", token, expect=_no_reflection([], token)))
    return probes


def plant_listener_urls(kit: RSKit) -> list[Probe]:
    """Listener URLs in every common header member and claim; re-signed when the harness holds the key, so a
    target that verifies first and fetches after is caught too."""
    probes = []
    claims, header = base_claims(kit), base_header(kit)
    for name in COMMON_HEADER_NAMES:
        url = plant(kit, "hyg-oob-fetch", f"inject_common_{name}")
        probes.append(Probe(f"header {name} = listener URL", signed_or_tampered(kit, {**header, name: url}, claims),
                            expect=checks.no_server_error))
    for name in COMMON_CLAIM_NAMES:
        url = plant(kit, "hyg-oob-fetch", f"inject_common_{name}")
        probes.append(Probe(f"claim {name} = listener URL", signed_or_tampered(kit, header, {**claims, name: url}),
                            expect=checks.no_server_error))
    return probes


def send_injection_payloads(kit: RSKit) -> list[Probe]:
    claims = base_claims(kit)
    fast = checks.all_of(checks.faster_than(9.0), checks.no_server_error)
    payloads = ["|sleep 10", "$(sleep 10)", "`sleep 10`", "x' OR SLEEP(10)-- ", "x'; WAITFOR DELAY '0:0:10'--",
                "x' || pg_sleep(10)--", "../../../../../../dev/random", "/dev/zero"]
    probes = []
    for p in payloads:
        probes.append(Probe(f"kid {p!r}", forge.hmac_token(base_header(kit, kid=p), claims, b"", "HS256"), expect=fast))
    for p in payloads[:6]:
        probes.append(Probe(f"sub {p!r}", signed_or_tampered(kit, base_header(kit), {**claims, "sub": p}), expect=fast))
    return probes


SCENARIOS = [
    rs(id="hyg-query-cache-private", summary="A 2xx to a query-string token carries Cache-Control: private.",
       refs=("RFC 6750 §2.3",), severity="low", mutate=send_token_in_query, needs=("valid_token",),
       family="hyg"),
    rs(id="hyg-no-reflection", summary="Error responses never echo token contents, stack traces or library "
       "names.", refs=("RFC 8725 §3.10",), severity="medium", mutate=inject_markers, family="hyg"),
    rs(id="hyg-oob-fetch", summary="URLs planted in headers and claims are never fetched.",
       refs=("RFC 8725 §3.10",), severity="high", mutate=plant_listener_urls, needs=("jwt", "listener"),
       family="hyg", after=listener_untouched("hyg-oob-fetch")),
    rs(id="hyg-slow-response", summary="Injection payloads never make a response take 9 s or more.",
       refs=("RFC 8725 §3.10",), severity="high", mutate=send_injection_payloads, family="hyg"),
]

# The sentence each expectation rests on, with its keyword (audited against the RFC text).
RULES = {
    "hyg-query-cache-private": 'RFC 6750 §2.3: Server success (2XX status) responses to these requests SHOULD '
                               'contain a Cache-Control header with the "private" option',
    "hyg-no-reflection": DISCLOSURE_RULE,
    "hyg-oob-fetch": "RFC 8725 §3.10: blindly following a URL from the token could result in server-side request "
                     "forgery (SSRF) attacks. Applications SHOULD protect against such attacks (a fetch observed is "
                     "the attack getting through)",
    "hyg-slow-response": "RFC 8725 §3.10: Applications should ensure that this does not create SQL or LDAP injection "
                         "vulnerabilities (SHOULD; a delay as long as the injected sleep is the attack getting "
                         "through)",
}
SCENARIOS = with_rules(SCENARIOS, RULES)
