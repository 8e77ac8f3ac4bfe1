"""Keys: RS256 signing keys of our own, JSON Web Keys (RFC 7517) and other issuers' key sets.

    signing.py  oauth-proxy's key files, rotation and pruning; ``KeyRing`` (the keys of a running server)
    jwk.py      public JWKs with RFC 7638 thumbprints; the RFC 8725 §3.1 filter of a remote JWK Set
    remote.py   ``RemoteJWKS``: the one cache of another issuer's published keys

The names below are the package's interface; import them from ``servers.common.jwks``.
"""
from __future__ import annotations

from .jwk import (ALG, ALG_FAMILIES, EC_CURVES, MIN_RSA_BITS, OKP_CURVES, PRIVATE_MEMBERS, VerificationKey,
                  b64url_bytes, b64url_uint, public_jwk, thumbprint, usable_keys, verification_key)
from .remote import RemoteJWKS
from .signing import (INDEX_FILE, KEY_BITS, KEY_PREFIX, KeyRing, KeySet, effective_signer, ensure_keys,
                      generate_private_key, index_path, load_keyset, load_private_key, next_activation,
                      private_pem, prune_keys, read_index, rotate_keys, write_index)

__all__ = ["ALG", "ALG_FAMILIES", "EC_CURVES", "INDEX_FILE", "KEY_BITS", "KEY_PREFIX", "MIN_RSA_BITS",
           "OKP_CURVES", "PRIVATE_MEMBERS", "KeyRing", "KeySet", "RemoteJWKS", "VerificationKey", "b64url_bytes",
           "b64url_uint", "effective_signer", "ensure_keys", "generate_private_key", "index_path", "load_keyset",
           "load_private_key", "next_activation", "private_pem", "prune_keys", "public_jwk", "read_index",
           "rotate_keys", "thumbprint", "usable_keys", "verification_key", "write_index"]
