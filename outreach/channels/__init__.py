"""The channels a message can go out on, in one explicit registry (no discovery)."""

from __future__ import annotations

from outreach.channels.base import Channel, Message, PostalAddress, SendResult
from outreach.channels.email_outbox import EmailOutbox
from outreach.channels.letter_outbox import LetterOutbox
from outreach.channels.sms_outbox import SmsOutbox
from outreach.config import OutreachConfig
from outreach.errors import ConfigurationError
from outreach.providers.sendgrid.mail_send import SendGridEmail
from outreach.providers.twilio.sms import TwilioSms
from outreach.render import Renderer

__all__ = ["Channel", "Message", "PostalAddress", "SendResult", "build_channels"]


def build_channels(config: OutreachConfig, renderer: Renderer | None = None) -> dict[str, Channel]:
    """``{"email": ..., "sms": ..., "letter": ...}`` sharing one renderer (templates compiled once);
    pass ``renderer`` to share it with other users of the same templates too.

    Email goes to the outbox or SendGrid, SMS to the outbox or Twilio, as ``config`` says;
    letters always go to the outbox (the print house takes the batch files). A provider chosen
    without its credentials raises :class:`ConfigurationError` naming the variable.
    """
    renderer = renderer or Renderer(config)
    email: Channel
    sms: Channel
    if config.email_channel == "sendgrid":
        email = SendGridEmail(config, renderer)
    elif config.email_channel == "outbox":
        email = EmailOutbox(config, renderer)
    else:
        raise ConfigurationError(f"unknown ENRICH_EMAIL_CHANNEL {config.email_channel!r}")
    if config.sms_channel == "twilio":
        sms = TwilioSms(config, renderer)
    elif config.sms_channel == "outbox":
        sms = SmsOutbox(config, renderer)
    else:
        raise ConfigurationError(f"unknown ENRICH_SMS_CHANNEL {config.sms_channel!r}")
    return {"email": email, "sms": sms, "letter": LetterOutbox(config, renderer)}
