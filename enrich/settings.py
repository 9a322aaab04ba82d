"""Settings for every entry point, read from ``ENRICH_*`` environment variables and ``.env``.

Nothing is built at import time: call :func:`get_settings`. Every value is checked once, when
the settings are read, and the composite ones (send windows, frequency caps, API keys, trusted
proxies) are parsed once into typed values (:attr:`Settings.send_windows`, ...). Flows read
settings too, so this module imports nothing of ours but pure rules (``models``, outreach.trust).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Callable
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.scheduling.caps import CapPolicy
from models.scheduling.windows import (
    SendWindow,
    WindowPolicy,
    parse_country,
    parse_days,
    parse_time,
    parse_window,
)
from outreach.trust import PublishedPhone, WebPath, WebsiteUrl

DEFAULT_SECRET = "change-me-in-production"
# A base URL on one of these hosts is a local demo: the default secret is tolerated there only.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENRICH_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="Database, outbox and reports.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite at DATA_DIR/enrich.db."
    )
    outbox_dir: Path | None = Field(default=None, description="Default: DATA_DIR/outbox.")
    campaign_file: Path = Path("campaigns/default.yaml")
    templates_dir: Path = Path("templates")

    base_url: str = Field(
        default="http://localhost:8000", description="Public base URL of the landing page."
    )
    default_region: str = Field(default="NL", description="Region for phone numbers without +.")
    default_locale: str = "nl"
    supported_locales: list[str] = ["nl", "en", "de", "fr", "sv", "es", "pt"]
    default_time_zone: str = "Europe/Amsterdam"

    token_ttl_days: int = Field(default=60, ge=1)
    verification_max_age_days: int = Field(default=730, ge=1)
    cooldown_days: int = Field(default=30, ge=0)
    exhausted_cooldown_days: int = Field(
        default=180,
        ge=0,
        description="A profile whose ladder ran out is not selected again for this many days, "
        "unless its contact data changes or it answers on the landing page meanwhile.",
    )
    # "I don't have one" (email, mobile) holds this long; a personal link takes this many sends.
    declined_field_days: int = Field(default=365, ge=1)
    link_max_submissions: int = Field(default=10, ge=1)
    batch_size: int = Field(default=1000, ge=1, le=50_000)
    letter_batch_size: int = Field(default=500, ge=1)

    organisation_name: str = "Example Energy B.V."
    organisation_address: list[str] = ["Postbus 1234", "1000 AB Amsterdam"]
    sender_email: str = "service@example.org"
    sender_name: str = "Example Energy"
    unsubscribe_mailto: str = "unsubscribe@example.org"
    # How a customer checks a request is genuine, named in every message (outreach.trust).
    organisation_website: WebsiteUrl = "https://www.example.org"
    trust_phone: PublishedPhone = "020 123 4567"
    trust_web_path: WebPath = "/contact-check"
    secret_key: SecretStr = Field(
        default=SecretStr(DEFAULT_SECRET),
        description="Signs CSRF tokens and unsubscribe links.",
    )
    sendgrid_webhook_public_key: SecretStr | None = Field(
        default=None,
        description="SendGrid Event Webhook verification key (base64 DER or PEM, EC P-256).",
    )
    twilio_auth_token: SecretStr | None = Field(
        default=None, description="Twilio auth token; checks X-Twilio-Signature on callbacks."
    )
    webhook_max_age_seconds: int = Field(
        default=300, ge=1, description="Signed webhook requests older than this are refused."
    )
    audit_signing_key: SecretStr | None = Field(
        default=None,
        description="Ed25519 key (base64) signing audit checkpoints; see `enrich audit keygen`.",
    )
    audit_public_key: str | None = Field(
        default=None, description="Its public key (base64): what `enrich audit verify` checks."
    )

    # Providers: each channel goes to the local outbox (the default) or to its provider.
    email_channel: Literal["outbox", "sendgrid"] = "outbox"
    sms_channel: Literal["outbox", "twilio"] = "outbox"
    sendgrid_api_key: SecretStr | None = Field(default=None, description="SendGrid API key.")
    sendgrid_host: str = "https://api.sendgrid.com"
    sendgrid_unsubscribe_group_id: int | None = Field(
        default=None, description="SendGrid unsubscribe group (asm.group_id) for every ask."
    )
    sendgrid_sandbox: bool = Field(
        default=False, description="SendGrid sandbox mode: requests are validated, not sent."
    )
    sendgrid_batch_size: int = Field(default=1000, ge=1, le=1000)
    sendgrid_reconcile_grace_minutes: int = Field(
        default=60,
        ge=0,
        description="An email in doubt (no answer recorded for its request) waits this long for "
        "SendGrid's webhook events; then the steward decides (enrich outreach resolve).",
    )
    twilio_account_sid: str | None = None
    twilio_messaging_service_sid: str | None = Field(
        default=None, description="Send through this Messaging Service (else TWILIO_FROM_NUMBER)."
    )
    twilio_from_number: str | None = None
    twilio_base_url: str = "https://api.twilio.com"
    twilio_messages_per_second: float = Field(default=10.0, gt=0)
    twilio_concurrency: int = Field(default=4, ge=1, le=64)
    provider_timeout_seconds: float = Field(default=30.0, gt=0)
    provider_max_retries: int = Field(
        default=5,
        ge=0,
        le=20,
        description="Retries of one provider request (429, 5xx, no connection): at most this "
        "+ 1 attempts per run, in total; Prefect's task retries never add to them "
        "(outreach.providers.retrying).",
    )
    # A confirmation link or code is sent while the customer waits for the page.
    confirmation_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Per request, for the confirmation email or SMS the landing page sends.",
    )
    confirmation_max_retries: int = Field(default=1, ge=0, le=5)
    lease_seconds: float = Field(
        default=120.0,
        ge=1,
        le=3600,
        description="A run's lease on a batch of enrollments lapses this long after its last "
        "heartbeat (a crashed run on another machine; one on this machine lapses at once).",
    )

    landing_rate_limit: int = Field(
        default=30,
        ge=1,
        description="Landing-page requests (/c, /e, /code, /u) per client per window, counted "
        "in the database so every web worker shares them.",
    )
    landing_rate_window_seconds: int = Field(default=60, ge=1)
    trusted_proxies: str = Field(
        default="",
        description="Addresses or CIDR networks of the proxies in front of enrich serve, "
        "comma-separated: only a request from one of them has its client read from "
        "X-Forwarded-For (the right-most address that is not a trusted proxy). Empty: trust none.",
    )
    max_body_bytes: int = Field(
        default=1_000_000, ge=1024, description="Larger request bodies are answered with 413."
    )

    # --- Send windows (models.scheduling.windows): when each channel may send ---------------------
    email_window: str = Field(
        default="08:00-21:00", description="Local hours for email, in the customer's zone."
    )
    email_days: str = Field(default="mon-sat", description="Weekdays for email, like mon-sat.")
    sms_window: str = Field(
        default="09:00-20:00", description="Local hours for SMS, in the customer's zone."
    )
    sms_days: str = Field(default="mon-fri", description="Weekdays for SMS.")
    letter_days: str = Field(default="mon-fri", description="Weekdays letters go out.")
    letter_cutoff: str = Field(
        default="15:00",
        description="Print-run cut-off in DEFAULT_TIME_ZONE; later letters wait for the next "
        "working day (24:00: no cut-off).",
    )
    holiday_country: str = Field(
        default="NL",
        description="Public holidays of this country (ISO alpha-2) are no working days for "
        "letters; empty: none.",
    )

    @field_validator("email_window", "sms_window", "email_days", "sms_days", "letter_days")
    @classmethod
    def _window_readable(cls, value: str, info: ValidationInfo) -> str:
        parse = parse_window if (info.field_name or "").endswith("window") else parse_days
        return _named(info, value, parse)

    @field_validator("letter_cutoff")
    @classmethod
    def _cutoff_readable(cls, value: str, info: ValidationInfo) -> str:
        return _named(info, value, parse_time)

    @field_validator("holiday_country")
    @classmethod
    def _holiday_country_known(cls, value: str, info: ValidationInfo) -> str:
        return _named(info, value, parse_country)

    @field_validator("default_time_zone")
    @classmethod
    def _zone_known(cls, value: str, info: ValidationInfo) -> str:
        return _named(info, value, ZoneInfo)

    @cached_property
    def send_windows(self) -> WindowPolicy:
        """When each channel may send (the ``*_WINDOW``/``*_DAYS``/letter settings), parsed once."""
        return WindowPolicy(
            email=SendWindow(*parse_window(self.email_window), parse_days(self.email_days)),
            sms=SendWindow(*parse_window(self.sms_window), parse_days(self.sms_days)),
            letter_days=parse_days(self.letter_days),
            letter_cutoff=parse_time(self.letter_cutoff),
            holiday_country=parse_country(self.holiday_country),
            organisation_zone=ZoneInfo(self.default_time_zone),
        )

    # --- end of send windows -------------------------------------------------------------------

    # --- Frequency caps and the contact-moment API (models.scheduling.caps, enrich.web) -----------
    cap_period_days: int = Field(default=30, ge=1, description="Frequency caps: window in days.")
    cap_max_messages: int = Field(
        default=4, ge=1, description="Messages per profile within the window, all channels."
    )
    cap_per_channel: str = Field(
        default="email=3,sms=2,letter=1",
        description='Per-channel caps within the window: "email=3,sms=2,letter=1" or JSON '
        '({"email": 3}); a channel left out is limited by CAP_MAX_MESSAGES alone.',
    )
    api_keys: SecretStr | None = Field(
        default=None,
        description="Keys other systems send to POST /api/contact-moments, comma-separated; an "
        "entry sha256:<64 hex> is the SHA-256 of a key, so the key itself need not be stored.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_readable(cls, value: str) -> str:
        _proxy_networks(value)
        return value

    @cached_property
    def trusted_proxy_list(self) -> list[str]:
        """``ENRICH_TRUSTED_PROXIES`` as a list of addresses and networks (empty: none)."""
        return [str(network) for network in _proxy_networks(self.trusted_proxies)]

    @field_validator("cap_per_channel")
    @classmethod
    def _caps_readable(cls, value: str) -> str:
        _channel_caps(value)
        return value

    @cached_property
    def caps(self) -> CapPolicy:
        """The frequency caps (``ENRICH_CAP_*``), parsed once."""
        return CapPolicy(
            period_days=self.cap_period_days,
            max_messages=self.cap_max_messages,
            per_channel=_channel_caps(self.cap_per_channel),
        )

    @cached_property
    def api_key_digests(self) -> tuple[bytes, ...]:
        """SHA-256 digests of the contact-moment API keys; empty when none are configured.

        Checked here, not at load: a validation error would print the secret it refused.
        """
        return _key_digests(self.api_keys.get_secret_value()) if self.api_keys else ()

    # --- end of caps and contact moments -------------------------------------------------------

    # --- Stale sweep (models.retention.sweep_runs) ------------------------------------------------
    sweep_idle_days: int = Field(
        default=730,
        ge=30,
        description="A profile with an exhausted ladder and no interaction for this many days is "
        "proposed for keep, archive or erase by the quarterly sweep.",
    )
    # --- end of stale sweep --------------------------------------------------------------------

    @model_validator(mode="after")
    def _own_secret_outside_a_demo(self) -> Self:
        """The default secret signs nothing that leaves this machine: refused unless the
        landing page is local (``make demo``, a developer's machine)."""
        host = urlsplit(self.base_url).hostname or ""
        if self.secret_key.get_secret_value() == DEFAULT_SECRET and host not in LOCAL_HOSTS:
            raise ValueError(
                "ENRICH_SECRET_KEY: set a secret of your own; the default is only for a local "
                "demo (ENRICH_BASE_URL on localhost)"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'enrich.db'}"

    @property
    def code_secret(self) -> bytes:
        """The key one-time SMS codes are stored under, derived from ``secret_key``."""
        key = self.secret_key.get_secret_value().encode()
        return hmac.new(key, b"enrich sms codes", hashlib.sha256).digest()

    @property
    def resolved_outbox_dir(self) -> Path:
        return self.outbox_dir if self.outbox_dir is not None else self.data_dir / "outbox"


def _named(info: ValidationInfo, value: str, parse: Callable[[str], object]) -> str:
    """``value`` when ``parse`` accepts it; else an error naming the environment variable.

    Used by the send-window validators (ZoneInfo raises KeyError or OSError for unknown names).
    """
    try:
        parse(value)
    except (ValueError, KeyError, OSError) as err:
        raise ValueError(f"ENRICH_{(info.field_name or '').upper()}: {err}") from None
    return value


# --- caps and contact moments: parsers ------------------------------------------------------
_CAP_CHANNELS = ("email", "sms", "letter")


def _channel_caps(text: str) -> dict[str, int]:
    """``"email=3,sms=2"`` or ``'{"email": 3}'`` -> ``{"email": 3, "sms": 2}``."""
    import json

    raw: object
    if text.strip().startswith("{"):
        try:
            raw = json.loads(text)
        except ValueError:
            raise ValueError("ENRICH_CAP_PER_CHANNEL: not valid JSON") from None
    else:
        pairs = [part.split("=", 1) for part in text.split(",") if part.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError("ENRICH_CAP_PER_CHANNEL: expected channel=number, comma-separated")
        raw = {k.strip(): v.strip() for k, v in pairs}
    if not isinstance(raw, dict):
        raise ValueError("ENRICH_CAP_PER_CHANNEL: expected an object of channel: number")
    caps: dict[str, int] = {}
    for channel, limit in raw.items():
        if channel not in _CAP_CHANNELS:
            raise ValueError(f"ENRICH_CAP_PER_CHANNEL: unknown channel {channel!r}")
        if isinstance(limit, bool) or not str(limit).isdigit() or int(limit) < 1:
            raise ValueError(f"ENRICH_CAP_PER_CHANNEL: {channel} needs a whole number >= 1")
        caps[channel] = int(limit)
    return caps


def _proxy_networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """``"10.0.0.1, 192.168.0.0/16"`` -> networks; an address is a network of one."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"ENRICH_TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR network"
            ) from None
    return networks


def _key_digests(text: str) -> tuple[bytes, ...]:
    """SHA-256 digests of comma-separated API keys; ``sha256:<hex>`` entries are digests."""
    digests = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        if entry.startswith("sha256:"):
            try:
                digest = bytes.fromhex(entry.removeprefix("sha256:"))
            except ValueError:
                digest = b""
            if len(digest) != 32:
                raise ValueError("ENRICH_API_KEYS: a sha256: entry needs 64 hex digits")
            digests.append(digest)
        else:
            digests.append(hashlib.sha256(entry.encode()).digest())
    return tuple(digests)


@lru_cache
def get_settings() -> Settings:
    return Settings()
