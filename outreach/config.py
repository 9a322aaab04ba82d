"""What the outreach layer needs to know, handed in by the caller (it reads no settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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
    default_locale: str = "nl"
    supported_locales: tuple[str, ...] = ("nl", "en")
    token_ttl_days: int = 60
    letter_batch_size: int = 500
    extra: dict[str, str] = field(default_factory=dict)
