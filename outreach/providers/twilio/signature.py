"""Verifying that a callback really comes from Twilio: its signature over the URL and form."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator

from outreach.providers.webhook_errors import SignatureError, WebhookConfigurationError


def verify_twilio(
    *, auth_token: str, url: str, params: Mapping[str, str], signature: str | None
) -> None:
    """Check ``X-Twilio-Signature`` (HMAC-SHA1 of the full URL and sorted form fields).

    ``url`` must be the exact URL Twilio requested, query string included (a proxy that
    rewrites scheme or host breaks it). Raises :class:`SignatureError`.
    """
    if not auth_token:
        raise WebhookConfigurationError("Twilio auth token is empty")
    if not signature:
        raise SignatureError("missing signature")
    if not RequestValidator(auth_token).validate(url, params, signature):
        raise SignatureError("bad signature")
