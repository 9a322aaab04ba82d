"""What happened to each message of a round's ladder, as subqueries keyed by the outreach id.

A round's messages are the outreach rows of its enrollments with no ``context`` (contact-moment
asks are left out: they belong to another system's message). Every figure of the report is
counted from these rows and what the tables hold about each, never from counters kept aside:

- **events**: the provider's delivery events of the message (``delivery_event``);
- **answers**: landing-page submissions made with the message's personal link or QR code
  (``submission.outreach_id``), and when the first came;
- **link opens**: the message's personal-link token opened the landing page
  (``verification_token.opened_at``, kind ``link``);
- **proofs**: the audit trail's ``contact_point.verified`` events whose evidence names the message
  (``evidence.outreach_id``): an answer on the page, or the email confirmation link or SMS code
  that answer asked for, each carries the message it came through.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import ColumnElement, Subquery, and_, case, exists, func, select

from models.tables import AUDIT, DELIVERY, ENROLLMENT, OUTREACH, SUBMISSION, TOKEN
from models.vocabulary import AuditAction

OUT = OUTREACH
E = ENROLLMENT
LINK_KIND: Final = "link"
# How far a message got by its events (its best event's level), and the level each of the
# funnel's stages needs: delivered (1), opened (2), clicked (3).
LEVEL: Final = {"delivered": 1, "opened": 2, "clicked": 3}
VERIFIED_ACTION: Final = AuditAction.CONTACT_POINT_VERIFIED.value


def in_round(round_id: int) -> ColumnElement[bool]:
    """The round's ladder messages: its enrollments' outreach rows without a ``context`` (the
    round is kept on each message: one range of ``ix_outreach_round_ladder``)."""
    return and_(OUT.c.round_id == round_id, OUT.c.context.is_(None))


def delivery_levels(round_id: int) -> Subquery:
    """Per sent message of the round with delivery events: its ``step_index``, ``channel`` and
    ``level``, the level of its best event (:data:`LEVEL`; 0 for other events). A message is
    delivered when the provider said so or when it was opened or clicked; opened when opened or
    clicked. The events are grouped per message first, in the order of their index and from it
    alone, and only then joined to their message by primary key."""
    d = DELIVERY.c
    best = (
        select(d.outreach_id, func.max(case(LEVEL, value=d.event_type, else_=0)).label("level"))
        .group_by(d.outreach_id)
        .subquery("best_events")
    )
    return (
        select(OUT.c.step_index, OUT.c.channel, best.c.level)
        .select_from(best.join(OUT, OUT.c.id == best.c.outreach_id))
        .where(in_round(round_id), OUT.c.sent_at.is_not(None))
        .subquery("delivery_levels")
    )


def answers() -> Subquery:
    """Per message answered on the landing page: ``first_at``, when the first answer came."""
    s = SUBMISSION.c
    return (
        select(s.outreach_id, func.min(s.received_at).label("first_at"))
        .where(s.outreach_id.is_not(None))
        .group_by(s.outreach_id)
        .subquery("message_answers")
    )


def link_opens() -> Subquery:
    """The messages whose personal link (or the QR code of a letter) opened the page, once each
    (a message may carry a reissued token): ``outreach_id``."""
    t = TOKEN.c
    return (
        select(t.outreach_id)
        .where(t.kind == LINK_KIND, t.opened_at.is_not(None))
        .distinct()
        .subquery("message_link_opens")
    )


def link_opened() -> ColumnElement[bool]:
    """Whether the message's personal link (or the QR code of a letter) opened the page, looked
    up by the message (its tokens' index)."""
    t = TOKEN.c
    return exists().where(t.outreach_id == OUT.c.id, t.kind == LINK_KIND, t.opened_at.is_not(None))


def proof_outreach_id() -> ColumnElement[Any]:
    """The message an audit event's evidence names (``evidence.outreach_id``), as an integer."""
    return AUDIT.c.evidence["outreach_id"].as_integer()


def proofs() -> Subquery:
    """The messages named by a ``contact_point.verified`` event on the trail: a contact point
    verified by an answer made through the message (confirmed on the page), or by the email
    confirmation link or SMS code that answer asked for."""
    a = AUDIT.c
    message = proof_outreach_id()
    return (
        select(message.label("outreach_id"))
        .where(
            a.entity_type == "contact_point",  # the audit's entity index narrows the scan
            a.action == VERIFIED_ACTION,
            message.is_not(None),
        )
        .group_by(message)
        .subquery("message_proofs")
    )


def int_of(value: Any) -> int:
    """A count as the database gave it (``None`` for a sum over no rows) as an int."""
    return int(value or 0)
