"""Webhook signatures (C4): ``X-IOC-Signature: sha256=<hex>``, HMAC-SHA256 of the raw body
under the shared secret. A receiver verifies with :func:`verify` (constant-time)."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "X-IOC-Signature"
TIMESTAMP_HEADER = "X-IOC-Timestamp"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(sign(secret, body), header)
