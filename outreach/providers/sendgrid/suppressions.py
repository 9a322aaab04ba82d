"""Reads SendGrid's four suppression lists through the official client, page by page.

What each list means here:

- ``bounces``: the mailbox does not exist -> status ``bounced`` (``bounced_at`` = entry time)
- ``invalid_emails``: the address cannot be an address -> status ``invalid``
- ``spam_reports``: the customer marked our mail as spam -> status ``opted_out``
- ``blocks``: a receiving server refused for now (reputation, policy, a full mailbox); temporary
  by nature, so it is counted but changes nothing

``limit``/``offset`` paging until a short page; ``since`` becomes ``start_time``. A refused key
is a :class:`ConfigurationError` naming the setting; throttling (429, waiting for the reset),
5xx and connection failures are retried within the budget of :mod:`outreach.providers.retrying`
before
:class:`ProviderUnavailable`.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from python_http_client.exceptions import HTTPError

from models.feedback.suppressions import SuppressionEntry
from models.vocabulary import BOUNCED, INVALID, OPTED_OUT
from outreach.config import SendGridConfig
from outreach.errors import ConfigurationError, ProviderUnavailable
from outreach.providers.retrying import (
    Backoff,
    Retryable,
    call_with_retries,
    rate_limit_wait,
    retryable_status,
)
from outreach.providers.sendgrid.mail_send import sendgrid_client

PROVIDER = "sendgrid"
LISTS: Final = ("bounces", "blocks", "invalid_emails", "spam_reports")
# The status each list sets; blocks set none.
EFFECTS: Final[dict[str, str | None]] = {
    "bounces": BOUNCED,
    "invalid_emails": INVALID,
    "spam_reports": OPTED_OUT,
    "blocks": None,
}
PAGE_SIZE = 500  # the documented maximum
BACKOFF = Backoff(first=1.0, cap=30.0)  # between retries (budget: outreach.providers.retrying)


def _entry(list_name: str, row: Any) -> SuppressionEntry | None:
    if not isinstance(row, dict) or not isinstance(row.get("email"), str):
        return None
    created = row.get("created")
    return SuppressionEntry(
        email=row["email"],
        provider=PROVIDER,
        list_name=list_name,
        effect=EFFECTS[list_name],
        created=(
            datetime.fromtimestamp(created, UTC)
            if isinstance(created, int | float) and not isinstance(created, bool)
            else None
        ),
        status=str(row["status"])[:32] if row.get("status") else None,
    )


def fetch_suppressions(
    config: SendGridConfig,
    *,
    since: datetime | None = None,
    page_size: int = PAGE_SIZE,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> list[SuppressionEntry]:
    """Every entry of bounces, blocks, invalid_emails and spam_reports (created >= ``since``)."""
    client = sendgrid_client(config).client
    entries: list[SuppressionEntry] = []
    for name in LISTS:
        offset = 0
        while True:
            params: dict[str, int] = {"limit": page_size, "offset": offset}
            if since is not None:
                params["start_time"] = int(since.timestamp())
            endpoint = client.suppression._(name)
            rows = _get(endpoint, params, config, sleep, clock)
            entries.extend(e for row in rows if (e := _entry(name, row)) is not None)
            if len(rows) < page_size:
                break
            offset += page_size
    return entries


def _get(
    endpoint: Any,
    params: dict[str, int],
    config: SendGridConfig,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> list[Any]:
    """One page, retried by :mod:`outreach.providers.retrying`; reading is idempotent, so any
    failure to
    get an answer is retried, like 429 (until its reset) and 5xx."""

    def attempt() -> list[Any]:
        try:
            response = endpoint.get(query_params=params, timeout=config.timeout_seconds)
            rows = response.to_dict
            return rows if isinstance(rows, list) else []
        except HTTPError as err:
            status = err.status_code
            if status in (401, 403):
                raise ConfigurationError(
                    f"SendGrid refused the API key ({status}): check ENRICH_SENDGRID_API_KEY"
                ) from None
            if not retryable_status(status):
                raise ConfigurationError(
                    f"SendGrid answered {status} to a suppression list request: "
                    "check ENRICH_SENDGRID_HOST"
                ) from None
            wait = rate_limit_wait(err.headers, clock) if status == 429 else None
            raise Retryable(status=status, wait=wait) from err
        except (OSError, http.client.HTTPException, ValueError) as err:
            raise Retryable(status=None) from err

    return call_with_retries(
        attempt, max_retries=config.max_retries, backoff=BACKOFF, sleep=sleep, give_up=_unavailable
    )


def _unavailable(last: Retryable, attempts: int) -> ProviderUnavailable:
    if last.status == 429:
        message = "SendGrid kept throttling the suppression list requests"
    else:
        what = f"answered {last.status}" if last.status else "could not be reached"
        message = f"SendGrid {what} {attempts} times while reading suppression lists"
    return ProviderUnavailable(message, provider=PROVIDER, status=last.status)
