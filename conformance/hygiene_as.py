"""Authorization-server hygiene (the AS rows of catalog §11; RFC 6749 §5.1, §10.10, §10.13; RFC 9700 §2.6,
§4.2.4, §4.16): token responses are never cached, the login and error pages cannot be framed or leak the
URL through Referer, the authorization endpoint does not speak CORS, credentials are unguessable, and the
endpoints are not served over plain HTTP on a public address.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from urllib.parse import urlsplit

from harness.aschecks import analysis, expect_facts, expect_no_store, header
from harness.askit import NotApplicable, require_tokens
from harness.client import send
from harness.scenario import Observation, Scenario

FAMILY = "hygiene_as"
AS = "authorization-server"
TE = "token-endpoint"
CODE_FLOW = frozenset({"authorization_code"})
SAMPLES = 20
ATTACKER_ORIGIN = "https://attacker.example"
GOOD_REFERRER = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin", "origin"}
HEX, B64URL = set("0123456789abcdefABCDEF"), set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


# -- no-store ---------------------------------------------------------------------------------------------------
async def collect_token_responses(kit):
    if kit.is_password_server:
        ok = await kit.password_grant(label="password grant (success)")
    else:
        authz = await kit.authorize(label="authorize")
        ok = await kit.redeem(authz, label="authorization_code grant (success)")
    require_tokens(ok, "the successful grant")
    err = await kit.token([("grant_type", "urn:example:unknown")], label="an error response")
    return [ok, err]


# -- pages --------------------------------------------------------------------------------------------------------
def _html(obs: Observation) -> bool:
    return "html" in (header(obs, "Content-Type") or "").lower()


async def collect_pages(kit, origin_header: str | None = None, sign_in: bool = True) -> list[Observation]:
    """The authorization server's pages a user sees: the login page of a new browser (and, signed in, any
    consent page), and the error page for an unregistered redirect_uri."""
    extra = {"Origin": origin_header} if origin_header else None
    authz = await kit.authorize(label="authorization request (new browser)", fresh=True, headers=extra,
                                stop_at_login=not sign_in)
    pages = [o for o in authz.walk.steps if _html(o)]
    bad = await kit.authorize(label="error page (unregistered redirect_uri)", redirect_uri="https://attacker.example/cb",
                              fresh=True, headers=extra)
    pages += [o for o in bad.walk.steps if _html(o)] or [bad.observation]
    if not any(_html(o) for o in pages):
        raise NotApplicable("the authorization server showed no HTML page (no login form, no error page)")
    return pages


async def collect_authorization_pages(kit):
    """Collected once per run and judged by hyg-clickjacking and hyg-referrer."""
    return await kit.shared("hygiene_as.pages", lambda: collect_pages(kit))


def expect_frame_protection(obs: Observation) -> list[str]:
    if not _html(obs):
        return []
    xfo = (header(obs, "X-Frame-Options") or "").strip().upper()
    csp = (header(obs, "Content-Security-Policy") or "").lower()
    if xfo in ("DENY", "SAMEORIGIN") or "frame-ancestors" in csp:
        return []
    return ["neither X-Frame-Options DENY/SAMEORIGIN nor CSP frame-ancestors on an HTML page"]


THIRD_PARTY = re.compile(r'<(?:script|img|link|iframe)\b[^>]*?\b(?:src|href)\s*=\s*["\']?(https?:)?//([^/"\'\s>]+)', re.I)


def expect_no_referrer_leak(obs: Observation) -> list[str]:
    if not _html(obs):
        return []
    problems = []
    policy = {p.strip().lower() for p in (header(obs, "Referrer-Policy") or "").split(",") if p.strip()}
    if not policy & GOOD_REFERRER:
        problems.append(f"Referrer-Policy {header(obs, 'Referrer-Policy')!r}: the page URL (code, state) may leak "
                        "in Referer; use no-referrer")
    own = urlsplit(obs.url).netloc.lower()
    others = sorted({m.group(2).lower() for m in THIRD_PARTY.finditer(obs.body) if m.group(2).lower() != own})
    if others:
        problems.append(f"third-party resources on the page: {', '.join(others[:3])}")
    return problems


async def send_cross_origin_authorization(kit):
    """The authorization endpoint's answers to a request with a foreign Origin (no need to sign in)."""
    return await collect_pages(kit, ATTACKER_ORIGIN, sign_in=False)


def expect_no_cors(obs: Observation) -> list[str]:
    acao = header(obs, "Access-Control-Allow-Origin")
    if acao:
        return [f"Access-Control-Allow-Origin {acao!r} on the authorization endpoint (RFC 9700 §2.6: CORS MUST NOT "
                "be supported there)"]
    return []


# -- entropy --------------------------------------------------------------------------------------------------------
def shannon(text: str) -> float:
    counts = Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values()) if n else 0.0


def common_prefix(values: list[str]) -> int:
    ordered = sorted(values)
    best = 0
    for a, b in zip(ordered, ordered[1:]):
        i = 0
        while i < min(len(a), len(b)) and a[i] == b[i]:
            i += 1
        best = max(best, i)
    return best


def credential_facts(values: list[str]) -> dict:
    """Estimated strength of a set of credentials, without the credentials themselves."""
    chars = set("".join(values))
    alphabet = 16 if chars <= HEX else 64 if chars <= B64URL else 95
    shortest = min(len(v) for v in values)
    joined = "".join(values)
    return {"count": len(values), "unique": len(set(values)), "shortest": shortest, "alphabet": alphabet,
            "capacity_bits": round(shortest * math.log2(alphabet), 1),
            "shannon_bits_per_char": round(shannon(joined), 2), "longest_common_prefix": common_prefix(values),
            "jwt": all(v.count(".") == 2 and v.startswith("eyJ") for v in values)}


