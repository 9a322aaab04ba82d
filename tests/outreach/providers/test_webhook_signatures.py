"""Signed webhooks: authentic SendGrid and Twilio requests pass, forged or replayed ones do not."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from twilio.request_validator import RequestValidator

from outreach.providers.sendgrid.signature import verify_sendgrid
from outreach.providers.twilio.signature import verify_twilio
from outreach.providers.webhook_errors import (
    SignatureError,
    WebhookConfigurationError,
    WebhookRejected,
)

NOW = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
BODY = (
    b'[{"email":"ann@example.com","timestamp":1767344400,"event":"delivered",'
    b'"sg_event_id":"ZGVsaXZlcmVk","outreach_id":"1"}]\r\n'
)


def make_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 key pair; the public half base64 DER, as the SendGrid console shows it."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(der).decode()


def sign(private: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    """What SendGrid sends in X-Twilio-Email-Event-Webhook-Signature."""
    signature = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode()


@pytest.fixture(scope="module")
def key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    return make_key()


def ts(at: datetime) -> str:
    return str(int(at.timestamp()))


def test_authentic_sendgrid_request_is_accepted(key: tuple) -> None:
    private, public = key
    stamp = ts(NOW - timedelta(seconds=30))
    verify_sendgrid(
        public_key=public,
        signature_b64=sign(private, stamp, BODY),
        timestamp=stamp,
        raw_body=BODY,
        now=NOW,
    )


def test_pem_public_key_is_accepted_too(key: tuple) -> None:
    private, _ = key
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    stamp = ts(NOW)
    verify_sendgrid(
        public_key=pem,
        signature_b64=sign(private, stamp, BODY),
        timestamp=stamp,
        raw_body=BODY,
        now=NOW,
    )


def test_tampered_body_is_refused(key: tuple) -> None:
    private, public = key
    stamp = ts(NOW)
    signature = sign(private, stamp, BODY)
    with pytest.raises(SignatureError, match="bad signature"):
        verify_sendgrid(
            public_key=public,
            signature_b64=signature,
            timestamp=stamp,
            raw_body=BODY.replace(b"delivered", b"bounce"),
            now=NOW,
        )


def test_reserialised_json_is_refused(key: tuple) -> None:
    import json

    private, public = key
    stamp = ts(NOW)
    signature = sign(private, stamp, BODY)
    reserialised = json.dumps(json.loads(BODY)).encode()
    with pytest.raises(SignatureError, match="bad signature"):
        verify_sendgrid(
            public_key=public,
            signature_b64=signature,
            timestamp=stamp,
            raw_body=reserialised,
            now=NOW,
        )
    with pytest.raises(TypeError, match="raw bytes"):
        verify_sendgrid(
            public_key=public,
            signature_b64=signature,
            timestamp=stamp,
            raw_body=json.loads(BODY),
            now=NOW,  # type: ignore[arg-type]
        )


def test_signature_by_another_key_is_refused(key: tuple) -> None:
    _, public = key
    other, _ = make_key()
    stamp = ts(NOW)
    with pytest.raises(SignatureError, match="bad signature"):
        verify_sendgrid(
            public_key=public,
            signature_b64=sign(other, stamp, BODY),
            timestamp=stamp,
            raw_body=BODY,
            now=NOW,
        )


def test_signature_over_another_timestamp_is_refused(key: tuple) -> None:
    private, public = key
    signature = sign(private, ts(NOW - timedelta(hours=2)), BODY)
    with pytest.raises(SignatureError, match="bad signature"):
        verify_sendgrid(
            public_key=public, signature_b64=signature, timestamp=ts(NOW), raw_body=BODY, now=NOW
        )


@pytest.mark.parametrize(
    ("signature", "timestamp"), [(None, "1767344400"), ("c2ln", None), ("", ""), (None, None)]
)
def test_missing_headers_are_refused(
    key: tuple, signature: str | None, timestamp: str | None
) -> None:
    _, public = key
    with pytest.raises(SignatureError, match="missing signature"):
        verify_sendgrid(
            public_key=public, signature_b64=signature, timestamp=timestamp, raw_body=BODY, now=NOW
        )


@pytest.mark.parametrize("timestamp", ["yesterday", "1767344400.5", "-5", "9" * 20])
def test_malformed_timestamp_is_refused(key: tuple, timestamp: str) -> None:
    private, public = key
    with pytest.raises(SignatureError, match="malformed timestamp"):
        verify_sendgrid(
            public_key=public,
            signature_b64=sign(private, timestamp, BODY),
            timestamp=timestamp,
            raw_body=BODY,
            now=NOW,
        )


def test_garbage_signature_is_refused(key: tuple) -> None:
    _, public = key
    for garbage in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(SignatureError, match="bad signature"):
            verify_sendgrid(
                public_key=public, signature_b64=garbage, timestamp=ts(NOW), raw_body=BODY, now=NOW
            )


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(timedelta(seconds=301), "stale timestamp"), (timedelta(seconds=-61), "in the future")],
)
def test_stale_and_future_timestamps_are_refused(
    key: tuple, offset: timedelta, reason: str
) -> None:
    private, public = key
    stamp = ts(NOW - offset)
    with pytest.raises(SignatureError, match=reason):
        verify_sendgrid(
            public_key=public,
            signature_b64=sign(private, stamp, BODY),
            timestamp=stamp,
            raw_body=BODY,
            now=NOW,
        )
    # Within bounds the same signature is fine.
    verify_sendgrid(
        public_key=public,
        signature_b64=sign(private, stamp, BODY),
        timestamp=stamp,
        raw_body=BODY,
        now=NOW - offset,
    )


def test_unusable_sendgrid_key_is_a_configuration_error(key: tuple) -> None:
    private, _ = key
    rsa_like = base64.b64encode(b"not a key").decode()
    stamp = ts(NOW)
    for bad in (rsa_like, "%%%", ""):
        with pytest.raises(WebhookConfigurationError):
            verify_sendgrid(
                public_key=bad,
                signature_b64=sign(private, stamp, BODY),
                timestamp=stamp,
                raw_body=BODY,
                now=NOW,
            )
    p384 = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(WebhookConfigurationError, match="P-256"):
        verify_sendgrid(
            public_key=base64.b64encode(p384).decode(),
            signature_b64="c2ln",
            timestamp=stamp,
            raw_body=BODY,
            now=NOW,
        )


TOKEN = "12345678901234567890123456789012"
URL = "https://enrich.example.org/webhooks/twilio/status?oid=42"
PARAMS = {
    "MessageSid": "SM3f1c2b0a9e8d7c6b5a4f3e2d1c0b9a8f",
    "MessageStatus": "delivered",
    "To": "+31612345678",
    "From": "+15005550006",
    "AccountSid": "AC00000000000000000000000000000000",
}


def twilio_signature(url: str, params: dict[str, str], token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def test_authentic_twilio_request_is_accepted() -> None:
    verify_twilio(auth_token=TOKEN, url=URL, params=PARAMS, signature=twilio_signature(URL, PARAMS))


@pytest.mark.parametrize(
    ("url", "params", "token"),
    [
        (URL, {**PARAMS, "MessageStatus": "failed"}, TOKEN),  # a form field changed
        (URL.replace("oid=42", "oid=43"), PARAMS, TOKEN),  # our outreach id changed
        (URL, PARAMS, "another-token-another-token-0000"),  # signed by someone else
    ],
)
def test_forged_twilio_request_is_refused(url: str, params: dict[str, str], token: str) -> None:
    signature = twilio_signature(URL, PARAMS, token)
    with pytest.raises(SignatureError, match="bad signature"):
        verify_twilio(auth_token=TOKEN, url=url, params=params, signature=signature)


@pytest.mark.parametrize("signature", [None, ""])
def test_missing_twilio_signature_is_refused(signature: str | None) -> None:
    with pytest.raises(WebhookRejected, match="missing signature"):
        verify_twilio(auth_token=TOKEN, url=URL, params=PARAMS, signature=signature)


def test_empty_twilio_token_is_a_configuration_error() -> None:
    with pytest.raises(WebhookConfigurationError):
        verify_twilio(auth_token="", url=URL, params=PARAMS, signature="x")
