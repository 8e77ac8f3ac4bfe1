"""Catalog §5: token format and parsing (resource server). RFC 7515 §2/§7.1 (compact serialisation,
base64url without padding), RFC 7519 §7.2 (validation steps), RFC 6750 §2.1 (b64token), draft 8725bis
"Check JWT Format Type", CVE-2025-30204 (quadratic split on many dots).

Malformed input must be refused with 401 invalid_token or 400 invalid_request, never a 5xx. What an
acceptance means depends on what was sent: a token with no signature at all, or with content the trusted key
never signed, is a vulnerability (MALFORMED); the valid token in a malformed wrapping (padding, stray
characters, extra segments, whitespace) is a lenient parser, a deviation from RFC 7515 §5.2 (LENIENT), since
nothing the trusted key did not sign got through. CR and LF
inside a header value cannot be sent at all (HTTP clients refuse them, RFC 9110 §5.5), so fmt-whitespace
covers space and tab; the server-side CR/LF handling is the HTTP library's job.
"""
from __future__ import annotations

import json
import secrets

from harness import checks, forge
from harness.mutations import rs, with_rules
from harness.rskit import RSKit
from harness.scenario import Probe, vulnerability

MALFORMED = checks.all_of(checks.invalid_request_or_token, checks.no_server_error)
# RFC 7515 §5.2 step 2: "Base64url-decode the encoded representation of the JWS Protected Header, following the
# restriction that no line breaks, whitespace, or other additional characters have been used"; "If any of the
# listed steps fails, then the signature or MAC cannot be validated." (MUST, RFC 7515 §5.2 / RFC 7519 §7.2)
LENIENT = checks.lenient("RFC 7515 §5.2: base64url-decode following the restriction that no line breaks, whitespace, "
                         "or other additional characters have been used; if any step fails the JWS MUST be rejected")


def _token(kit: RSKit) -> str:
    """T0, or for targets with opaque tokens a JWT-shaped token signed by a random key (still three
    base64url segments to take apart)."""
    if "jwt" in kit.capabilities:
        return kit.base_token()
    return forge.hmac_token({"alg": "HS256", "typ": "at+jwt"}, {"sub": kit.profile.username or "x", "iat": 0},
                            secrets.token_bytes(32))


def _lax(kit: RSKit):
    """LENIENT when the probes wrap the target's valid token; for opaque-token targets the JWT-shaped token is
    signed by a random key, so accepting any form of it is a vulnerability (MALFORMED)."""
    return LENIENT if "jwt" in kit.capabilities else MALFORMED


def raw_header(value: str) -> dict[str, str]:
    """An Authorization header carrying exactly these characters (non-latin-1 sent as UTF-8 bytes)."""
    return {"Authorization": value.encode("utf-8").decode("latin-1")}


def vary_segment_count(kit: RSKit) -> list[Probe]:
    h, p, s = forge.split(_token(kit))
    return [Probe("h.p (one dot, no signature)", f"{h}.{p}", expect=MALFORMED),
            Probe("h.p.s.x (four parts)", f"{h}.{p}.{s}.x", expect=_lax(kit)),
            Probe("h.p.s.x.y.z (six parts)", f"{h}.{p}.{s}.x.y.z", expect=_lax(kit)),
            Probe('"."', ".", expect=MALFORMED),
            Probe('".."', "..", expect=MALFORMED),
            Probe('"Bearer " with nothing', None, headers={"Authorization": "Bearer "},
                  expect=checks.all_of(checks.no_server_error,
                                       lambda o: [] if o.status in (400, 401) else [f"status {o.status}"]))]


def loosen_base64(kit: RSKit) -> list[Probe]:
    h, p, s = forge.split(_token(kit))
    std = lambda x: x.replace("-", "+").replace("_", "/")  # noqa: E731
    probes = [Probe("padded segments (=)", f"{h}{'=' * (-len(h) % 4) or '=='}.{p}{'=' * (-len(p) % 4) or '=='}."
                                           f"{s}{'=' * (-len(s) % 4) or '=='}", expect=_lax(kit)),
              Probe("'*' inside the signature", f"{h}.{p}.{s[:10]}*{s[10:]}", expect=_lax(kit)),
              Probe("'%' inside the payload", f"{h}.{p[:10]}%{p[10:]}.{s}", expect=_lax(kit))]
    if std(s) != s or std(p) != p:
        probes.append(Probe("standard base64 alphabet (+ and /)", f"{std(h)}.{std(p)}.{std(s)}", expect=_lax(kit)))
    return probes


