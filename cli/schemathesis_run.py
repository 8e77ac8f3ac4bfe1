"""schemathesis against a running API's ``/openapi.json``: the checks, the bounded run and its report.

It checks that:

- no request gets a server error (5xx);
- every response matches the document: status code, content type, ``Allow`` and other headers, body schema;
- every route that declares a security requirement refuses a request without (or with a bogus) credential
  (schemathesis's ``ignored_auth`` for http/apiKey schemes, ``bearer_auth_enforced`` below for OAuth2);
- malformed input is rejected with a 4xx.

Every schemathesis check runs but one, ``positive_data_acceptance``: a schema-valid password-grant request with
a random username is, rightly, ``400 invalid_grant``; "valid per schema" does not mean "valid credentials".
The run is bounded (``examples`` per operation) and reproducible (``seed``); evidence never shows a whole
token or secret.
"""
from __future__ import annotations

import os
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance", "allow_header_conformance",
          "negative_data_rejection", "ignored_auth", "missing_required_header", "unsupported_method",
          "use_after_free", "ensure_resource_availability", "object_level_authorization",
          "bearer_auth_enforced")

DEFAULT_EXAMPLES = 25
DEFAULT_SEED = 5


@dataclass
class Finding:
    operation: str
    check: str
    title: str
    message: str
    request: str = ""
    status: int | None = None

    def line(self) -> str:
        where = f" [{self.status}]" if self.status is not None else ""
        first = (self.message.strip().splitlines() or [""])[0][:200]
        return f"{self.operation}: {self.title} ({self.check}){where}" + (f": {first}" if first else "")


@dataclass
class FuzzReport:
    api: str
    base_url: str
    operations: int = 0
    cases: int = 0
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    statuses: dict[str, set[int]] = field(default_factory=dict)  # operation label -> statuses seen

    @property
    def clean(self) -> bool:
        return not self.findings and not self.errors

    def summary(self) -> str:
        lines = [f"schemathesis on {self.api} ({self.base_url}): {self.operations} operations, "
                 f"{self.cases} test cases, {len(self.findings)} findings, {len(self.errors)} errors"]
        seen = set()
        for f in self.findings:
            if f.line() not in seen:
                seen.add(f.line())
                lines.append("  FINDING " + f.line())
                if f.request:
                    lines.append("          " + f.request[:300])
        lines += ["  ERROR " + e for e in self.errors]
        return "\n".join(lines)


_REGISTERED = False


def _operation_requires_auth(case) -> bool:
    """Whether the document says this operation needs credentials (a non-empty security requirement
    with no empty alternative ``{}``), from the operation or, failing that, the document's top level."""
    raw = getattr(getattr(case.operation, "definition", None), "raw", None) or {}
    security = raw.get("security")
    if security is None:
        security = case.operation.schema.raw_schema.get("security") or []
    return bool(security) and all(req for req in security)


def _requires_bearer(case) -> bool:
    """Whether every way to call this operation needs an OAuth2 (bearer) credential: mandatory security in
    which each alternative names an ``oauth2`` or ``openIdConnect`` scheme. Operations secured by an
    ``http``/``apiKey`` scheme (oauth-proxy's ``client_secret_basic``) are left to schemathesis's
    ``ignored_auth``."""
    if not _operation_requires_auth(case):
        return False
    raw = getattr(getattr(case.operation, "definition", None), "raw", None) or {}
    document = case.operation.schema.raw_schema
    security = raw.get("security")
    if security is None:
        security = document.get("security") or []
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    bearer = {"oauth2", "openIdConnect"}
    return all(any((schemes.get(name) or {}).get("type") in bearer for name in req) for req in security)


def protected_operations(document: dict) -> list[str]:
    """Labels ("GET /users/me") of the operations whose security requirement is non-empty and mandatory."""
    top = document.get("security") or []
    out = []
    for path, item in (document.get("paths") or {}).items():
        for method, op in item.items():
            if method.lower() not in ("get", "put", "post", "delete", "patch", "head", "options", "trace"):
                continue
            security = op.get("security", top) if isinstance(op, dict) else top
            if security and all(security):
                out.append(f"{method.upper()} {path}")
    return out


def register_checks() -> None:
    """Register ``bearer_auth_enforced`` with schemathesis (once per process).

    schemathesis's own ``ignored_auth`` understands apiKey and http schemes only, not ``oauth2``, so it
    never probes our routes. This check does, for every operation whose document declares security and
    that answered 2xx with our token: the same request without credentials must be ``401`` with a
    ``WWW-Authenticate: Bearer`` challenge (RFC 6750 §3.1), and with a bogus token ``401`` with
    ``error="invalid_token"``."""
    global _REGISTERED
    if _REGISTERED:
        return
    import requests
    import schemathesis

    @schemathesis.check
    def bearer_auth_enforced(ctx, response, case):
        if not (200 <= response.status_code < 300) or not _requires_bearer(case):
            return None
        sent = response.request
        with requests.Session() as session:
            probes = (("without a token", None, None),
                      ("with a bogus token", "Bearer bogus-token-0000", "invalid_token"))
            for label, auth, expect_error in probes:
                probe = sent.copy()
                probe.headers.pop("Authorization", None)
                if auth:
                    probe.headers["Authorization"] = auth
                got = session.send(probe, timeout=10, allow_redirects=False)
                challenge = got.headers.get("WWW-Authenticate", "")
                if got.status_code != 401 or not challenge.lower().startswith("bearer"):
                    raise AssertionError(f"{case.operation.label} declares security but answered "
                                         f"{got.status_code} {label} (WWW-Authenticate: {challenge!r}); "
                                         f"RFC 6750 §3.1 wants 401 with a Bearer challenge")
                if expect_error and f'error="{expect_error}"' not in challenge:
                    raise AssertionError(f"{case.operation.label} {label}: challenge {challenge!r} lacks "
                                         f'error="{expect_error}" (RFC 6750 §3.1)')
        return True

    _REGISTERED = True


