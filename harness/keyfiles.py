"""Reading the HMAC secret of a target profile's ``secret_file`` in the layouts people keep it in."""
from __future__ import annotations

import json
from pathlib import Path


SECRET_NAMES = ("SECRET_KEY", "secret_key", "JWT_SECRET", "jwt_secret", "JWT_SECRET_KEY", "jwt_secret_key",
                "secret", "SECRET", "key", "hs256_secret")


def read_secret_file(path: Path) -> tuple[bytes, str | None]:
    """The HMAC key of a secret file, in one of the common layouts (the secret string's UTF-8 bytes are the
    key; a trailing newline is not part of it):

    - our keys/secrets.json: ``{"hs256": [{"kid", "secret", "retired"}...]}`` (first non-retired entry);
    - a JSON object with the secret under a usual name: ``{"SECRET_KEY": ...}`` (FastAPI tutorial, Django,
      Flask), ``{"secret": ...}``, ``{"JWT_SECRET": ...}``, ``{"key": ...}`` (see ``SECRET_NAMES``);
    - a file holding the raw secret (not JSON).

    Anything else (JSON without one of these, an empty file) raises ValueError with one line saying why."""
    text = path.read_text(encoding="utf-8")
    stripped = text.strip()
    try:
        data = json.loads(stripped) if stripped[:1] in ("{", "[", '"') else None
        is_json = data is not None
    except ValueError:
        data, is_json = None, False
    if isinstance(data, dict) and "hs256" in data:
        entries = data["hs256"]
        if not isinstance(entries, list):
            raise ValueError("'hs256' is not a list")
        for entry in entries:
            if isinstance(entry, dict) and entry.get("retired") is None and isinstance(entry.get("secret"), str):
                return entry["secret"].encode("utf-8"), entry.get("kid")
        raise ValueError("no current (non-retired) secret in 'hs256'")
    if isinstance(data, dict):
        for name in SECRET_NAMES:
            value = data.get(name)
            if isinstance(value, str) and value:
                return value.encode("utf-8"), None
        raise ValueError(f"a JSON object without a secret string under {', '.join(SECRET_NAMES[:7])} or hs256 "
                         f"(keys: {', '.join(sorted(map(str, data))[:6]) or 'none'})")
    if isinstance(data, str) and data:
        return data.encode("utf-8"), None
    if is_json:
        raise ValueError(f"JSON {type(data).__name__}, expected an object holding the secret")
    secret = text[:-1] if text.endswith("\n") else text
    secret = secret[:-1] if secret.endswith("\r") else secret
    if not secret:
        raise ValueError("the file is empty")
    return secret.encode("utf-8"), None
