"""Authorization-server hygiene (the AS rows of catalog §11; RFC 6749 §5.1, §10.10, §10.13; RFC 9700 §2.6,
§4.2.4, §4.16): token responses are never cached, the login and error pages cannot be framed or leak the
URL through Referer, the authorization endpoint does not speak CORS, credentials are unguessable, and the
endpoints are not served over plain HTTP on a public address.
"""
from __future__ import annotations

import hashlib
import math
import re
import statistics
from collections import Counter
from urllib.parse import urlsplit

from harness.aschecks import analysis, by_label, expect_facts, expect_no_store, header
from harness.askit import NotApplicable, SetupFailed, require_tokens
from harness.client import send
from harness.login import Credentials
from harness.scenario import Observation, Scenario, deviation, vulnerability

FAMILY = "hygiene_as"
AS = "authorization-server"
TE = "token-endpoint"
CODE_FLOW = frozenset({"authorization_code"})
SAMPLES = 20
ATTACKER_ORIGIN = "https://attacker.example"
# Without a Referrer-Policy browsers use strict-origin-when-cross-origin (no path or query to other sites).
LEAKY_REFERRER = {"unsafe-url", "no-referrer-when-downgrade"}
HEX, B64URL = set("0123456789abcdefABCDEF"), set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


# -- no-store ---------------------------------------------------------------------------------------------------
async def collect_token_responses(kit):
    if kit.is_password_server:
        ok = await kit.password_grant(label="password grant (success)")
    else:
        authz = await kit.authorize(label="authorize")
        ok = await kit.redeem(authz, label="authorization_code grant (success)")
    require_tokens(ok, "the successful grant")
    return [ok]   # an error response carries nothing sensitive: §5.1's rule does not reach it


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
    """Pages with a form (login, consent) cannot be framed; an error page without a form has nothing to click."""
    if not _html(obs) or "<form" not in obs.body.lower():
        return []
    xfo = (header(obs, "X-Frame-Options") or "").strip().upper()
    csp = (header(obs, "Content-Security-Policy") or "").lower()
    if xfo in ("DENY", "SAMEORIGIN") or "frame-ancestors" in csp:
        return []
    return [vulnerability("a page with a form has neither X-Frame-Options DENY/SAMEORIGIN nor CSP frame-ancestors",
                          CLICKJACKING)]


THIRD_PARTY = re.compile(r'<(?:script|img|link|iframe)\b[^>]*?\b(?:src|href)\s*=\s*["\']?(https?:)?//([^/"\'\s>]+)', re.I)


def expect_no_referrer_leak(obs: Observation) -> list[str]:
    if not _html(obs):
        return []
    problems = []
    policy = [p.strip().lower() for p in (header(obs, "Referrer-Policy") or "").split(",") if p.strip()]
    if policy and policy[-1] in LEAKY_REFERRER:
        problems.append(deviation(f"Referrer-Policy {policy[-1]!r}: the page URL (code, state) leaks in Referer to "
                                  "other sites", "SHOULD", REFERRER))
    own = urlsplit(obs.url).netloc.lower()
    others = sorted({m.group(2).lower() for m in THIRD_PARTY.finditer(obs.body) if m.group(2).lower() != own})
    if others:
        problems.append(deviation(f"third-party resources on the page: {', '.join(others[:3])}", "SHOULD", REFERRER))
    return problems


async def send_cross_origin_authorization(kit):
    """The authorization endpoint's answers to a request with a foreign Origin (no need to sign in)."""
    return await collect_pages(kit, ATTACKER_ORIGIN, sign_in=False)


def expect_no_cors(obs: Observation) -> list[str]:
    """No CORS at the authorization endpoint; a foreign origin allowed WITH credentials lets its pages read the
    signed-in user's authorization pages (a vulnerability), anything else a deviation."""
    acao = header(obs, "Access-Control-Allow-Origin")
    if not acao:
        return []
    if acao == ATTACKER_ORIGIN and (header(obs, "Access-Control-Allow-Credentials") or "").lower() == "true":
        return [vulnerability(f"Access-Control-Allow-Origin {acao!r} with credentials on the authorization endpoint",
                              NO_CORS)]
    return [deviation(f"Access-Control-Allow-Origin {acao!r} on the authorization endpoint", "MUST", NO_CORS)]


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
    problems = [vulnerability(p, GUESSING) for p in _entropy_problems(facts)]
    return problems