def insert_whitespace(kit: RSKit) -> list[Probe]:
    h, p, s = forge.split(_token(kit))
    return [Probe(f"{name} inside the payload", None, headers=raw_header(f"Bearer {h}.{p[:8]}{ch}{p[8:]}.{s}"),
                  expect=_lax(kit)) for name, ch in (("space", " "), ("tab", "\t"))] + \
           [Probe("tab inside the signature", None, headers=raw_header(f"Bearer {h}.{p}.{s[:6]}\t{s[6:]}"),
                  expect=_lax(kit))]


def break_json_shape(kit: RSKit) -> list[Probe]:
    """Header/payload that decode to invalid JSON or to a non-object; validly signed when the harness can."""
    header = kit.header() if "mint" in kit.capabilities else forge.header_of(_token(kit))
    alg = header.get("alg", "HS256")
    claims = kit.claims() if "mint" in kit.capabilities else forge.claims_of(_token(kit))

    def make(h, p) -> str:
        if "mint" in kit.capabilities:
            return kit.mint(p, h, alg=alg)
        sig = forge.split(_token(kit))[2]
        return f"{forge.segment(h)}.{forge.segment(p)}.{sig}"

    probes = []
    # RFC 7519 §7.2 step 10: "Verify that the resulting octet sequence is a UTF-8-encoded representation of a
    # completely valid JSON object"; "if any of the listed steps fail, then the JWT MUST be rejected". A claims set
    # that is not an object carries no claims to check: accepting it is accepting an invalid token.
    expect = MALFORMED
    for label, payload in (("invalid JSON", '{"sub":'), ("null", "null"), ("[]", "[]"), ('"x"', '"x"'),
                           ("a number", "42"), ("empty", "")):
        probes.append(Probe(f"payload decodes to {label}", make(header, payload), expect=expect))
    for label, hdr in (("invalid JSON", '{"alg":'), ("null", "null"), ("[]", "[]"), ("a number", "1")):
        probes.append(Probe(f"header decodes to {label}", make(hdr, claims), expect=expect))
    probes.append(Probe("payload is not base64 JSON at all", make(header, b"\x00\x01\x02"), expect=expect))
    return probes


def add_braces_and_unicode(kit: RSKit) -> list[Probe]:
    token = _token(kit)
    h, p, s = forge.split(token)
    claims_json = json.dumps(forge.claims_of(token), separators=(",", ":")) if token.count(".") == 2 and \
        "jwt" in kit.capabilities else '{"sub":"x"}'
    return [Probe("raw JSON payload instead of base64url", None, headers=raw_header(f"Bearer {h}.{claims_json}.{s}"),
                  expect=MALFORMED),
            Probe('a double quote in the signature', None, headers=raw_header(f'Bearer {h}.{p}.{s[:5]}"{s[5:]}'),
                  expect=_lax(kit)),
            Probe("a non-ASCII letter (é) in the payload", None, headers=raw_header(f"Bearer {h}.{p[:6]}é{p[6:]}.{s}"),
                  expect=_lax(kit)),
            Probe("full-width look-alike of the first header characters", None,
                  headers=raw_header("Bearer " + "".join(chr(ord(c) + 0xFEE0) for c in h[:6]) + f"{h[6:]}.{p}.{s}"),
                  expect=_lax(kit))]


DOS_RULE = "CVE-2025-30204: parsing a token costs bounded work (a fast 4xx, or the connection closed)"


