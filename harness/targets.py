"""Target profiles (TOML): what a target is, how the harness gets valid tokens for it, where it lives.

The field names are a public contract (see docs/harness.md)::

    name = "backend4"
    kind = "resource-server"                 # or "authorization-server"
    base_url = "http://127.0.0.1:9000"
    [resource]  endpoint, scoped_endpoint, scoped_scope, issuer, audience, algorithm, typ, rfc9068, subject,
                scope, lifetime, leeway, claims, private_key_file | secret_file | secret_env | hosted_issuer, jwks_url,
                token_endpoint, username, password, client_id

``issuer`` and ``audience`` are optional: minted tokens then carry no ``iss`` / ``aud`` (a FastAPI-tutorial
style API verifies neither, and PyJWT refuses a token with an ``aud`` it was not told to expect). An issuer is
a StringOrURI (RFC 7519 §4.1.1), not only a URL. ``rfc9068 = true`` declares an RFC 9068 resource server: the
RS-side duties of RFC 9068 §4 (typ, iss, aud, exp, signature, the invalid_token error code) are then checked
as the MUSTs they are. ``secret_file`` reads the common layouts (see ``read_secret_file``).
    [authorization_server]  issuer, client_id, redirect_uri, scope, username, password, username_field,
                password_field, confidential_client_id, confidential_client_secret(_env)

Secrets are resolved when the profile is loaded (files read, environment variables looked up), so a
mistake is reported at once as one line naming the field (``ProfileError``; the CLI exits 2). Relative
file paths are resolved against the current directory, like the servers' ``--keys-dir``.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import forge
from .keyfiles import SECRET_NAMES, read_secret_file  # noqa: F401 - part of this module's API

KINDS = ("resource-server", "authorization-server")
JWT_ALGORITHMS = ("HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                  "ES256", "ES384")
ALGORITHMS = JWT_ALGORITHMS + ("opaque",)


class ProfileError(Exception):
    """A profile field is missing, of the wrong type or contradicts another: one line naming the field."""

    exit_code = 2  # a usage/configuration problem: the CLI prints it as one line and exits 2


@dataclass(frozen=True)
class ResourceProfile:
    endpoint: str
    algorithm: str
    scoped_endpoint: str | None = None
    scoped_scope: str | None = None
    issuer: str | None = None
    audience: str | None = None
    typ: str | None = None
    rfc9068: bool = False
    subject: str | None = None
    scope: str = ""
    lifetime: int = 300
    leeway: int = 300
    claims: dict = field(default_factory=dict)
    private_key_file: str | None = None
    secret_file: str | None = None
    secret_env: str | None = None
    hosted_issuer: str | None = None
    jwks_url: str | None = None
    token_endpoint: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    client_id: str | None = None
    # Resolved at load time (not TOML fields): the key valid tokens are signed with, and its kid.
    signing_key: Any = field(default=None, repr=False, compare=False)
    signing_kid: str | None = None

    @property
    def opaque(self) -> bool:
        return self.algorithm == "opaque"

    @property
    def hmac(self) -> bool:
        return self.algorithm.startswith("HS")

    @property
    def required_typ(self) -> str | None:
        """The typ the target requires: the profile's, or at+jwt for an RFC 9068 resource server (RFC 9068 §4)."""
        return self.typ or ("at+jwt" if self.rfc9068 else None)


@dataclass(frozen=True)
class ASProfile:
    issuer: str
    client_id: str
    redirect_uri: str
    username: str
    password: str = field(repr=False)
    scope: str = ""
    username_field: str = "username"
    password_field: str = "password"
    confidential_client_id: str | None = None
    confidential_client_secret: str | None = field(default=None, repr=False)  # resolved from _env too
    confidential_client_secret_env: str | None = None


