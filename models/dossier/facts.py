"""The facts of one profile's dossier, as typed records the renderers turn into text, JSON or HTML.

Every record holds what the database holds (values included: the dossier is an access document
for the data-protection officer, never a log line). Times are aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit row about the profile or one of its records, as the trail holds it."""

    id: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    evidence: dict[str, Any] | None
    # Sealed into the hash chain (models.audit_trail.sealing): it can no longer change unseen.
    sealed: bool = False


@dataclass(frozen=True, slots=True)
class Source:
    """Where a value came from: an import's file and line, the landing page, a provider event."""

    kind: str  # "import", "landing", "provider" or "unknown"
    stored: str | None  # the record's ``source`` column, as written by its last writer
    at: datetime | None
    actor: str | None
    file: str | None = None
    line: int | None = None
    outreach_id: int | None = None  # landing page: the message whose link the customer used


@dataclass(frozen=True, slots=True)
class Verification:
    """One proof that a value is right: when, how, and the message it came through."""

    at: datetime
    method: str | None
    actor: str
    evidence: dict[str, Any] | None
    outreach_id: int | None  # the message whose link or code the customer answered
    channel: str | None  # the channel of that message
    token_kind: str | None  # "link", "email_confirm", "sms_code": what the customer used
    # The confirmation email or code SMS that carried an ``email_confirm`` / ``sms_code`` proof.
    carried_by: int | None = None


@dataclass(frozen=True, slots=True)
class Challenge:
    """A sign that a value is wrong: a bounce, a dead number, a returned letter, the customer."""

    at: datetime
    kind: str  # "bounce", "invalid", "returned_letter", "contested"
    action: str
    actor: str
    reason: str | None
    outreach_id: int | None
    evidence: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class ContactPointFacts:
    """One contact point: its value, where it came from, its changes, proofs and challenges."""

    id: int
    kind: str | None
    value: str | None  # None once deleted by an erasure
    address: dict[str, str | None] | None  # the postal parts, for a postal address
    status: str | None
    is_primary: bool | None
    invalid_reason: str | None
    deleted: bool  # the row is gone (erasure); what remains is the trail below
    source: Source
    origin: Source | None  # the first writer (the import or page that created it)
    verified_at: datetime | None
    verification_method: str | None
    bounced_at: datetime | None
    opted_out_at: datetime | None
    # When the value needs updating: verified values go stale max_age_days after verification.
    update_due: datetime | None
    update_rule: str
    verifications: list[Verification] = field(default_factory=list)
    challenges: list[Challenge] = field(default_factory=list)
    changes: list[Entry] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class DeliveryFact:
    occurred_at: datetime
    received_at: datetime
    provider: str
    event_type: str
    detail: str | None
    provider_event_id: str


@dataclass(frozen=True, slots=True)
class LinkFact:
    """A personal link, confirmation link or code issued with a message (its hash stays out)."""

    id: int
    kind: str
    contact_point_id: int | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class AnswerFact:
    """One landing-page submission: what the customer confirmed, changed and consented to."""

    id: int
    received_at: datetime
    outreach_id: int | None
    client_time: str | None
    data: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """One message (or skipped step) with why it was sent, what came back and the answers."""

    id: int
    created_at: datetime
    sent_at: datetime | None
    channel: str
    template: str
    locale: str | None
    context: str | None  # a contact moment's occasion; None for a ladder step
    status: str
    reason: str | None
    provider: str | None
    provider_message_id: str | None
    error: str | None
    contact_point_id: int | None
    enrollment_id: int | None
    round_id: int | None
    campaign: str | None  # "key vN"
    step: int | None  # 1-based ladder step
    gaps: list[str]
    events: list[DeliveryFact] = field(default_factory=list)
    links: list[LinkFact] = field(default_factory=list)
    answers: list[AnswerFact] = field(default_factory=list)
    trail: list[Entry] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class EnrollmentFacts:
    id: int
    round_id: int
    campaign: str | None
    state: str
    gaps: list[str]
    step: int | None  # the last step taken, 1-based
    created_at: datetime
    ended_at: datetime | None
    end_reason: str | None


@dataclass(frozen=True, slots=True)
class ConsentFacts:
    """One consent answer; the newest per purpose and channel is the one in force."""

    id: int
    purpose: str
    channel: str | None
    granted: bool
    text_version: str | None
    source: str
    recorded_at: datetime
    evidence: dict[str, Any] | None
    text_locale: str | None  # the notice shown: its locale and the sha256 of its exact text
    text_sha256: str | None
    # The notice file of that version and locale, when the dossier was given the templates:
    # its text, and whether it still hashes to what the consent recorded (None: nothing to check).
    text_shown: str | None = None
    text_matches: bool | None = None


@dataclass(frozen=True, slots=True)
class IncentiveFacts:
    """One entry to a campaign's incentive: the terms agreed to, and when it was earned."""

    id: int
    incentive_key: str
    terms_version: str
    terms_sha256: str
    round_id: int
    enrollment_id: int
    entered_at: datetime
    earned_at: datetime | None


@dataclass(frozen=True, slots=True)
class ProfileFacts:
    id: int
    external_id: str
    given_name: str | None
    family_name: str | None
    locale: str
    country: str | None
    time_zone: str | None
    source: Source
    created_at: datetime
    updated_at: datetime
    last_contacted_at: datetime | None
    last_interaction_at: datetime | None
    # The stale sweep looks at the profile again once it has been idle this long.
    review_due: datetime | None
    # The rights the person used, and what Enrich did on its own (timestamps of the profile).
    states: dict[str, datetime | None] = field(default_factory=dict)
    changes: list[Entry] = field(default_factory=list)  # created and updated by imports


@dataclass(frozen=True, slots=True)
class Rules:
    """The settings the dates in the dossier follow."""

    verification_max_age_days: int
    sweep_idle_days: int


@dataclass(frozen=True, slots=True)
class Dossier:
    generated_at: datetime
    rules: Rules
    profile: ProfileFacts
    contact_points: list[ContactPointFacts]
    messages: list[MessageFacts]
    enrollments: list[EnrollmentFacts]
    consents: list[ConsentFacts]
    answers: list[AnswerFact]
    # Objection, restriction, opt-out of the whole profile, archiving, erasure: the trail rows.
    rights: list[Entry]
    trail: list[Entry]
    erased: bool
    incentives: list[IncentiveFacts] = field(default_factory=list)