def _redact(text: str, *hidden: str | None) -> str:
    """Never print a token or secret: evidence keeps its first 6 characters only."""
    for value in hidden:
        if value:
            text = text.replace(value, value[:6] + "...")
    return text


def basic_authorization(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1 client_secret_basic: id and secret form-urlencoded, then Basic (RFC 7617)."""
    import base64
    pair = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def fuzz_url(base_url: str, *, api: str = "", token: str | None = None, examples: int = DEFAULT_EXAMPLES,
             seed: int = DEFAULT_SEED, workdir: Path | None = None,
             require_accepted: bool = True, basic: tuple[str, str] | None = None) -> FuzzReport:
    """Run schemathesis against ``base_url``/openapi.json; return what it found (never raises on findings).

    ``require_accepted``: every protected operation must accept ``token`` at least once (else the
    missing-auth check could not run and the run is not clean). Off for runs with a deliberately narrow
    token, which exercise the documented 403 answers instead.

    ``basic``: (client_id, secret) sent as ``client_secret_basic`` instead of a bearer token, for a server
    whose protected routes take client authentication (oauth-proxy); the secret is never printed."""
    import schemathesis
    from schemathesis.config import SchemathesisConfig
    from schemathesis.engine import Status, from_schema
    from schemathesis.engine import events as ev

    register_checks()
    cfg: dict = {
        "seed": seed,
        "color": False,
        "base-url": base_url,
        "workers": 1,
        "request-timeout": 10,
        "cache": {"enabled": False},
        "generation": {"max-examples": examples, "deterministic": True, "database": "none"},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "phases": {"stateful": {"enabled": False}},
        "suppress-health-check": ["all"],
    }
    if token and basic:
        raise ValueError("pass a bearer token or client credentials, not both")
    authorization = basic_authorization(*basic) if basic else f"Bearer {token}" if token else None
    if authorization:
        cfg["headers"] = {"Authorization": authorization}
    # what evidence must never show: the token, or the secret and its Basic encoding
    hidden = (token,) if token else (basic[1], authorization.split(" ", 1)[1]) if basic else ()
    config = SchemathesisConfig.from_dict(cfg)
    report = FuzzReport(api=api or base_url, base_url=base_url)
    cwd = os.getcwd()
    # schemathesis and hypothesis may write caches into the working directory: keep them out of the repo.
    with tempfile.TemporaryDirectory(prefix="oauthlab-fuzz-") as scratch:
        os.chdir(workdir or scratch)
        try:
            schema = schemathesis.openapi.from_url(base_url + "/openapi.json", config=config, timeout=10)
            for event in from_schema(schema).execute():
                if isinstance(event, ev.ScenarioFinished):
                    report.cases += len(event.recorder.cases)
                    seen = report.statuses.setdefault(event.recorder.label, set())
                    seen.update(i.response.status_code for i in event.recorder.interactions.values()
                                if i.response is not None)
                    _collect(report, event.recorder, hidden, Status)
                elif isinstance(event, ev.NonFatalError):
                    report.errors.append(_redact(f"{event.label}: {event.info.title}: {event.info.message}",
                                                 *hidden))
                elif isinstance(event, ev.FatalError):
                    report.errors.append(_redact(f"fatal: {event.exception!r}", *hidden))
                elif isinstance(event, ev.EngineFinished):
                    for failure in event.failures:
                        report.findings.append(Finding(failure.operation or "-", "after_run", failure.title,
                                                       _redact(failure.message, *hidden)))
            report.operations = sum(1 for r in schema.get_all_operations() if r.ok() is not None)
            if authorization and require_accepted:
                for label in protected_operations(schema.raw_schema):
                    seen = sorted(report.statuses.get(label, ()))
                    if not any(200 <= st < 300 for st in seen):
                        what = "our token was" if token else "our client credentials were"
                        report.errors.append(f"{label}: {what} never accepted, so missing-auth "
                                             f"could not be checked (statuses {seen})")
        finally:
            os.chdir(cwd)
    return report


def _collect(report: FuzzReport, recorder, hidden: tuple, Status) -> None:
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.status != Status.FAILURE or check.failure_info is None:
                continue
            failure = check.failure_info.failure
            interaction = recorder.interactions.get(case_id)
            status = interaction.response.status_code if interaction and interaction.response else None
            request = ""
            if interaction is not None:
                request = f"{interaction.request.method} {interaction.request.uri}"
                body = interaction.request.body
                if body:
                    request += " body=" + body[:120].decode("utf-8", "replace")
            report.findings.append(Finding(recorder.label, check.name, failure.title,
                                           _redact(failure.message, *hidden), _redact(request, *hidden),
                                           status))