@dataclass(frozen=True)
class Target:
    name: str
    kind: str
    base_url: str
    resource: ResourceProfile | None = None
    authorization_server: ASProfile | None = None
    source: Path | None = None

    def url(self, path_or_url: str) -> str:
        """An absolute URL for a profile path ("/users/me") or an absolute URL as given."""
        if "://" in path_or_url:
            return path_or_url
        return self.base_url.rstrip("/") + "/" + path_or_url.lstrip("/")

    def secrets(self) -> list[str]:
        """Every secret of this profile, so reports can redact them wherever they appear."""
        out: list[str] = []
        r, a = self.resource, self.authorization_server
        if r is not None:
            if r.password:
                out.append(r.password)
            if isinstance(r.signing_key, (bytes, bytearray)):
                out.append(bytes(r.signing_key).decode("utf-8", "replace"))
        if a is not None:
            out += [s for s in (a.password, a.confidential_client_secret) if s]
        return [s for s in out if len(s) >= 4]


# -- loading ---------------------------------------------------------------------------------------
def _where(source: Path | None) -> str:
    return f"{source}: " if source else ""


class _Fields:
    """Typed access to one TOML table, every error naming ``section.field``."""

    def __init__(self, data: dict, section: str, source: Path | None) -> None:
        self.data, self.section, self.source = data, section, source
        self.used: set[str] = set()

    def fail(self, name: str, message: str) -> ProfileError:
        prefix = f"{self.section}.{name}" if self.section else name
        return ProfileError(f"{_where(self.source)}{prefix}: {message}")

    def get(self, name: str, kind: type | tuple = str, required: bool = False, default: Any = None) -> Any:
        self.used.add(name)
        if name not in self.data:
            if required:
                raise self.fail(name, "missing (required)")
            return default
        value = self.data[name]
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(name, f"must be of type {_toml_type(expected)}, got {value!r}")
        if isinstance(value, str) and required and not value.strip():
            raise self.fail(name, "must not be empty")
        return value

    def reject_unknown(self) -> None:
        for name in self.data:
            if name not in self.used:
                raise self.fail(name, "unknown field (check the spelling; see docs/harness.md)")


def _toml_type(name: str) -> str:
    return {"str": "string", "int": "integer", "dict": "table", "list": "array", "bool": "boolean"}.get(name, name)


def _check_url(f: _Fields, name: str, value: str | None) -> None:
    if value is None:
        return
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise f.fail(name, f"must be an absolute http(s) URL, got {value!r}")


def _check_string_or_uri(f: _Fields, name: str, value: str | None) -> None:
    """RFC 7519 §2 StringOrURI: any string, but one containing a ':' MUST be a URI."""
    if value is None:
        return
    if not value.strip():
        raise f.fail(name, "must not be empty")
    if ":" in value:
        scheme = value.split(":", 1)[0]
        if not scheme or not (scheme[0].isalpha() and all(c.isalnum() or c in "+-." for c in scheme)):
            raise f.fail(name, f"must be a StringOrURI (RFC 7519 §2: a value containing ':' is a URI), got {value!r}")


def _check_path(f: _Fields, name: str, value: str | None) -> None:
    if value is not None and not value.startswith("/") and "://" not in value:
        raise f.fail(name, f"must be a path starting with '/' or an absolute URL, got {value!r}")


def require_one_key_source(f, given: list[str], allowed: tuple[str, ...], algorithm: str, hint: str = "") -> None:
    """Exactly one of ``allowed`` must be set for this algorithm; name the field that is wrong or missing."""
    if len(given) == 1 and given[0] in allowed:
        return
    choices = ", ".join(allowed)
    bad = next((n for n in given if n not in allowed), given[1] if len(given) > 1 else None)
    if bad:
        raise f.fail(bad, f"contradicts algorithm = {algorithm!r}: use exactly one of {choices}")
    raise f.fail(allowed[0], f"missing: algorithm = {algorithm!r} needs exactly one of {choices}{hint}")