def _dos_check(obs) -> list[str]:
    """Fast (< 5 s) refusal; closing the connection on an oversized header is acceptable (bounded work).
    Slow or accepted: a vulnerability; a 5xx: a robustness deviation."""
    problems: list[str] = []
    if obs.elapsed >= 5 or (obs.status is None and obs.error and "Timeout" in obs.error):
        problems.append(vulnerability(f"took {obs.elapsed:.1f} s ({obs.error or obs.status})", rule=DOS_RULE))
    if obs.status is None:
        return problems
    return problems + checks.rejected_without_crash(obs)


def inflate_token(kit: RSKit) -> list[Probe]:
    h, _, s = forge.split(_token(kit))
    deep = "[" * 10000 + "]" * 10000
    mid = "[" * 1500 + "]" * 1500
    return [Probe("Bearer + 1 MiB of '.'", "." * (1 << 20), expect=_dos_check),
            Probe("a 1 MiB token", "A" * (1 << 20), expect=_dos_check),
            Probe("payload JSON nested 10 000 deep", f"{h}.{forge.segment(deep)}.{s}", expect=_dos_check),
            Probe("payload JSON nested 1 500 deep (fits an 8 KiB header)", f"{h}.{forge.segment(mid)}.{s}",
                  expect=checks.all_of(MALFORMED, _dos_check)),
            Probe("7 000 dots", "." * 7000, expect=checks.all_of(MALFORMED, _dos_check))]


SCENARIOS = [
    rs(id="fmt-segments", summary="Tokens with 2, 4, 6 or empty segments are refused (400/401), no 5xx.",
       refs=("RFC 7519 §7.2", "RFC 6750 §2.1"), severity="medium", mutate=vary_segment_count,
       expect=MALFORMED, needs=("valid_token",)),
    rs(id="fmt-base64-strict", summary="Padding, the standard base64 alphabet, '*' and '%' are refused.",
       refs=("RFC 7515 §2", "draft-8725bis"), severity="medium", mutate=loosen_base64, expect=MALFORMED,
       needs=("valid_token",)),
    rs(id="fmt-whitespace", summary="Spaces or tabs inside a segment are refused.", refs=("RFC 7519 §7.2",),
       severity="medium", mutate=insert_whitespace, expect=MALFORMED, needs=("valid_token",)),
    rs(id="fmt-json-shape", summary="Header/payload that decode to invalid JSON or a non-object are refused, "
       "no 5xx.", refs=("RFC 7519 §7.2",), severity="medium", mutate=break_json_shape, expect=MALFORMED,
       needs=("jwt",)),
    rs(id="fmt-braces-non-ascii", summary="Tokens containing braces, quotes or non-ASCII characters are "
       "refused.", refs=("draft-8725bis",), severity="medium", mutate=add_braces_and_unicode,
       expect=MALFORMED, needs=("valid_token",)),
    rs(id="fmt-dos-size", summary="Huge tokens, many dots and deeply nested JSON are refused fast, no 5xx.",
       refs=("CVE-2025-30204",), severity="medium", mutate=inflate_token, expect=_dos_check,
       needs=("valid_token",)),
]

# The sentence each expectation rests on, with its keyword (audited against the RFC text).
RULES = {
    "fmt-segments": "RFC 7519 §7.2: Verify that the JWT contains at least one period; a JWS has exactly three "
                    "parts (RFC 7515 §7.1); a token without a signature MUST be rejected",
    "fmt-base64-strict": "RFC 7515 §5.2: base64url-decode following the restriction that no line breaks, whitespace, "
                         "or other additional characters have been used (MUST; lenient acceptance is a deviation)",
    "fmt-whitespace": 'RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; RFC 7515 §5.2: no whitespace MUST have '
                      "been used (the valid token with whitespace accepted: a deviation)",
    "fmt-json-shape": "RFC 7519 §7.2: the header and the claims MUST be completely valid JSON objects",
    "fmt-braces-non-ascii": "RFC 7515 §5.2: base64url only, no other characters (MUST); RFC 6750 §2.1 b64token",
    "fmt-dos-size": "CVE-2025-30204: a token costs bounded work (no rule of an RFC; a slow answer is the attack "
                    "getting through, a 5xx a robustness deviation)",
}
SCENARIOS = with_rules(SCENARIOS, RULES)
