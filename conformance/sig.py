"""Catalog §1: signature and algorithm (resource server). RFC 7515, RFC 7518, RFC 8725 §2.1/§3.1/§3.2,
RFC 9068 §4; jwt_tool's playbook; the key-confusion CVEs (every encoding of the public key as HMAC secret)."""
from __future__ import annotations

import json

from harness import checks, forge
from harness.mutations import base_claims, base_header, base_token, rs, with_rules
from harness.rskit import RSKit, random_marker
from harness.scenario import NotApplicable, Probe, vulnerability

# RFC 7515 Appendix A.1, used as a known answer: the forge must reproduce it byte for byte.
A1_HEADER = '{"typ":"JWT",\r\n "alg":"HS256"}'
A1_PAYLOAD = '{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}'
A1_KEY = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
A1_TOKEN = ("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9l"
            "eGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")

# Secrets tried by sig-hs-weak-key. Apps copy published secrets verbatim, so the list holds them beside the
# dictionary words (RFC 8725 §3.5: "human-memorizable passwords MUST NOT be directly used as the key").
PUBLISHED_SECRETS = (
    # FastAPI docs, "OAuth2 with Password (and hashing), Bearer with JWT tokens": SECRET_KEY
    "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7",
    # jwt.io debugger's default HS256 secret (older and current debugger)
    "your-256-bit-secret", "a-string-secret-at-least-256-bits-long",
    # jsonwebtoken (auth0/node-jsonwebtoken) README: jwt.sign({ foo: 'bar' }, 'shhhhh')
    "shhhhh",
    # express-jwt README: expressjwt({ secret: "shhhhhhared-secret", algorithms: ["HS256"] })
    "shhhhhhared-secret",
    # Flask-JWT-Extended docs, basic usage: app.config["JWT_SECRET_KEY"] = "super-secret"  # Change this!
    "super-secret",
    # firebase/php-jwt README: $key = 'example_key';
    "example_key",
    # LoopBack 4 @loopback/authentication-jwt: TokenServiceConstants.TOKEN_SECRET_VALUE
    "myjwts3cr3t",
    # NestJS docs, Authentication recipe: jwtConstants.secret
    "DO NOT USE THIS VALUE. INSTEAD, CREATE A COMPLEX SECRET AND KEEP IT SAFE OUTSIDE OF THE SOURCE CODE.",
    # Supabase CLI local development stack: the default JWT_SECRET
    "super-secret-jwt-token-with-at-least-32-characters-long",
    # express-session README / countless Express samples
    "keyboard cat",
    # GeeksforGeeks JWT tutorials (Node and Python)
    "gfg_jwt_secret_key",
)
# Dictionary words and framework placeholders (jwt_tool's jwt-common.txt favourites).
COMMON_SECRETS = ("secret", "Secret", "SECRET", "secret123", "secretkey", "secret_key", "secret-key", "mysecret",
                  "my_secret", "supersecret", "topsecret", "password", "Password", "password123", "passw0rd",
                  "changeme", "changeit", "default", "key", "jwt", "jwt_secret", "jwtsecret", "jwt-secret", "token",
                  "test", "testing", "dev", "development", "admin", "root", "12345", "123456", "1234567890",
                  "qwerty", "letmein", "abc123", "your-secret-key", "your_jwt_secret", "hello", "notasecret",
                  "none", "null", "1", "0", "a", "s3cr3t", "S3cr3t", "pass", "private", "public", "HS256")
WEAK_SECRETS = PUBLISHED_SECRETS + COMMON_SECRETS


def _control(kit: RSKit) -> list[Probe]:
    """T0 (and T0 on the scoped endpoint) must work; the forge's HMAC matches RFC 7515 Appendix A.1."""
    if forge.jws(A1_HEADER, A1_PAYLOAD, forge.b64url_decode(A1_KEY), "HS256") != A1_TOKEN:
        raise RuntimeError("the harness forge does not reproduce RFC 7515 Appendix A.1: its HS256 is broken")
    probes = [Probe("T0 (valid baseline token)", kit.mint(), expect=checks.ok)]
    if kit.profile.scoped_endpoint:
        probes.append(Probe("T0 on the scoped endpoint", kit.mint(), path=kit.profile.scoped_endpoint,
                            expect=checks.ok))
    return probes


