"""``enrich check --credentials``: one cheap read-only call per provider channel in use.

SendGrid is asked for one bounce (GET /v3/suppression/bounces?limit=1), Twilio for one message
(GET Messages.json?PageSize=1), each through its official client, once, without retries and
with a short timeout. Every provider gives one :class:`~enrich.cli.checks.Finding`; a problem names
the variable to fix. Keys and tokens never appear in a finding.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import requests
from python_http_client.exceptions import HTTPError
from twilio.base.exceptions import TwilioException

from enrich.cli.checks import ACCOUNT_SID, Finding
from enrich.runtime import outreach_config
from enrich.settings import Settings
from outreach.config import SendGridConfig, TwilioConfig
from outreach.providers.sendgrid.mail_send import sendgrid_client
from outreach.providers.twilio.client import as_rest_error, twilio_client

MAX_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Provider:
    """How findings about one provider are worded."""

    name: str  # "SendGrid"
    subject: str  # the finding's subject: the channel
    credentials: str  # the variables a refusal names
    host_setting: str  # the variable naming the provider's address
    scope: str  # what a 403 says the credentials lack


SENDGRID = Provider(
    name="SendGrid",
    subject="email",
    credentials="ENRICH_SENDGRID_API_KEY",
    host_setting="ENRICH_SENDGRID_HOST",
    scope="the scope suppression.read (`enrich providers sync-suppressions` needs it)",
)
TWILIO = Provider(
    name="Twilio",
    subject="sms",
    credentials="ENRICH_TWILIO_ACCOUNT_SID / ENRICH_TWILIO_AUTH_TOKEN",
    host_setting="ENRICH_TWILIO_BASE_URL",
    scope="the scope to read Messages (looking up unanswered sends needs it)",
)


def refusal(provider: Provider, status: int, code: int | None = None) -> Finding:
    """The finding for an error answer: HTTP ``status`` and the provider's own ``code``."""
    detail = f"{status}, code {code}" if code is not None else str(status)
    if status == 401:
        message = f"{provider.name} refused {provider.credentials} ({detail})"
    elif status == 403:
        message = f"{provider.credentials} lacks {provider.scope} ({detail})"
    elif status == 429 or status >= 500:
        message = f"{provider.name} answered {detail}: try again later"
    else:
        message = f"{provider.name} answered {detail}: check {provider.host_setting}"
    return Finding(False, provider.subject, message)


def unreachable(provider: Provider, address: str, reason: str) -> Finding:
    return Finding(
        False,
        provider.subject,
        f"{provider.name} could not be reached at {shown_address(address)} ({reason}): "
        f"check {provider.host_setting}",
    )


def shown_address(address: str) -> str:
    """``address`` without any user:password@ part."""
    try:
        parts = urlsplit(address)
    except ValueError:
        return "an invalid address"
    if "@" not in parts.netloc:
        return address
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def failure_reason(err: BaseException) -> str:
    """Why a connection failed, in a few words, from the exception and its causes."""
    seen: set[int] = set()
    pending: list[object] = [err]
    while pending:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, TimeoutError | requests.Timeout):
            return "timeout"
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, socket.gaierror):
            return "host name not found"
        if isinstance(current, ssl.SSLError):
            return "TLS handshake failed"
        if isinstance(current, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
            return "not a URL"
        causes = (current.__cause__, current.__context__)
        pending.extend([getattr(current, "reason", None), *current.args, *causes])
    if isinstance(err, ValueError):
        return "not a URL"
    if isinstance(err, ConnectionResetError | http.client.HTTPException):
        return "no HTTP answer"
    return type(err).__name__


def check_sendgrid(config: SendGridConfig) -> Finding:
    """Read one entry of the bounce list with ``config``'s key."""
    endpoint = sendgrid_client(config).client.suppression.bounces
    try:
        response = endpoint.get(query_params={"limit": 1}, timeout=config.timeout_seconds)
    except HTTPError as err:
        return refusal(SENDGRID, err.status_code)
    except (OSError, http.client.HTTPException, ValueError) as err:
        return unreachable(SENDGRID, config.host, failure_reason(err))
    try:
        rows = json.loads(response.body or b"null")
    except ValueError:
        rows = None
    if not isinstance(rows, list):
        return Finding(
            False, "email", "SendGrid answered without a bounce list: check ENRICH_SENDGRID_HOST"
        )
    return Finding(True, "email", "SendGrid accepted the API key")


def check_twilio(config: TwilioConfig) -> Finding:
    """List one message of ``config``'s account with its auth token."""
    try:
        twilio_client(config).messages.page(page_size=1)
    except TwilioException as err:
        rest = as_rest_error(err)
        if rest is None:
            return unreachable(TWILIO, config.base_url, failure_reason(err))
        return refusal(TWILIO, rest.status, rest.code)
    except (requests.RequestException, OSError, http.client.HTTPException) as err:
        return unreachable(TWILIO, config.base_url, failure_reason(err))
    except ValueError:
        return Finding(
            False, "sms", "Twilio answered without a message list: check ENRICH_TWILIO_BASE_URL"
        )
    return Finding(True, "sms", "Twilio accepted the account SID and auth token")


def check_credentials(settings: Settings) -> list[Finding]:
    """One finding per channel: outbox, or the provider's answer to its credentials.

    A provider whose credentials are missing or malformed is left to ``check_configuration``,
    which names the variable; nothing is sent to the provider then.
    """
    config = outreach_config(settings)
    timeout = min(settings.provider_timeout_seconds, MAX_TIMEOUT_SECONDS)
    findings: list[Finding] = []
    if settings.email_channel == "outbox":
        findings.append(Finding(True, "email", "outbox, no credentials to check"))
    elif config.sendgrid is not None:
        findings.append(check_sendgrid(replace(config.sendgrid, timeout_seconds=timeout)))
    if settings.sms_channel == "outbox":
        findings.append(Finding(True, "sms", "outbox, no credentials to check"))
    elif config.twilio is not None and ACCOUNT_SID.fullmatch(config.twilio.account_sid):
        findings.append(check_twilio(replace(config.twilio, timeout_seconds=timeout)))
    return findings
