"""Which of a profile's fields are complete: a verified, fresh value, or every purpose answered.

One bit per field (``FIELD_BITS``). Enrolment stores the mask of each profile as it was when
enrolled (``Enrollment.fields_at_start``), so the steward's report compares the round's start with
now exactly, by the same expression.

A field is complete when the profile holds a contact point of its kind that is ``verified``,
not opted out, and verified within ``max_age_days`` (the ``stale_verification`` rule of
:mod:`models.rounds.selection`). ``consents`` is complete when every purpose of the campaign has
an answer (granted or withdrawn) on its current notice version; a campaign without purposes has
no such field.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, case, exists, func, literal

from models.tables import CONSENT
from models.vocabulary import VERIFIED

FIELD_BITS: Final[dict[str, int]] = {"email": 1, "mobile": 2, "postal": 4, "consents": 8}
CONTACT_FIELDS: Final = ("email", "mobile", "postal")
CONSENTS: Final = "consents"

A = CONSENT.alias("c_answer")


def fields_of(mask: int) -> list[str]:
    return [name for name, bit in FIELD_BITS.items() if mask & bit]


def fresh_contact(contact: Any, *, now: datetime, max_age_days: int) -> ColumnElement[bool]:
    """A contact point of ``contact`` (the table or an alias) that makes its field complete:
    verified, not opted out, verified within ``max_age_days`` of ``now``."""
    return and_(
        contact.c.status == VERIFIED,
        contact.c.opted_out_at.is_(None),
        contact.c.verified_at >= now - timedelta(days=max_age_days),
    )


def fields_mask(
    contact: Any,
    profile_id: Any,
    *,
    now: datetime,
    max_age_days: int,
    purposes: Sequence[tuple[str, str]],
) -> ColumnElement[int]:
    """The mask of complete fields, as an aggregate over ``contact`` (an alias of the contact
    point table, outer-joined and grouped by profile); ``profile_id`` is the outer query's
    profile id column and ``purposes`` the campaign's (key, notice version) pairs."""
    terms: list[Any] = []
    for kind in CONTACT_FIELDS:
        fresh = and_(
            contact.c.kind == kind, fresh_contact(contact, now=now, max_age_days=max_age_days)
        )
        terms.append(func.max(case((fresh, FIELD_BITS[kind]), else_=0)))
    if purposes:
        answered = and_(
            *(
                exists().where(
                    A.c.profile_id == profile_id,
                    A.c.purpose == key,
                    A.c.text_version == version,
                )
                for key, version in purposes
            )
        )
        terms.append(case((answered, FIELD_BITS[CONSENTS]), else_=0))
    mask: Any = terms[0]
    for term in terms[1:]:
        mask = mask + term
    return mask if terms else literal(0)


def campaign_purposes(purposes: Sequence[Any]) -> list[tuple[str, str]]:
    """(key, notice version) of a campaign's purposes, in a stable order."""
    return sorted((p.key, p.text_version) for p in purposes)