def send_alg_none(kit: RSKit) -> list[Probe]:
    """T0's header with alg none, and the published exploit's header ``{"alg":"none","typ":"JWT"}`` (no kid:
    CVE-2022-23540 needs the verifier's key lookup to come back empty), each with an empty signature."""
    h, c = base_header(kit), base_claims(kit)
    return [Probe("alg=none, empty signature", forge.unsigned_token(h, c, "none")),
            Probe('header {"alg":"none","typ":"JWT"} (no kid), empty signature',
                  forge.jws({"alg": "none", "typ": "JWT"}, c))]


def vary_alg_none_case(kit: RSKit) -> list[Probe]:
    h, c = base_header(kit), base_claims(kit)
    return [Probe(f"alg={alg}", forge.unsigned_token(h, c, alg)) for alg in ("None", "NONE", "nOnE", "noNE")]


def keep_signature_with_alg_none(kit: RSKit) -> list[Probe]:
    sig = forge.split(base_token(kit))[2]
    h, c = base_header(kit), base_claims(kit)
    return [Probe("alg=none, original signature kept", forge.unsigned_token(h, c, "none", sig))]


def drop_signature(kit: RSKit) -> list[Probe]:
    return [Probe("empty signature (h.p.)", forge.with_signature(base_token(kit), ""))]


def truncate_signature(kit: RSKit) -> list[Probe]:
    token = base_token(kit)
    return [Probe("signature minus its last 4 characters", forge.with_signature(token, forge.split(token)[2][:-4]))]


def tamper_payload(kit: RSKit) -> list[Probe]:
    token = base_token(kit)
    claims = forge.claims_of(token)
    probes = [Probe("sub changed, signature kept", forge.with_payload(token, {**claims, "sub": "admin"})),
              Probe("scope extended, signature kept",
                    forge.with_payload(token, {**claims, "scope": (str(claims.get("scope", "")) + " admin").strip()}))]
    for name in claims:
        marker = random_marker(name)
        probes.append(Probe(f"{name} = jwt_inject marker, signature kept",
                            forge.with_payload(token, {**claims, name: marker}),
                            expect=checks.all_of(checks.invalid_token, checks.body_lacks(marker, what="the marker"))))
    return probes


def sign_with_empty_key(kit: RSKit) -> list[Probe]:
    return [Probe("HS256 with the empty key", forge.hmac_token(base_header(kit), base_claims(kit), b"", "HS256"))]


def sign_with_weak_secrets(kit: RSKit) -> list[Probe]:
    h, c = base_header(kit), base_claims(kit)
    return [Probe(f"HS256 with secret {s!r}", forge.hmac_token(h, c, s, "HS256")) for s in WEAK_SECRETS]


def check_own_secret_strength(kit: RSKit) -> list[str]:
    """Offline half of sig-hs-weak-key: the target's HMAC key is not a published or common one, and is at least
    256 bits (RFC 7518 §3.2: "A key of the same size as the hash output ... or larger MUST be used")."""
    key = kit.profile.signing_key
    if not kit.profile.hmac or not isinstance(key, (bytes, bytearray)):
        return []
    problems = []
    if bytes(key).decode("utf-8", "replace") in WEAK_SECRETS:
        problems.append(vulnerability("the target's HMAC secret is a published or common one (in the weak-key list): "
                                      "anyone can sign tokens it accepts",
                                      rule="RFC 8725 §3.5: human-memorizable passwords MUST NOT be directly used as "
                                           "the key to a keyed-MAC JWS algorithm"))
    if len(key) < 32:
        problems.append(vulnerability(f"the target's HMAC key is {len(key)} bytes",
                                      rule="RFC 7518 §3.2: A key of the same size as the hash output (for instance, "
                                           "256 bits for HS256) or larger MUST be used with this algorithm"))
    return problems