def _entropy_problems(facts: dict) -> list[str]:
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
        return [vulnerability(f"{obs.json['endpoint']} is published as {obs.json['url']} (plain http on a "
                              "non-loopback host)", TLS)]
    if obs.status is None:
        return []   # nothing listens on http: refused
    loc = header(obs, "Location") or ""
    if obs.status in (301, 302, 307, 308) and loc.startswith("https://"):
        return []   # redirected to TLS (the request itself carried nothing secret here)
    if obs.status in (403, 421, 426):
        return []   # refused (Forbidden, Misdirected, Upgrade Required)
    return [vulnerability(f"answered {obs.status} over plain http", TLS)]


# -- user enumeration at the HTML login ------------------------------------------------------------------------
ENUM_TRIES = 5
WRONG_PASSWORD = "oauthlab-wrong-password-Zq9"
UNKNOWN_USER = "oauthlab-no-such-user-7Kd"
RANDOM_RUN = re.compile(r"[A-Za-z0-9_\-]{16,}")
HIDDEN_VALUE = re.compile(r'(<input[^>]*type=["\']?hidden["\']?[^>]*value=)("[^"]*"|\'[^\']*\'|[^\s>]+)', re.I)
MIN_GAP = 0.03      # seconds: below this no remote attacker tells two answers apart


def normalise_page(text: str, names: tuple[str, ...]) -> str:
    """A page without what legitimately differs between two tries: hidden input values (CSRF tokens),
    long random-looking runs (interaction ids in URLs), and the typed user names."""
    for name in names:
        text = text.replace(name, "<user>")
    text = HIDDEN_VALUE.sub(r"\1~", text)
    return RANDOM_RUN.sub("~", text)


async def compare_login_failures(kit):
    """A new browser signs in with the real user and a wrong password, then with an unknown user, alternately,
    ENUM_TRIES times each; each walk stops after one login POST."""
    base = kit.credentials
    names = (base.username, UNKNOWN_USER)
    kinds = {"wrong_password": Credentials(base.username, WRONG_PASSWORD, base.username_field, base.password_field),
             "unknown_user": Credentials(UNKNOWN_USER, WRONG_PASSWORD, base.username_field, base.password_field)}
    samples: dict[str, list[dict]] = {k: [] for k in kinds}
    out: list[Observation] = []
    for i in range(ENUM_TRIES):
        for kind, creds in kinds.items():
            authz = await kit.authorize(label=f"{kind.replace('_', ' ')} #{i + 1}", credentials=creds,
                                        login_attempts=1)
            post = authz.walk.login_post
            if post is None:
                raise SetupFailed("no login form was shown to a new browser", authz.observation)
            final = authz.walk.final
            samples[kind].append({"post_status": post.status, "final_status": final.status,
                                  "page": hashlib.sha256(normalise_page(final.body, names).encode()).hexdigest()[:16],
                                  "seconds": round(post.elapsed, 4)})
            if i == 0:
                out.append(post)
    facts = {kind: {"statuses": sorted({(s["post_status"], s["final_status"]) for s in got}),
                    "pages": sorted({s["page"] for s in got}), "seconds": [s["seconds"] for s in got]}
             for kind, got in samples.items()}
    return out + [analysis(f"wrong password vs unknown user at the login page, {ENUM_TRIES} tries each", facts,
                           out[-1])]


def timing_gap(a: list[float], b: list[float]) -> tuple[float, float, bool]:
    """(gap between the medians, the noise (largest median absolute deviation), whether the two series do not
    overlap at all)."""
    gap = abs(statistics.median(a) - statistics.median(b))
    noise = max(statistics.median([abs(x - statistics.median(s)) for x in s]) for s in (a, b))
    separated = max(a) < min(b) or max(b) < min(a)
    return gap, noise, separated


