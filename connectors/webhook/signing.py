"""How a webhook batch is signed and keyed; shared by the connector and the sandbox receiver.

The signature covers the timestamp and the raw body, ``HMAC-SHA256(secret, f"{timestamp}.{body}")``, sent as
``X-Syncer-Signature: sha256=<hex>`` with ``X-Syncer-Timestamp: <epoch seconds>``. Signing the timestamp lets a
receiver refuse a captured request replayed later (Slack and Stripe sign their webhooks the same way).

The idempotency key is the SHA-256 of the body alone: the same batch sent again (a retry after a timeout, a re-run
after a crash between send and commit) carries the same key, whatever its timestamp.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Syncer-Signature"
TIMESTAMP_HEADER = "X-Syncer-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_SCHEME = "sha256="
DEFAULT_TOLERANCE_S = 300  # how old a timestamp a receiver should accept (Slack and Stripe use five minutes)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Syncer-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_SCHEME + mac.hexdigest()


def signature_valid(secret: str, timestamp: str, body: bytes, claimed: str) -> bool:
    """Whether ``claimed`` is the signature of ``body`` at ``timestamp``, compared in constant time."""
    return hmac.compare_digest(signature(secret, timestamp, body), claimed)


def timestamp_fresh(timestamp: str, now: float, tolerance_s: float = DEFAULT_TOLERANCE_S) -> bool:
    """Whether ``timestamp`` (epoch seconds as text) is within ``tolerance_s`` of ``now``, either side."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    return abs(now - sent) <= tolerance_s


def idempotency_key(body: bytes, scope: str = "") -> str:
    """A key for a batch: the hex SHA-256 of ``scope`` and its canonical JSON body.

    The destination passes a scope of its own (one per run), so retries within a run repeat the key and a receiver
    recognises them, while a later run's re-send of the same batch is new to it: a receiver that replays its
    first reply to a key (as Stripe does, refusals included) would otherwise refuse a fixed batch forever.
    """
    return hashlib.sha256(scope.encode() + b"\n" + body if scope else body).hexdigest()