def _confusion(groups: tuple[str, ...], algs: tuple[str, ...]):
    def sign_with_public_key_as_hmac(kit: RSKit) -> list[Probe]:
        c = base_claims(kit)
        probes = []
        for pk in kit.public_keys:
            for group, variants in forge.public_key_variants(pk.key, pk.jwk_text).items():
                if group not in groups:
                    continue
                for label, secret in variants.items():
                    for alg in algs:
                        h = base_header(kit, alg=alg)
                        if pk.kid:
                            h["kid"] = pk.kid
                        probes.append(Probe(f"{alg} keyed with the public key as {label} (kid {pk.kid})",
                                            forge.hmac_token(h, c, secret)))
        if not probes:
            raise NotApplicable("no public key of the target is known")
        return probes
    return sign_with_public_key_as_hmac


def sign_with_psychic_der(kit: RSKit) -> list[Probe]:
    h, c = base_header(kit, alg="ES256"), base_claims(kit)
    return [Probe("ES256 with DER r=s=0 (MAYCAQACAQA)", forge.unsigned_token(h, c, "ES256", forge.PSYCHIC_DER))]


def sign_with_psychic_raw(kit: RSKit) -> list[Probe]:
    c = base_claims(kit)
    probes = []
    for alg in ("ES256", "ES384"):
        for label, sig in forge.psychic_signatures(alg).items():
            if label != "der-zero":
                probes.append(Probe(f"{alg} with {label} signature",
                                    forge.unsigned_token(base_header(kit), c, alg, sig)))
    return probes


def _other_algs(kit: RSKit) -> tuple[str, ...]:
    alg = kit.profile.algorithm
    family = {"HS": ("HS256", "HS384", "HS512"), "RS": ("RS256", "RS384", "RS512", "PS256"),
              "PS": ("PS256", "PS384", "RS256", "RS512"), "ES": ("ES256",)}[alg[:2]]
    return tuple(a for a in family if a != alg)


def sign_with_disallowed_alg(kit: RSKit) -> list[Probe]:
    probes = [Probe(f"valid {alg} signature by the trusted key", kit.mint(kit.claims(), kit.header(alg=alg), alg))
              for alg in _other_algs(kit)]
    if not probes:
        raise NotApplicable(f"no other algorithm can be used with a {kit.profile.algorithm} key")
    return probes


def change_alg_case(kit: RSKit) -> list[Probe]:
    alg = kit.profile.algorithm
    spellings = {alg.lower(), alg[0] + alg[1:].lower(), alg[:2].lower() + alg[2:], alg.swapcase()} - {alg}
    if alg.startswith("RS"):
        spellings.add("hs256")
    return [Probe(f"alg={s!r}, signed with {alg}", kit.mint(kit.claims(), kit.header(alg=s), alg))
            for s in sorted(spellings)]


def confuse_header_types(kit: RSKit) -> list[Probe]:
    token = base_token(kit)
    h, p, s = forge.split(token)
    header = forge.decode_part(h)
    probes = []
    for name in header:
        for value in (None, True, False, 0, "jwt_tool"):
            probes.append(Probe(f"header {name}={json.dumps(value)}, signature kept",
                                f"{forge.segment({**header, name: value})}.{p}.{s}",
                                expect=checks.all_of(checks.invalid_token, checks.no_server_error)))
    return probes


def add_unknown_crit(kit: RSKit) -> list[Probe]:
    h = kit.header(crit=["urn:x:unknown"], **{"urn:x:unknown": True})
    return [Probe("crit names an unknown extension (validly signed)", kit.mint(kit.claims(), h))]


