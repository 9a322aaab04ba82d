"""What the outreach layer needs to know, handed in by the caller (it reads no settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SendGridConfig:
    """Email through SendGrid's v3 Mail Send API."""

    api_key: str
    host: str = "https://api.sendgrid.com"
    unsubscribe_group_id: int | None = None  # SendGrid's asm.group_id when set
    sandbox: bool = False  # mail_settings.sandbox_mode: validated, never delivered
    batch_size: int = 1000  # personalizations per request (SendGrid's maximum)
    timeout_seconds: float = 30.0
    max_retries: int = 5  # for 5xx and connection errors, with exponential backoff
    reconcile_grace_minutes: int = 60  # in-doubt emails wait this long for a webhook event


@dataclass(frozen=True)
class TwilioConfig:
    """SMS through Twilio's Messages API."""

    account_sid: str
    auth_token: str
    messaging_service_sid: str | None = None  # one of this and from_number
    from_number: str | None = None
    base_url: str = "https://api.twilio.com"
    messages_per_second: float = 10.0
    concurrency: int = 4  # requests in flight at once, within messages_per_second
    batch_size: int = 200  # messages per send_batch call
    timeout_seconds: float = 30.0
    max_retries: int = 5


@dataclass(frozen=True)
class OutreachConfig:
    outbox_dir: Path
    templates_dir: Path
    base_url: str
    organisation_name: str = "Example Energy B.V."
    organisation_address: tuple[str, ...] = ("Postbus 1234", "1000 AB Amsterdam")
    sender_email: str = "service@example.org"
    sender_name: str = "Example Energy"
    unsubscribe_mailto: str = "unsubscribe@example.org"
    # How a customer checks a request is genuine (outreach.trust): checked by the settings.
    organisation_website: str = "https://www.example.org"
    trust_phone: str = "020 123 4567"
    trust_web_path: str = "/contact-check"
    default_locale: str = "nl"
    supported_locales: tuple[str, ...] = ("nl", "en", "de", "fr", "sv", "es", "pt")
    token_ttl_days: int = 60
    letter_batch_size: int = 500
    # How long a run's lease on a batch of enrollments holds without a heartbeat (a crashed run
    # on another machine gives its batch up after this; one on this machine at once).
    lease_seconds: float = 120.0
    email_channel: str = "outbox"  # "outbox" | "sendgrid"
    sms_channel: str = "outbox"  # "outbox" | "twilio"
    sendgrid: SendGridConfig | None = None
    twilio: TwilioConfig | None = None
    extra: dict[str, str] = field(default_factory=dict)
