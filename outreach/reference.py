"""The reference every message shows, so a customer can match a message, a letter and the landing
page they opened, and quote it when they call to check that a request is genuine.

One scheme for every channel: a letter of the channel, the outreach id in at least six digits
and its Luhn check digit, e.g. ``L-000123-0`` for a letter (the return code typed in when a letter
comes back, :func:`models.feedback.returned_letters.parse_return_code`), ``E-000123-0`` for an
email, ``S-…`` for an SMS and ``M-…`` for the block another system embeds at a contact moment.
"""

from __future__ import annotations

from typing import Final

from models.feedback.returned_letters import luhn_digit

PREFIXES: Final = {"letter": "L", "email": "E", "sms": "S", "moment": "M"}


def message_reference(channel: str, outreach_id: int) -> str:
    """The reference of outreach ``outreach_id`` sent on ``channel``: ``E-000123-0``."""
    prefix = PREFIXES.get(channel)
    if prefix is None:
        raise ValueError(f"no reference for channel {channel!r}")
    if outreach_id < 0:
        raise ValueError("outreach id must not be negative")
    digits = f"{outreach_id:06d}"
    return f"{prefix}-{digits}-{luhn_digit(digits)}"
