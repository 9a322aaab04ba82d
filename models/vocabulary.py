"""The allowed values of the string status and type columns, in one place."""

from __future__ import annotations

from enum import StrEnum, unique
from typing import Final

CONTACT_KINDS: Final = ("email", "mobile", "phone", "postal")

# ContactPoint.status
UNVERIFIED: Final = "unverified"
VALID: Final = "valid"
VERIFIED: Final = "verified"
BOUNCED: Final = "bounced"
INVALID: Final = "invalid"
OPTED_OUT: Final = "opted_out"
# The customer said the value is wrong without giving a new one: never written to while it lasts.
CONTESTED: Final = "contested"
CONTACT_STATUSES: Final = (UNVERIFIED, VALID, VERIFIED, BOUNCED, INVALID, OPTED_OUT, CONTESTED)
# A contact point we may write to.
USABLE_STATUSES: Final = (UNVERIFIED, VALID, VERIFIED)

# Enrollment.state
ACTIVE: Final = "active"
COMPLETED: Final = "completed"
EXHAUSTED: Final = "exhausted"
STOPPED: Final = "stopped"
ENROLLMENT_STATES: Final = (ACTIVE, COMPLETED, EXHAUSTED, STOPPED)

# Round.status of a contact-moments round (models.contact_moments.recording); it never finishes.
STANDING: Final = "standing"

# Outreach.status
PENDING: Final = "pending"
SENT: Final = "sent"
FAILED: Final = "failed"
SKIPPED: Final = "skipped"
OUTREACH_STATUSES: Final = (PENDING, SENT, FAILED, SKIPPED)

# Channels
EMAIL: Final = "email"
SMS: Final = "sms"
LETTER: Final = "letter"
CHANNELS: Final = (EMAIL, SMS, LETTER)
# The contact-point kind each channel writes to.
CHANNEL_KIND: Final = {EMAIL: "email", SMS: "mobile", LETTER: "postal"}

# DeliveryEvent.event_type (django-anymail's vocabulary)
EVENT_TYPES: Final = (
    "queued",
    "sent",
    "rejected",
    "failed",
    "bounced",
    "deferred",
    "delivered",
    "opened",
    "clicked",
    "complained",
    "unsubscribed",
    "inbound",
    "unknown",
)


@unique
class AuditAction(StrEnum):
    """AuditEvent.action: what happened, as ``<entity type>.<what>``. The values are stored, so
    they never change; the README's "What the trail records" lists them for the auditor."""

    PROFILE_CREATE = "profile.create"
    PROFILE_UPDATE = "profile.update"
    PROFILE_ARCHIVED = "profile.archived"
    PROFILE_ERASED = "profile.erased"
    PROFILE_OBJECTED = "profile.objected"
    PROFILE_OBJECTION_WITHDRAWN = "profile.objection_withdrawn"
    PROFILE_RESTRICTED = "profile.restricted"
    PROFILE_RESTRICTION_LIFTED = "profile.restriction_lifted"
    PROFILE_EXPORTED = "profile.exported"
    PROFILE_DOSSIER_READ = "profile.dossier_read"
    PROFILE_FIELD_DECLINED = "profile.field_declined"
    PROFILE_FIELD_DECLINE_WITHDRAWN = "profile.field_decline_withdrawn"
    CONTACT_POINT_CREATE = "contact_point.create"
    CONTACT_POINT_UPDATE = "contact_point.update"
    CONTACT_POINT_ADDED = "contact_point.added"
    CONTACT_POINT_REENTERED = "contact_point.reentered"
    CONTACT_POINT_CONFIRMED = "contact_point.confirmed"
    CONTACT_POINT_CONTESTED = "contact_point.contested"
    CONTACT_POINT_VERIFIED = "contact_point.verified"
    CONTACT_POINT_BOUNCED = "contact_point.bounced"
    CONTACT_POINT_INVALID = "contact_point.invalid"
    CONTACT_POINT_OPT_OUT = "contact_point.opt_out"
    CONTACT_POINT_OPTED_OUT = "contact_point.opted_out"
    CONTACT_POINT_RESTORED = "contact_point.restored"
    CONTACT_POINT_OPT_OUT_SIGNAL = "contact_point.opt_out_signal"
    CONTACT_POINT_OPT_IN_SIGNAL = "contact_point.opt_in_signal"
    CONSENT_GRANTED = "consent.granted"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    INCENTIVE_ENTERED = "incentive.entered"
    INCENTIVE_EARNED = "incentive.earned"
    SUBMISSION_RECEIVED = "submission.received"
    ROUND_START = "round.start"
    ROUND_FINISH = "round.finish"
    ROUND_CAMPAIGN_UPDATED = "round.campaign_updated"
    ENROLLMENT_START = "enrollment.start"
    ENROLLMENT_DUE_NOW = "enrollment.due_now"
    ENROLLMENT_COMPLETE = "enrollment.complete"
    ENROLLMENT_EXHAUSTED = "enrollment.exhausted"
    ENROLLMENT_STOP = "enrollment.stop"
    OUTREACH_SENT = "outreach.sent"
    OUTREACH_FAILED = "outreach.failed"
    OUTREACH_RESOLVED = "outreach.resolved"
    SWEEP_START = "sweep.start"
    SWEEP_FINISH = "sweep.finish"
    SWEEP_DECIDED = "sweep.decided"


# The action a contact point's new delivery status is audited as (webhooks, suppression lists).
STATUS_ACTION: Final = {
    BOUNCED: AuditAction.CONTACT_POINT_BOUNCED,
    INVALID: AuditAction.CONTACT_POINT_INVALID,
    OPTED_OUT: AuditAction.CONTACT_POINT_OPTED_OUT,
}
