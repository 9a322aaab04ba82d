"""The one interface every channel implements, the message it sends, and outbox file helpers."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from models.types import utcnow
from outreach.addresses import format_address
from outreach.errors import OutboxError

OUTBOX_PROVIDER = "outbox"


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


@dataclass(frozen=True)
class SendResult:
    outreach_id: int
    ok: bool
    provider: str  # "outbox" for the local outbox
    provider_message_id: str | None = None
    batch_ref: str | None = None  # e.g. the letter batch file name
    error: str | None = None  # why not ok; never personal data


class Channel(Protocol):
    name: str

    def send_batch(self, messages: Sequence[Message]) -> list[SendResult]:
        """One result per message, same order; a message that fails to render gets ok=False."""
        ...

    def already_sent(self, outreach_ids: Sequence[int]) -> dict[int, SendResult]:
        """Which of these ids this channel already delivered (crash recovery)."""
        ...


def failed(message: Message, reason: str, provider: str = OUTBOX_PROVIDER) -> SendResult:
    return SendResult(outreach_id=message.outreach_id, ok=False, provider=provider, error=reason)


def batch_stem(first_id: int, now: datetime | None = None) -> str:
    """``batch-<first_id>-<UTC timestamp>``; microseconds keep a quick rerun from colliding."""
    stamp = (now or utcnow()).strftime("%Y%m%dT%H%M%S%fZ")
    return f"batch-{first_id}-{stamp}"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either nothing or the whole file.

    The bytes go to a hidden temporary file in the same folder, are flushed to disk, and the
    file is renamed into place; a crash leaves at most a ``.tmp`` file that nothing counts.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as err:
        raise OutboxError(
            f"could not write outbox file {path.name}: {err.strerror}", provider=OUTBOX_PROVIDER
        ) from err


def chunks(items: Sequence[Message], size: int) -> list[Sequence[Message]]:
    size = max(1, size)
    return [items[i : i + size] for i in range(0, len(items), size)]