async def collect_credentials(kit):
    codes, access, refresh = [], [], []
    last = None
    for i in range(SAMPLES):
        authz = await kit.authorize(label=f"authorize #{i + 1}")
        codes.append(authz.require_code())
        last = await kit.redeem(authz, label=f"token #{i + 1}")
        body = require_tokens(last, "redeeming a valid code")
        access.append(body["access_token"])
        if body.get("refresh_token"):
            refresh.append(body["refresh_token"])
    facts = {"codes": credential_facts(codes), "access_tokens": credential_facts(access)}
    if refresh:
        facts["refresh_tokens"] = credential_facts(refresh)
    return [analysis(f"{SAMPLES} codes, access tokens and refresh tokens", facts, last)]


def _entropy_rule(facts: dict) -> list[str]:
    problems = []
    for kind, f in facts.items():
        if f["unique"] != f["count"]:
            problems.append(f"{kind}: only {f['unique']} distinct values in {f['count']}")
        if f["jwt"]:
            continue  # structured tokens: the signature makes them unguessable; uniqueness is what matters
        if f["capacity_bits"] < 128:
            problems.append(f"{kind}: at most {f['capacity_bits']} bits ({f['shortest']} characters of a "
                            f"{f['alphabet']}-symbol alphabet); RFC 6749 §10.10 asks for >= 128")
        if f["shannon_bits_per_char"] < 0.8 * math.log2(f["alphabet"]):
            problems.append(f"{kind}: {f['shannon_bits_per_char']} bits per character of a {f['alphabet']}-symbol "
                            "alphabet: not uniformly random")
        if f["longest_common_prefix"] > f["shortest"] // 4:
            problems.append(f"{kind}: values share prefixes of {f['longest_common_prefix']} characters "
                            "(sequential?)")
    return problems


# -- plain HTTP ----------------------------------------------------------------------------------------------------
def _loopback(host: str | None) -> bool:
    host = (host or "").lower().strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


async def probe_plain_http(kit):
    endpoints = {"authorization_endpoint": kit.authorization_endpoint, "token_endpoint": kit.token_endpoint}
    out = []
    for name, url in endpoints.items():
        if not url:
            continue
        parts = urlsplit(url)
        if parts.scheme == "http":
            if _loopback(parts.hostname):
                continue
            out.append(analysis(f"{name} over http", {"endpoint": name, "url": url, "scheme": "http"},
                                kit.metadata_observation))
            continue
        plain = "http://" + parts.netloc + parts.path
        obs = await send(kit.session, "GET" if name == "authorization_endpoint" else "POST", plain,
                         label=f"{name} over plain http")
        out.append(obs)
    if not out:
        raise NotApplicable("the endpoints are plain http on a loopback address: a local development setup")
    return out


def expect_tls_only(obs: Observation) -> list[str]:
    if obs.label.startswith("analysis:"):
        return [f"{obs.json['endpoint']} is published as {obs.json['url']} (plain http on a non-loopback host)"]
    if obs.status is None:
        return []   # nothing listens on http: refused
    loc = header(obs, "Location") or ""
    if obs.status in (301, 302, 307, 308) and loc.startswith("https://"):
        return []   # redirected to TLS (the request itself carried nothing secret here)
    if obs.status in (403, 421, 426):
        return []   # refused (Forbidden, Misdirected, Upgrade Required)
    return [f"answered {obs.status} over plain http (RFC 6749 §3.1, §3.2: TLS is required)"]


SCENARIOS: list[Scenario] = [
    Scenario("hyg-token-no-store", "Token responses, successes and errors, carry Cache-Control: no-store and "
             "Pragma: no-cache.", ("RFC 6749 §5.1", "RFC 6749 §5.2"), TE, "medium", collect_token_responses,
             expect_no_store(), frozenset(), FAMILY),
    Scenario("hyg-clickjacking", "Login, consent and error pages forbid framing.", ("RFC 9700 §4.16", "RFC 6749 §10.13"),
             AS, "medium", collect_authorization_pages, expect_frame_protection, CODE_FLOW, FAMILY),
    Scenario("hyg-referrer", "Authorization pages send Referrer-Policy no-referrer and load no third-party "
             "resources.", ("RFC 9700 §4.2.4",), AS, "low", collect_authorization_pages, expect_no_referrer_leak,
             CODE_FLOW, FAMILY),
    Scenario("hyg-no-cors-authz", "The authorization endpoint answers no CORS request.", ("RFC 9700 §2.6",), AS,
             "medium", send_cross_origin_authorization, expect_no_cors, CODE_FLOW, FAMILY),
    Scenario("hyg-credential-entropy", f"{SAMPLES} codes, access and refresh tokens are unique and carry >= 128 "
             "bits.", ("RFC 6749 §10.10",), AS, "high", collect_credentials, expect_facts(_entropy_rule), CODE_FLOW,
             FAMILY),
    Scenario("hyg-tls-only", "The authorization and token endpoints are not served over plain HTTP on a public "
             "address.", ("RFC 6749 §3.1", "RFC 6749 §3.2", "RFC 6749 §10.9"), AS, "high", probe_plain_http,
             expect_tls_only, CODE_FLOW, FAMILY),
]

NOT_APPLICABLE: dict[str, str] = {}   # every AS row of catalog §11 is above; the others are resource-server rows
