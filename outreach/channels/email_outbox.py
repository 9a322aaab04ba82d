"""The email outbox: each message becomes ``<outbox>/email/<outreach_id>.eml``, ready to send.

A disk failure raises :class:`~outreach.errors.OutboxError` (transient) for the whole batch;
the files already written are found again by :meth:`EmailOutbox.already_sent`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime, make_msgid, quote
from pathlib import Path

from models.types import utcnow
from outreach.channels.base import (
    NO_UNSUBSCRIBE_TOKEN,
    OUTBOX_BATCH_SIZE,
    OUTBOX_PROVIDER,
    InDoubt,
    Message,
    SendResult,
    atomic_write,
    failed,
    list_unsubscribe_headers,
)
from outreach.config import OutreachConfig
from outreach.errors import RenderError
from outreach.render import RenderedEmail, Renderer

# CRLF line endings: the file is byte for byte what an SMTP relay would receive.
POLICY = policy.SMTP
# Non-ASCII addresses (internationalised mailboxes) need the SMTPUTF8 extension.
POLICY_UTF8 = policy.SMTPUTF8


class EmailOutbox:
    name = "email"
    provider = OUTBOX_PROVIDER
    # The files are the truth: a message is in the outbox or not, so nothing waits to reconcile.
    lookup_is_authoritative = True
    reconcile_grace = timedelta(0)

    def __init__(self, config: OutreachConfig, renderer: Renderer | None = None) -> None:
        self.config = config
        self.renderer = renderer or Renderer(config)
        self.batch_size = OUTBOX_BATCH_SIZE
        self.folder = Path(config.outbox_dir) / "email"
        self.domain = config.sender_email.rsplit("@", 1)[-1]

    def path_for(self, outreach_id: int) -> Path:
        return self.folder / f"{outreach_id}.eml"

    def build(self, message: Message, rendered: RenderedEmail) -> EmailMessage:
        """The MIME message: text and HTML alternatives, one-click unsubscribe headers."""
        cfg = self.config
        utf8 = not (message.recipient.isascii() and cfg.sender_email.isascii())
        msg = EmailMessage(policy=POLICY_UTF8 if utf8 else POLICY)
        msg["From"] = Address(cfg.sender_name, addr_spec=cfg.sender_email)
        # split/join also drops line breaks a hostile name could use to inject headers
        name = " ".join(" ".join(p for p in (message.given_name, message.family_name) if p).split())
        if utf8:
            # Address() refuses non-ASCII local parts even under SMTPUTF8; the parser accepts them.
            msg["To"] = f'"{quote(name)}" <{message.recipient}>' if name else message.recipient
        else:
            msg["To"] = Address(name, addr_spec=message.recipient)
        msg["Subject"] = rendered.subject
        msg["Date"] = format_datetime(utcnow())
        msg["Message-ID"] = make_msgid(
            idstring=f"outreach.{message.outreach_id}", domain=self.domain
        )
        if message.unsubscribe:
            headers = list_unsubscribe_headers(
                message, base_url=cfg.base_url, mailto=cfg.unsubscribe_mailto
            )
            for name, value in headers.items():
                msg[name] = value
        msg["X-Enrich-Outreach-Id"] = str(message.outreach_id)
        msg.set_content(rendered.text)
        msg.add_alternative(rendered.html, subtype="html")
        return msg

    def send_one(self, message: Message) -> SendResult:
        if message.unsubscribe and not message.unsubscribe_token:
            return failed(message, NO_UNSUBSCRIBE_TOKEN)
        try:
            rendered = self.renderer.email(message)
        except RenderError as err:
            return failed(message, str(err))
        if "@" not in message.recipient:
            return failed(message, "recipient is not an email address")
        try:
            msg = self.build(message, rendered)
            data = msg.as_bytes()
        except (ValueError, IndexError) as err:
            # The header classes reject malformed addresses; their text may quote it.
            return failed(message, f"recipient address rejected ({type(err).__name__})")
        atomic_write(self.path_for(message.outreach_id), data)
        return SendResult(
            outreach_id=message.outreach_id,
            ok=True,
            provider=OUTBOX_PROVIDER,
            provider_message_id=str(msg["Message-ID"]),
        )

    def send_batch(self, messages: Sequence[Message]) -> list[SendResult]:
        return [self.send_one(m) for m in messages]

    def already_sent(self, items: Sequence[InDoubt]) -> dict[int, SendResult]:
        """Ids whose ``.eml`` exists; a leftover temporary file from a crash does not count."""
        parser = BytesHeaderParser(policy=POLICY)
        found: dict[int, SendResult] = {}
        for outreach_id in sorted({item.outreach_id for item in items}):
            path = self.path_for(outreach_id)
            try:
                with path.open("rb") as fh:
                    headers = parser.parse(fh)
            except FileNotFoundError:
                continue
            found[outreach_id] = SendResult(
                outreach_id=outreach_id,
                ok=True,
                provider=OUTBOX_PROVIDER,
                provider_message_id=headers.get("Message-ID"),
            )
        return found
