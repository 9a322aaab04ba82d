"""Which profiles hold a consent granted on an older notice: the ``outdated_consent`` gap.

A campaign purpose with ``reask_on_new_notice`` turns it on. The consent that counts is the one
in force per purpose and channel: the newest row, where a row without a channel (given before
consents had channels, or an objection to the purpose) stands for every channel: it supersedes
older answers on each, and any newer answer for the purpose supersedes it. It counts when it is
a grant on another notice version than the campaign's, for a channel the customer still has a
contact point of that is not opted out: an opt-out always wins, and nobody is re-asked about a
channel they left.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, false, or_, true

from models.tables import CONSENT, CONTACT
from models.vocabulary import CHANNEL_KIND, OPTED_OUT

C = CONSENT.alias("c_in_force")
NEWER = CONSENT.alias("c_newer")
K = CONTACT.alias("c_point")


def outdated_grant(profile_id: Any, reask: Mapping[str, str]) -> ColumnElement[bool]:
    """True for the profile ``profile_id`` (a column of the outer query) when a consent in
    force was granted on a notice version other than ``reask[purpose]``."""
    if not reask:
        return false()
    on_old_notice = or_(
        *(
            and_(C.c.purpose == purpose, or_(C.c.text_version.is_(None), C.c.text_version != v))
            for purpose, v in sorted(reask.items())
        )
    )
    superseded = exists().where(
        NEWER.c.profile_id == C.c.profile_id,
        NEWER.c.purpose == C.c.purpose,
        # An answer without a channel (given before channels, or an objection to the purpose)
        # stands for every channel, both ways.
        or_(NEWER.c.channel == C.c.channel, C.c.channel.is_(None), NEWER.c.channel.is_(None)),
        or_(
            NEWER.c.recorded_at > C.c.recorded_at,
            and_(NEWER.c.recorded_at == C.c.recorded_at, NEWER.c.id > C.c.id),
        ),
    )
    kind = case(*((C.c.channel == ch, k) for ch, k in CHANNEL_KIND.items()), else_=None)
    still_reachable = or_(
        C.c.channel.is_(None),
        exists().where(
            K.c.profile_id == C.c.profile_id,
            K.c.kind == kind,
            K.c.status != OPTED_OUT,
            K.c.opted_out_at.is_(None),
        ),
    )
    return exists().where(
        C.c.profile_id == profile_id,
        C.c.granted == true(),
        on_old_notice,
        ~superseded,
        still_reachable,
    )
