"""SMS through Twilio's Messages API: concurrent, paced sends; timeouts settled by a lookup.

Every request (sends, retries, lookups) passes one :class:`~outreach.providers.twilio.pacing.Pacer`,
so the account's messages-per-second limit holds across the worker threads. A send that times out
may have been accepted: the channel looks the message up at once by the hash of its personal-link
token and never sends it again blindly. Errors and logs carry codes, never numbers or bodies.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from models.answers.link_tokens import hash_token, token_from_link
from models.types import utcnow
from outreach.channels.base import InDoubt, Message, SendResult, failed
from outreach.channels.sms_outbox import E164
from outreach.config import OutreachConfig, TwilioConfig
from outreach.errors import ConfigurationError, ProviderError, ProviderUnavailable, RenderError
from outreach.providers.retrying import Backoff, Retryable, call_with_retries, never_sent
from outreach.providers.twilio.client import (
    PROVIDER,
    as_rest_error,
    lookup_refused,
    next_page,
    twilio_client,
)
from outreach.providers.twilio.errors import outcome
from outreach.providers.twilio.pacing import Pacer
from outreach.render import Renderer

# A lookup searches from the attempt's time minus this (clocks differ between us and Twilio).
LOOKUP_MARGIN = timedelta(minutes=5)

RECENT_PAGE = 20  # newest messages to a number, read first: a queued message has no date_sent

SENT_PAGE = 100

MAX_PAGES = 10

# Crash recovery scans the account's list: a thousand messages per request (Twilio's maximum).
SCAN_PAGE = 1000

MAX_SCAN_PAGES = 100

BACKOFF = Backoff(first=0.5, cap=30.0)  # between retries (budget: outreach.providers.retrying)


T = TypeVar("T")


class _Unanswered(Exception):
    """The request may have reached Twilio, but no answer came (timeout, dropped connection)."""


class _Abandoned(Exception):
    """The batch stopped while this message waited to be retried; it was never accepted."""


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class TwilioSms:
    """The ``sms`` channel on Twilio; see the module docstring."""

    name = "sms"
    provider = PROVIDER
    # The list API answers whether a message exists, so an in-doubt SMS need not wait.
    lookup_is_authoritative = True
    reconcile_grace = timedelta(0)

    def __init__(
        self,
        config: OutreachConfig,
        renderer: Renderer | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        twilio = config.twilio
        if twilio is None:
            raise ConfigurationError(
                "SMS through Twilio needs ENRICH_TWILIO_ACCOUNT_SID and ENRICH_TWILIO_AUTH_TOKEN"
            )
        if not (twilio.messaging_service_sid or twilio.from_number):
            raise ConfigurationError(
                "SMS through Twilio needs ENRICH_TWILIO_MESSAGING_SERVICE_SID "
                "or ENRICH_TWILIO_FROM_NUMBER"
            )
        self.config = config
        self.twilio: TwilioConfig = twilio
        self.renderer = renderer or Renderer(config)
        self.batch_size = twilio.batch_size
        self._sleep = sleep
        self._pacer = Pacer(twilio.messages_per_second, clock=clock, sleep=sleep)
        self._clients: queue.SimpleQueue[Client] = queue.SimpleQueue()
        self._base_url = config.base_url.rstrip("/")
        self._link = re.compile(re.escape(self._base_url) + r"/c/([A-Za-z0-9_-]+)")

    # -- sending -----------------------------------------------------------------------------

    def send_batch(self, messages: Sequence[Message]) -> list[SendResult]:
        """Send with ``concurrency`` threads within ``messages_per_second``; results in order.

        A setup error (credentials, sender, geo permission) or an outage that outlasts the
        retries stops the batch: messages in flight finish, the rest are not sent, and the
        error carries the results settled so far in ``partial_results``.
        """
        results: list[SendResult | None] = [None] * len(messages)
        jobs: list[tuple[int, Message, str]] = []
        for index, message in enumerate(messages):
            if not E164.fullmatch(message.recipient):
                results[index] = failed(message, "recipient is not an E.164 number", PROVIDER)
                continue
            try:
                body = self.renderer.sms(message)
            except RenderError as err:
                results[index] = failed(message, str(err), PROVIDER)
                continue
            jobs.append((index, message, body))
        stop = threading.Event()
        errors: list[ConfigurationError | ProviderUnavailable] = []

        def run(job: tuple[int, Message, str]) -> None:
            index, message, body = job
            if stop.is_set():
                return
            try:
                results[index] = self._send(message, body, stop)
            except _Abandoned:
                return
            except (ConfigurationError, ProviderUnavailable) as err:
                errors.append(err)
                stop.set()

        if jobs:
            workers = max(1, min(self.twilio.concurrency, len(jobs)))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="twilio") as pool:
                list(pool.map(run, jobs))
        settled = [r for r in results if r is not None]
        if errors:
            first = errors[0]
            if isinstance(first, ConfigurationError):
                raise ConfigurationError(str(first), partial_results=settled) from first
            raise ProviderUnavailable(
                str(first), provider=PROVIDER, status=first.status, partial_results=settled
            ) from first
        return settled

    def _send(self, message: Message, body: str, stop: threading.Event) -> SendResult:
        params: dict[str, Any] = {
            "to": message.recipient,
            "body": body,
            "status_callback": f"{self._base_url}/webhooks/twilio/status?oid={message.outreach_id}",
        }
        if self.twilio.messaging_service_sid:
            params["messaging_service_sid"] = self.twilio.messaging_service_sid
        if self.twilio.from_number:
            params["from_"] = self.twilio.from_number
        attempted_at = utcnow()
        try:
            created = self._call(lambda c: c.messages.create(**params), stop=stop)
        except TwilioRestException as err:
            verdict = outcome(err.status, err.code, message.recipient)
            if verdict.kind == "stop":
                raise ConfigurationError(verdict.error) from err
            return SendResult(
                outreach_id=message.outreach_id,
                ok=False,
                provider=PROVIDER,
                error=verdict.error,
                contact_status=verdict.contact_status,
            )
        except (_Unanswered, TwilioException, ValueError):
            # No usable answer: the message may exist at Twilio. Ask before deciding.
            return self._settle_unanswered(message, attempted_at)
        return self._accepted(message.outreach_id, created)

    def _settle_unanswered(self, message: Message, attempted_at: datetime) -> SendResult:
        token_hash = hash_token(token_from_link(message.link))
        try:
            found = self._find(message.recipient, attempted_at - LOOKUP_MARGIN, {token_hash})
        except (ConfigurationError, ProviderError, TwilioException, ValueError):
            found = {}  # the lookup failing must not turn a doubt into a resend
        if token_hash in found:
            return self._accepted(message.outreach_id, found[token_hash])
        return SendResult(
            outreach_id=message.outreach_id,
            ok=False,
            provider=PROVIDER,
            in_doubt=True,
            error="no answer from Twilio in time and no message found yet",
        )

    @staticmethod
    def _accepted(outreach_id: int, message: Any) -> SendResult:
        status = getattr(message, "status", None)
        return SendResult(
            outreach_id=outreach_id,
            ok=True,
            provider=PROVIDER,
            provider_message_id=str(message.sid),
            provider_status=str(status) if status is not None else None,
        )

    # -- one request, paced and retried -----------------------------------------------------------

    @contextmanager
    def _client(self) -> Iterator[Client]:
        """One client per concurrent caller: each keeps its own connection pool."""
        try:
            client = self._clients.get_nowait()
        except queue.Empty:
            client = twilio_client(self.twilio)
        try:
            yield client
        finally:
            self._clients.put(client)

    def _call(
        self, request: Callable[[Client], T], *, stop: threading.Event | None, safe: bool = False
    ) -> T:
        """Run ``request`` paced, retried by :mod:`outreach.providers.retrying`; a send's timeout
        raises
        :class:`_Unanswered` (a ``safe`` read's is retried); ``stop`` set: :class:`_Abandoned`."""

        def unless_stopped() -> None:
            if stop is not None and stop.is_set():
                raise _Abandoned

        return call_with_retries(
            lambda: self._attempt(request, safe),
            max_retries=self.twilio.max_retries,
            backoff=BACKOFF,
            sleep=self._sleep,
            give_up=lambda last, attempts: ProviderUnavailable(
                f"Twilio unavailable after {attempts} attempts (last: {last.detail})",
                provider=PROVIDER,
                status=last.status,
            ),
            before_retry=unless_stopped,
        )

    def _attempt(self, request: Callable[[Client], T], safe: bool) -> T:
        self._pacer.wait()
        try:
            with self._client() as client:
                return request(client)
        except TwilioException as err:
            rest = as_rest_error(err)
            if rest is None:
                raise
            if outcome(rest.status, rest.code, "").kind != "retry":
                if rest is err:
                    raise
                raise rest from err
            detail = f"HTTP {rest.status}, code {rest.code}"
            raise Retryable(status=rest.status, detail=detail) from err
        except requests.RequestException as err:
            if not (safe or never_sent(err)):
                raise _Unanswered from err
            raise Retryable(status=None, detail=type(err).__name__) from err

    # -- lookups --------------------------------------------------------------------------------

    def already_sent(self, items: Sequence[InDoubt]) -> dict[int, SendResult]:
        """In-doubt messages Twilio holds: a listed body whose link token hashes to one of the
        item's ``token_hashes``. One scan of the account's newest messages for all items, a
        page of a thousand per request, back to the earliest attempt; a lookup that cannot
        reach that far raises, so that nothing unfound counts as not sent."""
        wanted_by: dict[str, InDoubt] = {}
        for item in items:
            for token_hash in item.token_hashes:
                wanted_by[token_hash] = item
        if not wanted_by:
            return {}
        since = min(_utc(i.attempted_at) for i in items) - LOOKUP_MARGIN
        matches = self._scan_account(since, set(wanted_by))
        found: dict[int, SendResult] = {}
        for token_hash, listed in matches.items():
            item = wanted_by[token_hash]
            found.setdefault(item.outreach_id, self._accepted(item.outreach_id, listed))
        return found

    def _scan_account(self, since: datetime, wanted: set[str]) -> dict[str, Any]:
        """{token hash: listed message} for the wanted hashes among the account's messages,
        newest first, until every one is found or the list reaches messages sent before
        ``since``. Queued messages (no ``date_sent`` yet) never end the scan."""
        found: dict[str, Any] = {}
        try:
            page = self._call(lambda c: c.messages.page(page_size=SCAN_PAGE), stop=None, safe=True)
            for _ in range(MAX_SCAN_PAGES):
                listed = list(page)
                self._match(listed, wanted, found)
                older = any(m.date_sent is not None and _utc(m.date_sent) < since for m in listed)
                if wanted <= found.keys() or older or not page.next_page_url:
                    return found
                page = self._call(next_page(page.next_page_url), stop=None, safe=True)
        except TwilioRestException as err:
            raise lookup_refused(err) from err
        raise ProviderUnavailable(
            f"Twilio message lookup did not reach the attempts within {MAX_SCAN_PAGES} pages",
            provider=PROVIDER,
        )

    def _find(self, recipient: str, since: datetime, wanted: set[str]) -> dict[str, Any]:
        """{token hash: listed message} for the wanted hashes found in messages to ``recipient``.

        Reads the newest messages first (one still queued has no ``date_sent``, so the date
        filter would miss it), then those sent since ``since``, page by page.
        """
        found: dict[str, Any] = {}

        def scan(listed: Iterable[Any]) -> bool:
            self._match(listed, wanted, found)
            return wanted <= found.keys()

        try:
            recent = self._call(
                lambda c: list(c.messages.page(to=recipient, page_size=RECENT_PAGE)),
                stop=None,
                safe=True,
            )
            if scan(recent):
                return found
            page = self._call(
                lambda c: c.messages.page(
                    to=recipient, date_sent_after=_utc(since), page_size=SENT_PAGE
                ),
                stop=None,
                safe=True,
            )
            for _ in range(MAX_PAGES):
                if scan(list(page)) or not page.next_page_url:
                    break
                page = self._call(next_page(page.next_page_url), stop=None, safe=True)
        except TwilioRestException as err:
            raise lookup_refused(err, recipient) from err
        return found

    def _match(self, listed: Iterable[Any], wanted: set[str], found: dict[str, Any]) -> None:
        """Add to ``found`` each listed message whose body links a wanted token hash."""
        for message in listed:
            for token in self._link.findall(message.body or ""):
                token_hash = hash_token(token)
                if token_hash in wanted:
                    found.setdefault(token_hash, message)
