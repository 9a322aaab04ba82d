"""The allowed values of the string status and type columns, in one place."""

from __future__ import annotations

from typing import Final

CONTACT_KINDS: Final = ("email", "mobile", "phone", "postal")

# ContactPoint.status
UNVERIFIED: Final = "unverified"
VALID: Final = "valid"
VERIFIED: Final = "verified"
BOUNCED: Final = "bounced"
INVALID: Final = "invalid"
OPTED_OUT: Final = "opted_out"
CONTACT_STATUSES: Final = (UNVERIFIED, VALID, VERIFIED, BOUNCED, INVALID, OPTED_OUT)
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
