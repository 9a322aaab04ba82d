"""Verifying that an Event Webhook request really comes from SendGrid: ECDSA over the raw body."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

from outreach.providers.webhook_errors import SignatureError, WebhookConfigurationError


def _load_sendgrid_key(public_key: str) -> ec.EllipticCurvePublicKey:
    text = public_key.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = load_pem_public_key(text.encode("ascii"))
        else:
            # The SendGrid console shows the key as base64 of the DER SubjectPublicKeyInfo.
            key = load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error) as err:
        raise WebhookConfigurationError("SendGrid verification key is not a public key") from err
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise WebhookConfigurationError("SendGrid verification key is not an EC P-256 key")
    return key


def verify_sendgrid(
    *,
    public_key: str,
    signature_b64: str | None,
    timestamp: str | None,
    raw_body: bytes,
    now: datetime,
    max_age_seconds: int = 300,
    max_skew_seconds: int = 60,
) -> None:
    """Check SendGrid's signed Event Webhook: ECDSA P-256/SHA-256 over ``timestamp + raw_body``.

    ``signature_b64`` and ``timestamp`` are the ``X-Twilio-Email-Event-Webhook-Signature`` and
    ``-Timestamp`` headers. A timestamp older than ``max_age_seconds`` or more than
    ``max_skew_seconds`` ahead of ``now`` is refused, so a captured request cannot be replayed
    later. Raises :class:`SignatureError`; returns None when the request is authentic.
    """
    if not isinstance(raw_body, bytes | bytearray | memoryview):
        # Re-serialised JSON never matches the signed bytes; refuse to even try.
        raise TypeError("raw_body must be the request's raw bytes")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    key = _load_sendgrid_key(public_key)
    if not signature_b64 or not timestamp:
        raise SignatureError("missing signature")
    ts_text = timestamp.strip()
    if not ts_text.isdigit() or len(ts_text) > 12:
        raise SignatureError("malformed timestamp")
    try:
        signature = base64.b64decode(signature_b64.strip(), validate=True)
    except (binascii.Error, ValueError) as err:
        raise SignatureError("bad signature") from err
    try:
        key.verify(signature, ts_text.encode("ascii") + bytes(raw_body), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as err:
        raise SignatureError("bad signature") from err
    signed_at = datetime.fromtimestamp(int(ts_text), UTC)
    age = (now - signed_at).total_seconds()
    if age > max_age_seconds:
        raise SignatureError("stale timestamp")
    if -age > max_skew_seconds:
        raise SignatureError("timestamp in the future")
