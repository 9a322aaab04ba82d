"""Settings for every entry point, read from ``ENRICH_*`` environment variables and ``.env``.

Nothing is built at import time: call :func:`get_settings`. Flows read settings too, so this
module imports nothing else of ours.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    supported_locales: list[str] = ["nl", "en", "de", "fr"]
    default_time_zone: str = "Europe/Amsterdam"

    token_ttl_days: int = Field(default=60, ge=1)
    verification_max_age_days: int = Field(default=730, ge=1)
    cooldown_days: int = Field(default=30, ge=0)
    batch_size: int = Field(default=1000, ge=1, le=50_000)
    letter_batch_size: int = Field(default=500, ge=1)

    organisation_name: str = "Example Energy B.V."
    organisation_address: list[str] = ["Postbus 1234", "1000 AB Amsterdam"]
    sender_email: str = "service@example.org"
    sender_name: str = "Example Energy"
    unsubscribe_mailto: str = "unsubscribe@example.org"
    secret_key: SecretStr = Field(
        default=SecretStr("change-me-in-production"),
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
    landing_rate_limit: int = Field(
        default=30,
        ge=1,
        description="Landing-page requests (/c, /e, /code) per client per window, per process.",
    )
    landing_rate_window_seconds: int = Field(default=60, ge=1)
    max_body_bytes: int = Field(
        default=1_000_000, ge=1024, description="Larger request bodies are answered with 413."
    )

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


@lru_cache
def get_settings() -> Settings:
    return Settings()
