"""SQLModel tables for the vocabulary of the design notes.

Status and event-type columns are plain strings (the allowed values are listed in
:mod:`models.vocabulary`); timestamps are aware UTC; JSON columns hold evidence and raw payloads.
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlmodel import SQLModel

from models.tables.customers import Consent, ContactPoint, Profile
from models.tables.exports import ExportCursor
from models.tables.incentives import IncentiveEntry
from models.tables.messages import (
    DeliveryEvent,
    Outreach,
    RateLimitHit,
    RejectedWebhookEvent,
    Submission,
    VerificationToken,
)
from models.tables.retention import ErasureNotice, SweepProposal, SweepRun
from models.tables.rounds import Campaign, Enrollment, Round
from models.tables.trail import AuditEvent, AuditPersonal

__all__ = [
    "AUDIT",
    "AUDIT_PERSONAL",
    "CAMPAIGN",
    "CONSENT",
    "CONTACT",
    "DELIVERY",
    "ENROLLMENT",
    "ERASURE_NOTICE",
    "EXPORT_CURSOR",
    "INCENTIVE_ENTRY",
    "OUTREACH",
    "PROFILE",
    "PROPOSAL",
    "RATE_LIMIT",
    "REJECTED",
    "ROUND",
    "SUBMISSION",
    "SWEEP_RUN",
    "TOKEN",
    "AuditEvent",
    "AuditPersonal",
    "Campaign",
    "Consent",
    "ContactPoint",
    "DeliveryEvent",
    "Enrollment",
    "ErasureNotice",
    "ExportCursor",
    "IncentiveEntry",
    "Outreach",
    "Profile",
    "RateLimitHit",
    "RejectedWebhookEvent",
    "Round",
    "Submission",
    "SweepProposal",
    "SweepRun",
    "VerificationToken",
]

# Core tables for set-based SQL (SQLModel leaves ``__table__`` untyped; only this reads it).


def _table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined,no-any-return]


PROFILE = _table(Profile)
CONTACT = _table(ContactPoint)
CONSENT = _table(Consent)
CAMPAIGN = _table(Campaign)
ROUND = _table(Round)
ENROLLMENT = _table(Enrollment)
EXPORT_CURSOR = _table(ExportCursor)
INCENTIVE_ENTRY = _table(IncentiveEntry)
OUTREACH = _table(Outreach)
DELIVERY = _table(DeliveryEvent)
REJECTED = _table(RejectedWebhookEvent)
RATE_LIMIT = _table(RateLimitHit)
TOKEN = _table(VerificationToken)
SUBMISSION = _table(Submission)
AUDIT = _table(AuditEvent)
AUDIT_PERSONAL = _table(AuditPersonal)
SWEEP_RUN = _table(SweepRun)
PROPOSAL = _table(SweepProposal)
ERASURE_NOTICE = _table(ErasureNotice)