def substitute_jwe(kit: RSKit) -> list[Probe]:
    """A 5-segment JWE (RSA-OAEP-256 + A256GCM) with forged claims encrypted to a public key, no JWS."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    import os as _os
    keys = [k for k in kit.public_keys if isinstance(k.key, rsa.RSAPublicKey)]
    target_key = keys[0].key if keys else forge.harness_rsa_key(3).public_key()
    claims = base_claims(kit, sub="admin", scope="admin " + str(base_claims(kit).get("scope", "")))
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "typ": "at+jwt"}
    if keys and keys[0].kid:
        header["kid"] = keys[0].kid
    cek, iv = AESGCM.generate_key(256), _os.urandom(12)
    ek = target_key.encrypt(cek, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
    protected = forge.segment(header)
    ct = AESGCM(cek).encrypt(iv, forge.part_bytes(claims), protected.encode())
    token = ".".join([protected, forge.b64url(ek), forge.b64url(iv), forge.b64url(ct[:-16]), forge.b64url(ct[-16:])])
    return [Probe("JWE RSA-OAEP-256/A256GCM with forged claims, no signature", token)]


def send_jwe_huge_p2c(kit: RSKit) -> list[Probe]:
    header = {"alg": "PBES2-HS256+A128KW", "enc": "A128CBC-HS256", "p2c": 2147483647, "p2s": "c2FsdHNhbHQ"}
    token = ".".join([forge.segment(header), forge.b64url(b"\x00" * 40), forge.b64url(b"\x00" * 16),
                      forge.b64url(b"\x00" * 32), forge.b64url(b"\x00" * 16)])
    return [Probe("JWE PBES2 with p2c=2147483647", token,
                  expect=checks.all_of(checks.invalid_token, checks.faster_than(2.0)))]


def send_jwe_zip_bomb(kit: RSKit) -> list[Probe]:
    """A compressed JWE (zip=DEF) inflating to 4 MiB of zeros (bounded by request-header size limits)."""
    import zlib
    header = {"alg": "dir", "enc": "A256GCM", "zip": "DEF"}
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = comp.compress(b"\x00" * (4 << 20)) + comp.flush()
    token = ".".join([forge.segment(header), "", forge.b64url(b"\x00" * 12), forge.b64url(deflated),
                      forge.b64url(b"\x00" * 16)])
    return [Probe(f"JWE zip=DEF inflating to 4 MiB ({len(token)} chars)", token,
                  expect=checks.all_of(checks.invalid_token, checks.faster_than(2.0)))]


def wrap_in_json_serialization(kit: RSKit) -> list[Probe]:
    token = base_token(kit)
    h, p, s = forge.split(token)
    forged = forge.segment(base_claims(kit, sub="admin"))
    flattened = json.dumps({"protected": h, "payload": forged, "signature": s}, separators=(",", ":"))
    general = json.dumps({"payload": forged, "signatures": [{"protected": h, "signature": s}]}, separators=(",", ":"))
    # CVE-2022-39227's shape: the compact form (read for the claims: exactly two dots in the whole string)
    # carries the forged payload; the JSON serialisation (verified) carries the signed one
    polyglot = '{"  ' + f'{h}.{forged}.":"","protected":"{h}", "payload":"{p}","signature":"{s}"' + '}'
    mixed = f"{h}.{forged}.{s}"
    expect = checks.invalid_request_or_token
    return [Probe("flattened JSON serialization, forged payload", flattened, expect=expect),
            Probe("general JSON serialization, forged payload", general, expect=expect),
            Probe("CVE-2022-39227 polyglot: compact token as a JSON key", polyglot, expect=expect),
            Probe("compact with a forged payload under the original signature", mixed)]



# RFC 8725 §3.1: libraries "MUST NOT use any other algorithms" than the caller's allow-list, and "each key MUST be
# used with exactly one algorithm". A token signed by the TRUSTED key with another algorithm is no forgery (only
# the key's holder can make it): accepted = a deviation (MUST), not a vulnerability.
ALG_POLICY = checks.policy_refused('RFC 8725 §3.1: libraries MUST enable the caller to specify a supported set of '
                                   'algorithms and MUST NOT use any other algorithms when performing cryptographic '
                                   'operations')

# Unless noted, every attack below carries a signature the trusted key did not make (none, empty, truncated,
# tampered, keyed with public material, another key): RFC 7515 §5.2 "If any of the listed steps fails, then the
# signature or MAC cannot be validated" and RFC 9068 §4 "MUST validate the signature": accepted = a vulnerability;
# refused in another form = a deviation (checks.invalid_token).
CONFUSION_REFS = ("RFC 8725 §2.1", "RFC 8725 §3.1", "CVE-2015-9235", "CVE-2016-10555")
SCENARIOS = [
    rs(id="sig-valid-rs256-control", summary="A valid RS256 token T0 is accepted, before and after the "
       "attacks.", refs=("RFC 9068 §4",), severity="high", mutate=_control, expect=checks.ok,
       needs=("mint", "asymmetric"), family="sig", control=True),
    rs(id="sig-valid-hs256-control", summary="A valid HS256 token T0 is accepted, before and after the "
       "attacks (and the forge reproduces RFC 7515 Appendix A.1).",
       refs=("RFC 9068 §4", "RFC 7515 Appendix A.1"), severity="high", mutate=_control, expect=checks.ok,
       needs=("mint", "hmac"), family="sig", control=True),
    rs(id="sig-alg-none", summary="A token with alg none and an empty signature is rejected.",
       refs=("RFC 9068 §4", "RFC 8725 §2.1", "RFC 8725 §3.2", "CVE-2022-23540"), severity="critical",
       mutate=send_alg_none),
    rs(id="sig-alg-none-case", summary="alg None/NONE/nOnE/noNE is rejected (no case-insensitive "
       "block-list).", refs=("RFC 8725 §3.1", "draft-8725bis"), severity="critical",
       mutate=vary_alg_none_case),
    rs(id="sig-alg-none-keep-sig", summary="alg none with the original signature still attached is rejected.",
       refs=("RFC 9068 §4", "RFC 8725 §3.2"), severity="critical", mutate=keep_signature_with_alg_none),
    rs(id="sig-null-signature", summary="The original header and payload with an empty signature are "
       "rejected.", refs=("CVE-2020-28042", "RFC 7515 §5.2"), severity="critical", mutate=drop_signature),
    rs(id="sig-truncated-signature", summary="A signature missing its last 4 characters is rejected.",
       refs=("RFC 7515 §5.2",), severity="critical", mutate=truncate_signature),
    rs(id="sig-payload-tamper", summary="A changed payload under the original signature is rejected, and "
       "injected claim values are never reflected.", refs=("RFC 8725 §3.3", "RFC 7515 §5.2"),
       severity="critical", mutate=tamper_payload),
    rs(id="sig-hs-empty-key", summary="An HMAC computed with the empty key is rejected.",
       refs=("CVE-2019-20933", "CVE-2020-28637"), severity="critical", mutate=sign_with_empty_key),
    rs(id="sig-hs-weak-key", summary="Tokens HMAC-signed with common secrets are rejected; the target's own "
       "secret is not one of them and is at least 256 bits.",
       refs=("RFC 8725 §2.2", "RFC 8725 §3.5", "RFC 7518 §3.2", "CVE-2020-1764"), severity="critical",
       mutate=sign_with_weak_secrets, after=check_own_secret_strength),
    rs(id="sig-confusion-spki-pem", summary="HS256 keyed with the target's public key as published SPKI PEM "
       "is rejected.", refs=CONFUSION_REFS, severity="critical", mutate=_confusion(("spki-pem",), ("HS256",)),
       needs=("jwt", "jwks")),
    rs(id="sig-confusion-pem-variants", summary="HS256 keyed with PEM variants of the public key (no "
       "trailing newline, CRLF, one line, prefixed bytes) is rejected.",
       refs=CONFUSION_REFS + ("CVE-2023-48223", "CVE-2026-34950", "GHSA-ww5h-9m49-7xx4"), severity="critical",
       mutate=_confusion(("pem-variants",), ("HS256",)), needs=("jwt", "jwks")),
    rs(id="sig-confusion-pkcs1-pem", summary="HS256 keyed with the PKCS#1 PEM of the public key is rejected.",
       refs=CONFUSION_REFS + ("CVE-2017-11424",), severity="critical",
       mutate=_confusion(("pkcs1-pem",), ("HS256",)), needs=("jwt", "jwks")),
    rs(id="sig-confusion-der-cert-jwk", summary="HS256 keyed with the DER, an X.509 certificate or the JWK "
       "text of the public key is rejected.", refs=CONFUSION_REFS + ("CVE-2024-33663", "CVE-2024-37568"),
       severity="critical", mutate=_confusion(("der-cert-jwk",), ("HS256",)), needs=("jwt", "jwks")),
    rs(id="sig-confusion-openssh", summary="HS256 keyed with the OpenSSH public key line is rejected.",
       refs=CONFUSION_REFS + ("CVE-2022-29217", "CVE-2024-33663"), severity="critical",
       mutate=_confusion(("openssh",), ("HS256",)), needs=("jwt", "jwks")),
    rs(id="sig-confusion-hs384-512", summary="Every key-confusion variant with alg HS384 and HS512 is "
       "rejected.", refs=CONFUSION_REFS, severity="critical",
       mutate=_confusion(("spki-pem", "pem-variants", "pkcs1-pem", "der-cert-jwk", "openssh"), ("HS384", "HS512")),
       needs=("jwt", "jwks")),
    rs(id="sig-psychic-der", summary="ES256 with the DER signature r = s = 0 is rejected.",
       refs=("CVE-2022-21449",), severity="critical", mutate=sign_with_psychic_der),
    rs(id="sig-psychic-raw", summary="ES256/ES384 with all-zero raw signatures and r = s = n are rejected.",
       refs=("CVE-2022-21449",), severity="critical", mutate=sign_with_psychic_raw),
    rs(id="sig-alg-not-allowed", summary="A correct signature by the trusted key with an algorithm outside "
       "the allow-list is rejected.", refs=("RFC 8725 §3.1", "RFC 7515 §5.2"), severity="high",
       mutate=sign_with_disallowed_alg, expect=ALG_POLICY, needs=("mint",)),
    rs(id="sig-alg-case", summary="A valid signature whose alg is spelled in another case is rejected.",
       refs=("draft-8725bis", "RFC 7515 §4.1.1"), severity="high", mutate=change_alg_case, expect=ALG_POLICY,
       needs=("mint",)),
    rs(id="sig-alg-type-confusion", summary="Header members set to null/true/false/0/\"jwt_tool\" are "
       "rejected without a 5xx.", refs=("RFC 7515 §4.1",), severity="medium", mutate=confuse_header_types),
    rs(id="sig-crit-unknown", summary="A validly signed token whose crit names an unknown extension is "
       "rejected.", refs=("RFC 7515 §4.1.11", "CVE-2025-59420", "CVE-2026-32597"), severity="medium",
       mutate=add_unknown_crit, needs=("mint",)),
    rs(id="sig-jwe-substitution", summary="A JWE with forged claims (no inner signature) is rejected.",
       refs=("RFC 8725 §3.3", "CVE-2023-51774"), severity="critical", mutate=substitute_jwe),
    rs(id="sig-jwe-p2c", summary="A PBES2 JWE with p2c = 2^31-1 is rejected in bounded time.",
       refs=("draft-8725bis", "CVE-2022-36083"), severity="medium", mutate=send_jwe_huge_p2c,
       needs=("resource",)),
    rs(id="sig-jwe-zip-bomb", summary="A compressed JWE (zip=DEF) is rejected without inflating it.",
       refs=("RFC 8725 §3.6", "CVE-2024-33664"), severity="medium", mutate=send_jwe_zip_bomb,
       needs=("resource",)),
    rs(id="sig-json-serialization-polyglot", summary="JSON-serialised JWS and compact/JSON polyglots are "
       "rejected.", refs=("draft-8725bis", "CVE-2022-39227"), severity="high",
       mutate=wrap_in_json_serialization),
]

# The sentence each expectation rests on, with its keyword (audited against the RFC text).
_SIG = ("RFC 7515 §5.2: if any of the listed steps fails, then the signature or MAC cannot be validated; "
        "RFC 9068 §4: the resource server MUST validate the signature of all incoming JWT access tokens")
_CONFUSION = ("RFC 8725 §2.1 / §3.1: libraries MUST NOT use any algorithm other than the caller's, so a public key "
              "is never an HMAC secret (MUST)")
RULES = {
    "sig-valid-rs256-control": "RFC 9068 §4: a token that passes every validation step is valid (MUST be accepted "
                               "for the control to mean anything)",
    "sig-valid-hs256-control": "RFC 9068 §4 and RFC 7515 Appendix A.1 (the forge's known answer)",
    "sig-alg-none": 'RFC 9068 §4: The resource server MUST reject any JWT in which the value of "alg" is "none"',
    "sig-alg-none-case": "RFC 7518 §3.6: Implementations that support Unsecured JWSs MUST NOT accept such objects as "
                         "valid unless the application specifies that it is acceptable; RFC 7515 §4.1.1: alg is "
                         "case-sensitive",
    "sig-alg-none-keep-sig": 'RFC 9068 §4: MUST reject any JWT in which the value of "alg" is "none"',
    "sig-null-signature": _SIG,
    "sig-truncated-signature": _SIG,
    "sig-payload-tamper": _SIG + "; RFC 8725 §3.10: injected values are not reflected",
    "sig-hs-empty-key": _SIG,
    "sig-hs-weak-key": "RFC 8725 §3.5: human-memorizable passwords MUST NOT be directly used as the key to a "
                       "keyed-MAC JWS algorithm; RFC 7518 §3.2: a key of at least 256 bits MUST be used for HS256",
    "sig-confusion-spki-pem": _CONFUSION,
    "sig-confusion-pem-variants": _CONFUSION,
    "sig-confusion-pkcs1-pem": _CONFUSION,
    "sig-confusion-der-cert-jwk": _CONFUSION,
    "sig-confusion-openssh": _CONFUSION,
    "sig-confusion-hs384-512": _CONFUSION,
    "sig-psychic-der": _SIG + " (an ECDSA signature with r = s = 0 is never valid: CVE-2022-21449)",
    "sig-psychic-raw": _SIG + " (r, s MUST be in [1, n-1])",
    "sig-alg-not-allowed": "RFC 8725 §3.1: MUST NOT use any other algorithms (signed by the trusted key: a deviation)",
    "sig-alg-case": "RFC 7515 §4.1.1: alg is a case-sensitive ASCII string; RFC 8725 §3.1: MUST NOT use any other "
                    "algorithms (signed by the trusted key: a deviation)",
    "sig-alg-type-confusion": _SIG + " (the header no longer matches the signature)",
    "sig-crit-unknown": "RFC 7515 §4.1.11: Recipients MUST understand and process the crit extensions; If any of the "
                        "listed extension Header Parameters are not understood and supported by the recipient, then "
                        "the JWS is invalid",
    "sig-jwe-substitution": "RFC 8725 §3.3: all cryptographic operations used in the JWT MUST be validated and the "
                            "entire JWT MUST be rejected if any of them fail (a JWE carries no signature)",
    "sig-jwe-p2c": "draft-8725bis: reject PBES2 p2c above 1,200,000 (bounded work); RFC 9068 §4 MUST validate the "
                   "signature (there is none)",
    "sig-jwe-zip-bomb": "RFC 8725 §3.6: compression of data before encryption SHOULD NOT be used; the token is "
                        "refused without inflating it",
    "sig-json-serialization-polyglot": "RFC 7519 §1: JWTs are always represented using the JWS Compact Serialization "
                                       "or the JWE Compact Serialization; RFC 7515 §5.2: the signature MUST validate",
}
SCENARIOS = with_rules(SCENARIOS, RULES)
