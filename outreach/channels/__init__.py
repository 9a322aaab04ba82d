"""The channels a message can go out on, in one explicit registry (no discovery)."""

from __future__ import annotations

from outreach.channels.base import Channel, Message, PostalAddress, SendResult
from outreach.channels.email_outbox import EmailOutbox
from outreach.channels.letter_outbox import LetterOutbox
from outreach.channels.sms_outbox import SmsOutbox
from outreach.config import OutreachConfig
from outreach.render import Renderer

__all__ = ["Channel", "Message", "PostalAddress", "SendResult", "build_channels"]


def build_channels(config: OutreachConfig) -> dict[str, Channel]:
    """``{"email": ..., "sms": ..., "letter": ...}`` sharing one renderer (templates compiled once).

    Only the local outboxes exist so far; provider-backed channels will be chosen here.
    """
    renderer = Renderer(config)
    return {
        "email": EmailOutbox(config, renderer),
        "sms": SmsOutbox(config, renderer),
        "letter": LetterOutbox(config, renderer),
    }