def _resource(data: dict, source: Path | None) -> ResourceProfile:
    f = _Fields(data, "resource", source)
    algorithm = f.get("algorithm", required=True)
    if algorithm not in ALGORITHMS:
        raise f.fail("algorithm", f"must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    opaque = algorithm == "opaque"
    values: dict[str, Any] = {"algorithm": algorithm}
    values["endpoint"] = f.get("endpoint", required=True)
    _check_path(f, "endpoint", values["endpoint"])
    for name in ("scoped_endpoint", "scoped_scope", "typ", "private_key_file", "secret_file", "secret_env",
                 "hosted_issuer", "jwks_url", "token_endpoint", "username", "password", "client_id"):
        values[name] = f.get(name)
    values["scope"] = f.get("scope", default="")
    values["lifetime"] = f.get("lifetime", int, default=300)
    values["leeway"] = f.get("leeway", int, default=300)
    if not 0 <= values["leeway"] <= 3600:
        raise f.fail("leeway", "must be between 0 and 3600 seconds (the clock skew the target allows)")
    values["claims"] = dict(f.get("claims", dict, default={}))
    values["rfc9068"] = f.get("rfc9068", bool, default=False)
    values["issuer"] = f.get("issuer")
    values["audience"] = f.get("audience")
    values["subject"] = f.get("subject", required=not opaque)
    if values["lifetime"] <= 0:
        raise f.fail("lifetime", "must be a positive number of seconds")
    _check_string_or_uri(f, "issuer", values["issuer"])
    _check_string_or_uri(f, "audience", values["audience"])
    _check_url(f, "jwks_url", values["jwks_url"])
    if values["rfc9068"] and not opaque and not values["hosted_issuer"]:
        for name in ("issuer", "audience"):
            if not values[name]:
                raise f.fail(name, "missing: rfc9068 = true needs it (RFC 9068 §2.2: every token carries iss and aud)")
    _check_path(f, "scoped_endpoint", values["scoped_endpoint"])
    _check_path(f, "token_endpoint", values["token_endpoint"])
    if bool(values["scoped_endpoint"]) != bool(values["scoped_scope"]):
        missing = "scoped_scope" if values["scoped_endpoint"] else "scoped_endpoint"
        raise f.fail(missing, "scoped_endpoint and scoped_scope go together: set both or neither")
    if values["scoped_scope"] and not set(values["scoped_scope"].split()) <= set(values["scope"].split()):
        raise f.fail("scope", f"must include scoped_scope {values['scoped_scope']!r} (a valid token has it)")
    minting = [n for n in ("private_key_file", "secret_file", "secret_env", "hosted_issuer") if values[n]]
    if opaque:
        if minting:
            raise f.fail(minting[0], "contradicts algorithm = \"opaque\" (the harness cannot mint opaque tokens)")
        for name in ("token_endpoint", "username", "password"):
            if not values[name]:
                raise f.fail(name, "missing: algorithm = \"opaque\" obtains tokens with the password grant")
    elif values["token_endpoint"] and not (values["username"] and values["password"]):
        raise f.fail("username" if not values["username"] else "password", "token_endpoint needs username "
                     "and password")
    key, kid = None, None
    if algorithm.startswith("HS"):
        require_one_key_source(f, minting, ("secret_file", "secret_env"), algorithm,
                               ' (or use algorithm = "opaque" with token_endpoint)')
        if values["secret_file"]:
            path = Path(values["secret_file"]).expanduser()
            try:
                key, kid = read_secret_file(path)
            except FileNotFoundError:
                raise f.fail("secret_file", f"{path} does not exist") from None
            except (OSError, ValueError, UnicodeDecodeError) as exc:
                raise f.fail("secret_file", f"{path} is not readable as a secret ({exc})") from None
        else:
            raw = os.environ.get(values["secret_env"])
            if not raw:
                raise f.fail("secret_env", f"the environment variable {values['secret_env']} is not set")
            key = raw.encode("utf-8")
    elif not opaque:
        require_one_key_source(f, minting, ("private_key_file", "hosted_issuer"), algorithm)
        if values["private_key_file"]:
            path = Path(values["private_key_file"]).expanduser()
            try:
                key = forge.load_private_key(path.read_bytes())
            except FileNotFoundError:
                raise f.fail("private_key_file", f"{path} does not exist") from None
            except (OSError, ValueError, TypeError) as exc:
                raise f.fail("private_key_file", f"{path} is not an unencrypted PEM private key ({exc})") from None
            if forge.alg_for_key(key)[:2] != algorithm[:2].replace("PS", "RS"):
                raise f.fail("private_key_file", f"{path} holds a key that cannot sign {algorithm}")
        else:
            host, _, port = values["hosted_issuer"].rpartition(":")
            if not host or not port.isdigit():
                raise f.fail("hosted_issuer", f"must be HOST:PORT, got {values['hosted_issuer']!r}")
            if not values["issuer"]:
                values["issuer"] = f"http://{values['hosted_issuer']}"
            key = forge.harness_rsa_key(7) if algorithm[:2] in ("RS", "PS") else forge.harness_ec_key(7)
            kid = forge.jwk_thumbprint(forge.public_jwk(key))
    f.reject_unknown()
    return ResourceProfile(**values, signing_key=key, signing_kid=kid)


def _authorization_server(data: dict, source: Path | None) -> ASProfile:
    f = _Fields(data, "authorization_server", source)
    values: dict[str, Any] = {}
    for name in ("issuer", "client_id", "redirect_uri", "username", "password"):
        values[name] = f.get(name, required=True)
    _check_url(f, "issuer", values["issuer"])
    for name in ("scope",):
        values[name] = f.get(name, default="")
    values["username_field"] = f.get("username_field", default="username")
    values["password_field"] = f.get("password_field", default="password")
    cid = f.get("confidential_client_id")
    secret = f.get("confidential_client_secret")
    env = f.get("confidential_client_secret_env")
    if secret and env:
        raise f.fail("confidential_client_secret_env", "contradicts confidential_client_secret: set only one")
    if env:
        secret = os.environ.get(env)
        if not secret:
            raise f.fail("confidential_client_secret_env", f"the environment variable {env} is not set")
    if cid and not secret:
        raise f.fail("confidential_client_secret", "missing: confidential_client_id needs a secret "
                                                   "(confidential_client_secret or _env)")
    if secret and not cid:
        raise f.fail("confidential_client_id", "missing: a client secret was given without its client id")
    values.update(confidential_client_id=cid, confidential_client_secret=secret,
                  confidential_client_secret_env=env)
    f.reject_unknown()
    return ASProfile(**values)


def merge(base: dict, overrides: dict) -> dict:
    """``overrides`` applied on ``base`` (nested tables merged), for filling in profile templates."""
    out = dict(base)
    for k, v in overrides.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) and k != "claims" else v
    return out