def _login_enumeration_rule(facts: dict) -> list[str]:
    a, b = facts["wrong_password"], facts["unknown_user"]
    problems = []
    if not set(map(tuple, a["statuses"])) & set(map(tuple, b["statuses"])):
        problems.append(f"different statuses: {a['statuses']} for a wrong password, {b['statuses']} for an "
                        "unknown user")
    if not set(a["pages"]) & set(b["pages"]):
        problems.append("different pages (after removing CSRF tokens, ids and the typed user name) for a wrong "
                        "password and an unknown user")
    gap, noise, separated = timing_gap(a["seconds"], b["seconds"])
    if separated and gap > MIN_GAP and gap > 3 * noise:
        slower = "a wrong password" if statistics.median(a["seconds"]) > statistics.median(b["seconds"]) else \
            "an unknown user"
        problems.append(f"{slower} takes {gap * 1000:.0f} ms longer (medians; noise {noise * 1000:.0f} ms, the "
                        f"{ENUM_TRIES} + {ENUM_TRIES} tries do not overlap)")
    return [vulnerability(f"{p}: the login page tells who has an account", SAME_LOGIN_ANSWER) for p in problems]


# The sentences the expectations rest on.
NO_STORE = ('RFC 6749 §5.1: "The authorization server MUST include the HTTP "Cache-Control" response header field '
            'with a value of "no-store" in any response containing tokens"')
CLICKJACKING = 'RFC 9700 §4.16: "Authorization servers MUST prevent clickjacking attacks."'
REFERRER = ('RFC 9700 §4.2.4: "The page rendered as a result of the OAuth authorization response and the authorization '
            'endpoint SHOULD NOT include third-party resources or links to external sites."; the measures include '
            '"Suppress the Referer header by applying an appropriate Referrer Policy"')
NO_CORS = 'RFC 9700 §2.6: "CORS MUST NOT be supported at the authorization endpoint"'
GUESSING = ('RFC 6749 §10.10: "The probability of an attacker guessing generated tokens (and other credentials not '
            'intended for handling by end-users) MUST be less than or equal to 2^(-128) and SHOULD be less than or '
            'equal to 2^(-160)."')
TLS = ('RFC 6749 §3.1: "the authorization server MUST require the use of TLS as described in Section 1.6 when '
       'sending requests to the authorization endpoint"; §3.2: the same for the token endpoint')
SAME_LOGIN_ANSWER = ('RFC 6749 §10.12 and §10.10 protect the user\'s credentials; CWE-204 (response discrepancy) and '
                     'CWE-208 (timing discrepancy): the login page answers an unknown user and a wrong password alike')


SCENARIOS: list[Scenario] = [
    Scenario("hyg-token-no-store", "Token responses carry Cache-Control: no-store.", ("RFC 6749 §5.1",), TE, "medium",
             collect_token_responses, expect_no_store(), frozenset(), FAMILY),
    Scenario("hyg-clickjacking", "Login and consent pages forbid framing.", ("RFC 9700 §4.16", "RFC 6749 §10.13"),
             AS, "medium", collect_authorization_pages, expect_frame_protection, CODE_FLOW, FAMILY),
    Scenario("hyg-referrer", "Authorization pages load no third-party resources and do not send their URL in "
             "Referer to other sites.", ("RFC 9700 §4.2.4",), AS, "low", collect_authorization_pages,
             expect_no_referrer_leak, CODE_FLOW, FAMILY),
    Scenario("hyg-no-cors-authz", "The authorization endpoint answers no CORS request.", ("RFC 9700 §2.6",), AS,
             "medium", send_cross_origin_authorization, expect_no_cors, CODE_FLOW, FAMILY),
    Scenario("hyg-credential-entropy", f"{SAMPLES} codes, access and refresh tokens are unique and carry >= 128 "
             "bits.", ("RFC 6749 §10.10",), AS, "high", collect_credentials, expect_facts(_entropy_rule), CODE_FLOW,
             FAMILY),
    Scenario("hyg-tls-only", "The authorization and token endpoints are not served over plain HTTP on a public "
             "address.", ("RFC 6749 §3.1", "RFC 6749 §3.2", "RFC 6749 §10.9"), AS, "high", probe_plain_http,
             expect_tls_only, CODE_FLOW, FAMILY),
    Scenario("hyg-login-enumeration", f"The HTML login answers an unknown user and a wrong password alike: same "
             f"status, same page (CSRF tokens aside), no timing gap beyond noise ({ENUM_TRIES} tries each).",
             ("RFC 6749 §10.12", "CWE-204", "CWE-208"), AS, "medium", compare_login_failures,
             by_label(lambda obs: [], analysis=expect_facts(_login_enumeration_rule)), CODE_FLOW, FAMILY,
             tags=("disruptive",)),
]

NOT_APPLICABLE: dict[str, str] = {}   # every AS row of catalog §11 is above; the others are resource-server rows
