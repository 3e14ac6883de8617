"""Saleor-Signature: a JWS (RS256) over the raw request body, detached and unencoded (RFC 7797).

Saleor core signs with PyJWT's `api_jws.encode(body, key, algorithm="RS256", headers={"kid": ...},
is_payload_detached=True)`, which yields `<protected header>..<signature>` with `"b64": false` and
`"crit": ["b64"]` in the header: the signing input is the header segment, a dot and the body bytes as sent.
The public keys are published at `<Saleor origin>/.well-known/jwks.json`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jwt
from jwt import PyJWKSet, api_jws
from jwt.exceptions import InvalidTokenError, PyJWKError, PyJWKSetError

ALGORITHM = "RS256"
MAX_SIGNATURE_CHARS = 4096


class BadJwks(ValueError):
    """A key set that is not a JWKS with at least one RSA signing key."""


def check_jwks(document: Any) -> dict[str, Any]:
    """The document if it is a usable JWKS (raises BadJwks otherwise)."""
    try:
        keys = PyJWKSet.from_dict(document).keys
    except (PyJWKSetError, PyJWKError, TypeError, AttributeError, KeyError) as exc:
        raise BadJwks(f"not a usable JWKS: {exc}") from None
    if not any(key.algorithm_name == ALGORITHM or key.key_type == "RSA" for key in keys):
        raise BadJwks("the JWKS has no RSA key")
    return dict(document)


def well_formed(signature: str | None) -> bool:
    """A detached compact JWS whose header names RS256 (anything else is refused without fetching keys)."""
    if not signature or len(signature) > MAX_SIGNATURE_CHARS or signature.count(".") != 2:
        return False
    header_segment, payload_segment, signed = signature.split(".")
    if payload_segment or not header_segment or not signed:
        return False
    try:
        header = jwt.get_unverified_header(signature)
    except InvalidTokenError:
        return False
    return header.get("alg") == ALGORITHM


def verify(body: bytes, signature: str | None, jwks: Mapping[str, Any] | None) -> bool:
    """True if `signature` is Saleor's detached JWS of exactly `body` under one of the keys in `jwks`."""
    if jwks is None or not well_formed(signature):
        return False
    assert signature is not None
    header = jwt.get_unverified_header(signature)
    if header.get("b64") is not False:  # Saleor never base64-encodes the detached body
        return False
    try:
        keys = PyJWKSet.from_dict(dict(jwks)).keys
    except (PyJWKSetError, PyJWKError):
        return False
    kid = header.get("kid")
    candidates = [k for k in keys if kid is None or k.key_id == kid]
    for key in candidates:
        try:
            api_jws.decode(signature, key=key.key, algorithms=[ALGORITHM], detached_payload=body)
            return True
        except InvalidTokenError:
            continue
    return False
