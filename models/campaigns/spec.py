"""Campaigns are data: a YAML file naming the gaps, the ladder and the purposes.

Loading a file returns a validated :class:`CampaignSpec`; :func:`sync_campaign` stores it as a
new :class:`~models.tables.Campaign` version whenever its content changed.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from models.campaigns.gaps import GAPS, OUTDATED_CONSENT
from models.consent.notices import PURPOSE_PATTERN, VERSION_PATTERN
from models.tables import Campaign
from models.types import utcnow
from models.vocabulary import CHANNELS, EMAIL, SMS

# Top-level keys of a campaign file added after the first release (see content_hash).
LATER_KEYS = ("costs", "forecast_defaults", "incentive")


class CampaignError(ValueError):
    """The campaign file is missing or invalid; the message says where."""


class Step(BaseModel):
    channel: str
    template: str = "ask"
    wait_days: float = Field(gt=0)

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, value: str) -> str:
        if value not in CHANNELS:
            raise ValueError(f"unknown channel {value!r}; expected one of {', '.join(CHANNELS)}")
        return value


class Purpose(BaseModel):
    """A consent question: asked per channel the customer has, on the notice ``text_version``
    (``templates/notices/<key>/<text_version>.<locale>.md``)."""

    key: str = Field(pattern=PURPOSE_PATTERN)
    required: bool = False
    text_version: str = Field(pattern=VERSION_PATTERN)
    # Electronic channels by default: those are the ones consent law asks about.
    channels: list[str] = Field(default=[EMAIL, SMS], min_length=1)
    # A grant on another version of the notice is a gap (``outdated_consent``): ask again.
    reask_on_new_notice: bool = False

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in CHANNELS]
        if unknown or len(set(value)) != len(value):
            raise ValueError(f"channels must be distinct, some of {', '.join(CHANNELS)}")
        return value


class Costs(BaseModel):
    """What one message costs per channel, in one currency (the report's spend and the plan's
    forecast); a channel left out costs nothing."""

    currency: str = Field(pattern=r"^[A-Z]{3}$")
    per_message: dict[str, float] = {}

    @field_validator("per_message")
    @classmethod
    def _known_channels(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = [c for c in value if c not in CHANNELS]
        if unknown:
            raise ValueError(f"unknown channels {unknown}; expected some of {', '.join(CHANNELS)}")
        bad = [c for c, cost in value.items() if not math.isfinite(cost) or cost < 0]
        if bad:
            raise ValueError(f"the cost per message of {', '.join(bad)} must be zero or more")
        return value

    def of(self, channel: str) -> float:
        return self.per_message.get(channel, 0.0)


class Incentive(BaseModel):
    """A prize draw or a discount for completing one's details, on its own terms
    (``templates/incentives/<key>/<terms_version>.<locale>.md``, models.incentives); ``cost``
    is what one award costs, in the currency of ``costs`` (the report's incentive cost)."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=PURPOSE_PATTERN)
    kind: Literal["prize_draw", "discount"]
    terms_version: str = Field(pattern=VERSION_PATTERN)
    cost: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class ForecastRates(BaseModel):
    """The plan's forecast rates for one channel when no earlier round shows them
    (models.forecast): shares of the messages sent that got an answer, a verified contact
    point, a completed enrollment; ``sent``: the share of due messages that go out."""

    model_config = ConfigDict(extra="forbid")

    answered: float = Field(ge=0, le=1, allow_inf_nan=False)
    verified: float = Field(ge=0, le=1, allow_inf_nan=False)
    completed: float = Field(ge=0, le=1, allow_inf_nan=False)
    sent: float = Field(default=1.0, ge=0, le=1, allow_inf_nan=False)

    @model_validator(mode="after")
    def _within_answered(self) -> ForecastRates:
        if self.verified > self.answered or self.completed > self.answered:
            raise ValueError("verified and completed cannot exceed answered (both follow answers)")
        return self


class CampaignSpec(BaseModel):
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str
    gaps: list[str] = Field(min_length=1)
    ladder: list[Step] = Field(min_length=1)
    purposes: list[Purpose] = []
    costs: Costs | None = None
    # Per channel: the forecast's rates before earlier rounds show them (models.forecast).
    forecast_defaults: dict[str, ForecastRates] | None = None
    # A prize draw or discount offered on the page and in the messages (models.incentives).
    incentive: Incentive | None = None

    @field_validator("gaps")
    @classmethod
    def _known_gaps(cls, value: list[str]) -> list[str]:
        unknown = [g for g in value if g not in GAPS]
        if unknown:
            raise ValueError(f"unknown gaps {unknown}; expected some of {', '.join(GAPS)}")
        return value

    @field_validator("forecast_defaults")
    @classmethod
    def _forecast_channels(
        cls, value: dict[str, ForecastRates] | None
    ) -> dict[str, ForecastRates] | None:
        unknown = [c for c in value or {} if c not in CHANNELS]
        if unknown:
            raise ValueError(f"unknown channels {unknown}; expected some of {', '.join(CHANNELS)}")
        return value

    @model_validator(mode="after")
    def _reask_gap(self) -> CampaignSpec:
        """A purpose with ``reask_on_new_notice`` selects by the ``outdated_consent`` gap (the
        gap listed with no purpose to re-ask selects nobody)."""
        keys = [p.key for p in self.purposes]
        if len(set(keys)) != len(keys):
            raise ValueError("each purpose may appear once")
        if self.incentive and self.incentive.cost is not None and self.costs is None:
            raise ValueError("incentive.cost needs costs (its currency) in the campaign")
        if self.reask_versions() and OUTDATED_CONSENT not in self.gaps:
            self.gaps.append(OUTDATED_CONSENT)
        return self

    def reask_versions(self) -> dict[str, str]:
        """The notice version of each purpose whose older grants are a gap."""
        return {p.key: p.text_version for p in self.purposes if p.reask_on_new_notice}

    def content_hash(self) -> str:
        # Keys added after the first release are left out while unset, so a stored version's
        # hash stays what it was.
        data = self.model_dump(mode="json")
        for key in LATER_KEYS:
            if data.get(key) is None:
                data.pop(key, None)
        canonical = json.dumps(data, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def load_campaign(path: Path) -> CampaignSpec:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise CampaignError(f"campaign file not found: {path}") from err
    except yaml.YAMLError as err:
        raise CampaignError(f"campaign file {path} is not valid YAML: {err}") from err
    try:
        return CampaignSpec.model_validate(data)
    except ValidationError as err:
        raise CampaignError(f"campaign file {path} is invalid:\n{err}") from err


def sync_campaign(*, session: Session, spec: CampaignSpec) -> Campaign:
    """The stored version of ``spec``: the latest one if unchanged, else a new version."""
    latest = session.exec(
        select(Campaign).where(Campaign.key == spec.key).order_by(col(Campaign.version).desc())
    ).first()
    digest = spec.content_hash()
    if latest is not None and latest.content_hash == digest:
        return latest
    version = (latest.version + 1) if latest else 1
    insert = (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert
    # Two runs storing the same edit at once: one insert wins, the other finds its row.
    session.execute(
        insert(Campaign)
        .values(
            key=spec.key,
            version=version,
            content_hash=digest,
            definition=spec.model_dump(mode="json"),
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["key", "version"])
    )
    stored = session.exec(
        select(Campaign)
        .where(Campaign.key == spec.key, Campaign.version == version)
        .execution_options(populate_existing=True)
    ).one()
    if stored.content_hash != digest:  # a different edit took this version number meanwhile
        return sync_campaign(session=session, spec=spec)
    return stored
