"""The one interface every channel implements, the message it sends, and outbox file helpers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from models.answers.link_tokens import unsubscribe_link
from models.campaigns.asks import Ask
from models.types import utcnow
from models.whole_files import written_whole
from outreach.addresses import format_address
from outreach.errors import OutboxError

OUTBOX_PROVIDER = "outbox"
# Messages per send_batch call of the email and SMS outboxes (letters use letter_batch_size).
OUTBOX_BATCH_SIZE = 1000


@dataclass(frozen=True)
class PostalAddress:
    name: str
    street: str
    house_number: str
    postal_code: str
    city: str
    country: str  # ISO 3166-1 alpha-2

    def lines(self, *, origin_country: str = "NL") -> list[str]:
        """Window-field lines in the destination's format; a country line for mail abroad."""
        return format_address(
            name=self.name,
            street=self.street,
            house_number=self.house_number,
            postal_code=self.postal_code,
            city=self.city,
            country=self.country,
            origin_country=origin_country,
        )


@dataclass(frozen=True)
class Message:
    outreach_id: int
    channel: str  # "email" | "sms" | "letter"
    template: str  # campaign step template, e.g. "ask"
    locale: str  # profile locale ("nl", "en", "nl-BE"); the renderer falls back
    recipient: str  # email address | E.164 number | "" for letters
    link: str  # personal landing-page link (contains the token)
    given_name: str | None
    family_name: str | None
    address: PostalAddress | None = None  # letters only
    code: str | None = None  # a one-time code (proof-of-control SMS); templates see ``code``
    # Bulk asks carry List-Unsubscribe; a transactional message (a confirmation) does not.
    unsubscribe: bool = True
    # The List-Unsubscribe link's own token (an email with ``unsubscribe``); never the personal
    # link's, so the header opens nothing but the unsubscribe.
    unsubscribe_token: str | None = None
    # Provider reporting tags (SendGrid categories), e.g. ("enrich", campaign key).
    categories: tuple[str, ...] = ()
    # What the message asks of this customer (their own gaps); templates see ``asks``, and
    # with none they use their generic wording.
    asks: tuple[Ask, ...] = ()
    # The headline of the campaign's incentive in the message's language (models.incentives),
    # or None when it offers none; templates/asks/incentive.txt words it.
    incentive: str | None = None


@dataclass(frozen=True)
class SendResult:
    """What became of one message.

    ``ok``: the provider (or outbox) accepted it. Not ok and not ``in_doubt``: it was refused
    for good (``error`` says why, ``contact_status`` what that means for the contact point).
    ``in_doubt``: the request may have reached the provider (a timeout after sending); the
    message stays pending and is reconciled later, never sent again blindly.
    """

    outreach_id: int
    ok: bool
    provider: str  # "outbox" for the local outbox, else "sendgrid" | "twilio"
    provider_message_id: str | None = None
    batch_ref: str | None = None  # e.g. the letter batch file name
    error: str | None = None  # why not ok; never personal data
    in_doubt: bool = False
    contact_status: str | None = None  # "invalid" | "opted_out" when a refusal says so
    provider_status: str | None = None  # the provider's own word ("queued", "accepted", ...)


@dataclass(frozen=True)
class InDoubt:
    """A message handed to a channel by a run that died (or timed out) before recording it."""

    outreach_id: int
    recipient: str  # email address | E.164 number | "" for letters
    attempted_at: datetime
    # SHA-256 hashes of the link tokens issued for this outreach: a provider lookup can match
    # a sent body's link to the outreach without the plain token.
    token_hashes: frozenset[str] = frozenset()


class Channel(Protocol):
    name: str  # "email" | "sms" | "letter"
    provider: str  # "outbox" | "sendgrid" | "twilio"
    batch_size: int  # messages per send_batch call; the dispatcher records after each call
    # True when already_sent sees every message the channel took (the outbox's files, Twilio's
    # message list): one it does not find was certainly not taken and may be sent again.
    # False when only provider events can prove acceptance (SendGrid): such a message stays
    # in doubt, waits ``reconcile_grace`` for events, then waits for the steward's decision.
    lookup_is_authoritative: bool
    reconcile_grace: timedelta

    def send_batch(self, messages: Sequence[Message]) -> list[SendResult]:
        """One result per message, same order; a message that fails to render gets ok=False.

        Raises :class:`~outreach.errors.ConfigurationError` (with ``partial_results``) when the
        setup is wrong (bad credentials, a region not enabled): the run must stop.
        """
        ...

    def already_sent(self, items: Sequence[InDoubt]) -> dict[int, SendResult]:
        """Which of these in-doubt messages this channel already delivered (crash recovery)."""
        ...


NO_UNSUBSCRIBE_TOKEN = "no unsubscribe token for the List-Unsubscribe header"


def list_unsubscribe_headers(message: Message, *, base_url: str, mailto: str) -> dict[str, str]:
    """One-click unsubscribe headers (RFC 8058) with the message's unsubscribe token.

    Raises ValueError when the message has none: a bulk email must not go out without a
    working unsubscribe, nor with its personal link in the header.
    """
    if not message.unsubscribe_token:
        raise ValueError(NO_UNSUBSCRIBE_TOKEN)
    return {
        "List-Unsubscribe": (
            f"<mailto:{mailto}?subject=unsubscribe-{message.outreach_id}>, "
            f"<{unsubscribe_link(base_url, message.unsubscribe_token)}>"
        ),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def failed(message: Message, reason: str, provider: str = OUTBOX_PROVIDER) -> SendResult:
    return SendResult(outreach_id=message.outreach_id, ok=False, provider=provider, error=reason)


def batch_stem(first_id: int, now: datetime | None = None) -> str:
    """``batch-<first_id>-<UTC timestamp>``; microseconds keep a quick rerun from colliding."""
    stamp = (now or utcnow()).strftime("%Y%m%dT%H%M%S%fZ")
    return f"batch-{first_id}-{stamp}"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either nothing or the whole file.

    (:mod:`models.whole_files`); a crash leaves at most a ``.tmp`` file that nothing counts.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with written_whole(path, "wb") as file:
            file.write(data)
    except OSError as err:
        raise OutboxError(
            f"could not write outbox file {path.name}: {err.strerror}", provider=OUTBOX_PROVIDER
        ) from err


def chunks(items: Sequence[Message], size: int) -> list[Sequence[Message]]:
    size = max(1, size)
    return [items[i : i + size] for i in range(0, len(items), size)]


def in_doubt(outreach_ids: Sequence[int], attempted_at: datetime | None = None) -> list[InDoubt]:
    """InDoubt items for ids alone: enough for the outbox channels, which look up by id."""
    at = attempted_at or utcnow()
    return [InDoubt(outreach_id=i, recipient="", attempted_at=at) for i in outreach_ids]