def profile_from_dict(data: dict, source: Path | None = None) -> Target:
    f = _Fields(data, "", source)
    name = f.get("name", required=True)
    kind = f.get("kind", required=True)
    if kind not in KINDS:
        raise f.fail("kind", f"must be \"resource-server\" or \"authorization-server\", got {kind!r}")
    base_url = f.get("base_url", required=not (kind == "authorization-server"))
    res = f.get("resource", dict)
    asd = f.get("authorization_server", dict)
    f.reject_unknown()
    if kind == "resource-server" and res is None:
        raise ProfileError(f"{_where(source)}resource: missing: kind = \"resource-server\" needs a [resource] "
                           "table")
    if kind == "authorization-server" and asd is None:
        raise ProfileError(f"{_where(source)}authorization_server: missing: kind = \"authorization-server\" "
                           "needs an [authorization_server] table")
    resource = _resource(res, source) if res is not None else None
    auth = _authorization_server(asd, source) if asd is not None else None
    if base_url is None:
        base_url = auth.issuer if auth else ""
    _check_url(f, "base_url", base_url)
    return Target(name=name, kind=kind, base_url=base_url.rstrip("/"), resource=resource,
                  authorization_server=auth, source=source)


def read_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ProfileError(f"{path}: no such profile file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def load_profile(path: str | Path, overrides: dict | None = None) -> Target:
    """Load (and, for templates, fill in) one profile. Raises ProfileError naming the bad field."""
    path = Path(path)
    data = read_toml(path)
    if overrides:
        data = merge(data, overrides)
    return profile_from_dict(data, path)


FIELDS = {"resource": [f.name for f in fields(ResourceProfile) if f.name not in ("signing_key", "signing_kid")],
          "authorization_server": [f.name for f in fields(ASProfile)]}
