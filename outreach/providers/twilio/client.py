"""The official Twilio client as the SMS channel and ``enrich check`` use it: built from our
configuration with its timeout, its errors read as REST errors, and list pages followed by URL."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from outreach.config import TwilioConfig
from outreach.errors import ConfigurationError, ProviderRejected
from outreach.providers.twilio.errors import outcome

PROVIDER = "twilio"
# The library logs every request's query string (a lookup's contains the number) at INFO.
_HTTP_LOG = logging.getLogger(__name__ + ".http")
_HTTP_LOG.setLevel(logging.WARNING)


def as_rest_error(err: TwilioException) -> TwilioRestException | None:
    """A list page's error (the library raises a bare TwilioException with the response)."""
    if isinstance(err, TwilioRestException):
        return err
    response = err.args[1] if len(err.args) > 1 else None
    status = getattr(response, "status_code", None)
    if not isinstance(status, int):
        return None
    try:
        code = json.loads(getattr(response, "text", "") or "{}").get("code")
    except (ValueError, AttributeError):
        code = None
    return TwilioRestException(status, "", code=code if isinstance(code, int) else None)


def twilio_client(config: TwilioConfig) -> Client:
    """The official client for ``config``'s account, pointed at ``config.base_url``, with
    ``config.timeout_seconds`` per request and the library's request log kept quiet."""
    http = TwilioHttpClient(timeout=config.timeout_seconds, logger=_HTTP_LOG)
    # environment={}: TWILIO_EDGE / TWILIO_REGION must not rewrite the configured host.
    client = Client(config.account_sid, config.auth_token, http_client=http, environment={})
    client.api.base_url = config.base_url.rstrip("/")
    return client


def lookup_refused(
    err: TwilioRestException, recipient: str = ""
) -> ConfigurationError | ProviderRejected:
    """A lookup's error answer: a setup error stops the run, anything else refuses the lookup
    (the messages stay in doubt). The error names codes and regions, never a number."""
    verdict = outcome(err.status, err.code, recipient)
    if verdict.kind == "stop":
        return ConfigurationError(verdict.error)
    return ProviderRejected(
        f"Twilio message lookup refused ({verdict.error})", provider=PROVIDER, status=err.status
    )


def next_page(url: str) -> Callable[[Client], Any]:
    return lambda client: client.messages.get_page(url)
