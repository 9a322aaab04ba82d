"""Which profiles a campaign selects, and why: gap masks and exclusions in one set-based query.

The query walks profiles once, left-joins their contact points and folds them into per-profile
flags (``MAX(CASE ...)``); the gap mask is a sum of ``CASE WHEN <flags> THEN bit`` over the
campaign's gaps. It runs unchanged on SQLite and PostgreSQL.

Rules (see the README): an opted-out contact point blocks every gap of its kind (we never
re-ask for a channel the customer left); a value the customer contested is never used and
counts as invalid (``invalid_email``, ``invalid_mobile``; a contested address is not verified,
so ``unverified_postal``); a profile with no postal address at all has the
``unverified_postal`` gap (we ask for one); a verified contact point without a ``verified_at``
counts as stale, since nothing proves when it was verified; ``outdated_consent`` is a consent in
force granted on an older notice (:mod:`models.consent.outdated`). Archived profiles (a
stale-sweep decision) are never selected.

A profile whose ladder ran out (an enrollment ended ``exhausted``) waits
``exhausted_cooldown_days`` after that end, or until its data changes, whichever comes first: a
contact point created or changed since (a new or changed value from an import, a value confirmed
or corrected on the landing page, a status set by a provider event, a suppression sync or a
returned letter), or a landing-page answer received since. Changes to the name, locale or time
zone do not count: they give no new way to reach the customer. A contact-moment enrollment
whose links expired (also ``exhausted``) never asked through a ladder and does not hold the
profile back.

A customer who said on the landing page that they have no email address (or no mobile number)
is not asked for one again for ``declined_days``: within that period the email gaps (or the
mobile gaps) do not count for them (:mod:`models.answers.declined`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from models.campaigns.gaps import GAP_BITS
from models.campaigns.ladder import first_step
from models.campaigns.spec import CampaignSpec, Purpose
from models.consent.outdated import outdated_grant
from models.rounds.completeness import campaign_purposes, fields_mask
from models.tables import CONTACT, ENROLLMENT, PROFILE, ROUND, SUBMISSION
from models.vocabulary import (
    ACTIVE,
    BOUNCED,
    CONTESTED,
    EXHAUSTED,
    INVALID,
    OPTED_OUT,
    STANDING,
    USABLE_STATUSES,
    VERIFIED,
)

P = PROFILE.alias("p")
CP = CONTACT.alias("cp")
E = ENROLLMENT
R = ROUND
S = SUBMISSION

# Exclusion reasons, in the order a profile is attributed to one of them.
EXCLUDED_OPTED_OUT = "opted_out"
EXCLUDED_ENROLLED = "enrolled"
EXCLUDED_EXHAUSTED = "exhausted"
EXCLUDED_COOLDOWN = "cooldown"
# Processing restricted on request (Art. 18): kept, not selected (models.data_subject).
EXCLUDED_RESTRICTED = "restricted"
EXCLUSIONS = (
    EXCLUDED_OPTED_OUT,
    EXCLUDED_RESTRICTED,
    EXCLUDED_ENROLLED,
    EXCLUDED_EXHAUSTED,
    EXCLUDED_COOLDOWN,
)
NO_CHANNEL = "none"
# How long "I don't have one" holds unless configured (Settings.declined_field_days).
DECLINED_DAYS = 365
# A value the customer contested is as broken as an invalid one: the invalid gaps ask for a new one.
BROKEN = (INVALID, CONTESTED)


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """1 when any of the profile's contact points meets ``condition``, else 0."""
    return func.max(case((condition, 1), else_=0))


def _usable(kind: str) -> ColumnElement[bool]:
    return and_(CP.c.kind == kind, CP.c.status.in_(USABLE_STATUSES), CP.c.opted_out_at.is_(None))


def _opted_out(kind: str) -> ColumnElement[bool]:
    return and_(CP.c.kind == kind, or_(CP.c.status == OPTED_OUT, CP.c.opted_out_at.is_not(None)))


def _flags(*, now: datetime, max_age_days: int) -> dict[str, ColumnElement[int]]:
    stale_before = now - timedelta(days=max_age_days)
    return {
        "any_email": _flag(CP.c.kind == "email"),
        "any_mobile": _flag(CP.c.kind == "mobile"),
        "usable_email": _flag(_usable("email")),
        "usable_mobile": _flag(_usable("mobile")),
        "usable_postal": _flag(_usable("postal")),
        "blocked_email": _flag(_opted_out("email")),
        "blocked_mobile": _flag(_opted_out("mobile")),
        "blocked_postal": _flag(_opted_out("postal")),
        "bounced_email": _flag(and_(CP.c.kind == "email", CP.c.status == BOUNCED)),
        "invalid_email": _flag(and_(CP.c.kind == "email", CP.c.status.in_(BROKEN))),
        "invalid_mobile": _flag(and_(CP.c.kind == "mobile", CP.c.status.in_(BROKEN))),
        "verified_postal": _flag(
            and_(CP.c.kind == "postal", CP.c.status == VERIFIED, CP.c.opted_out_at.is_(None))
        ),
        "stale": _flag(
            and_(
                CP.c.kind.in_(("email", "mobile", "postal")),
                CP.c.status == VERIFIED,
                CP.c.opted_out_at.is_(None),
                or_(CP.c.verified_at.is_(None), CP.c.verified_at < stale_before),
            )
        ),
    }


def _asked(kind: str, declined_since: datetime) -> ColumnElement[bool]:
    """The customer has not said within the period that they have no ``kind``."""
    column = P.c.email_declined_at if kind == "email" else P.c.mobile_declined_at
    return or_(column.is_(None), column < declined_since)


def _gap_conditions(
    f: dict[str, ColumnElement[int]], reask: Mapping[str, str], declined_since: datetime
) -> dict[str, ColumnElement[bool]]:
    def no_usable_left(kind: str) -> ColumnElement[bool]:
        return and_(f[f"usable_{kind}"] == 0, f[f"blocked_{kind}"] == 0)

    email, mobile = _asked("email", declined_since), _asked("mobile", declined_since)
    return {
        "missing_email": and_(f["any_email"] == 0, email),
        "bounced_email": and_(f["bounced_email"] == 1, no_usable_left("email"), email),
        "invalid_email": and_(f["invalid_email"] == 1, no_usable_left("email"), email),
        "missing_mobile": and_(f["any_mobile"] == 0, mobile),
        "invalid_mobile": and_(f["invalid_mobile"] == 1, no_usable_left("mobile"), mobile),
        "unverified_postal": and_(f["verified_postal"] == 0, f["blocked_postal"] == 0),
        "stale_verification": f["stale"] == 1,
        "outdated_consent": outdated_grant(P.c.id, reask),
    }


def _mask(
    gaps: list[str] | tuple[str, ...],
    f: dict[str, ColumnElement[int]],
    reask: Mapping[str, str] | None,
    declined_since: datetime,
) -> Any:
    conditions = _gap_conditions(f, reask or {}, declined_since)
    unknown = [g for g in gaps if g not in conditions]
    if unknown:
        raise ValueError(f"unknown gaps {unknown}")
    terms = [case((conditions[g], GAP_BITS[g]), else_=0) for g in dict.fromkeys(gaps)]
    mask: Any = terms[0] if terms else literal(0)
    for term in terms[1:]:
        mask = mask + term
    return mask


def _active_enrollment() -> ColumnElement[bool]:
    return exists().where(E.c.profile_id == P.c.id, E.c.state == ACTIVE)


def _in_cooldown(now: datetime, cooldown_days: int) -> ColumnElement[bool]:
    return P.c.last_contacted_at >= now - timedelta(days=cooldown_days)


def _last_change() -> ColumnElement[Any]:
    """When the profile's data last changed (module docstring); an aggregate over its contact
    points, so only for the per-profile queries below."""
    points = func.coalesce(func.max(CP.c.updated_at), P.c.created_at)
    answered = select(func.max(S.c.received_at)).where(S.c.profile_id == P.c.id).scalar_subquery()
    return case((answered > points, answered), else_=points)


def _exhausted_hold(now: datetime, exhausted_cooldown_days: int) -> ColumnElement[bool]:
    """Whether the profile's ladder ran out within the period and its data has not changed
    since. Most profiles never ran out: one index probe, and the rest is skipped for them."""
    ended = (
        select(func.max(E.c.ended_at))
        .select_from(E.join(R, R.c.id == E.c.round_id))
        .where(
            E.c.profile_id == P.c.id,
            E.c.state == EXHAUSTED,
            E.c.ended_at > now - timedelta(days=exhausted_cooldown_days),
            R.c.status != STANDING,
        )
        .scalar_subquery()
    )
    return case((ended.is_(None), 0), (ended >= _last_change(), 1), else_=0) == 1


def _id_range(stmt: Select[Any], id_range: tuple[int, int] | None) -> Select[Any]:
    if id_range is None:
        return stmt
    return stmt.where(P.c.id >= id_range[0], P.c.id < id_range[1])


def selection_query(
    *,
    gaps: list[str] | tuple[str, ...],
    now: datetime,
    max_age_days: int,
    cooldown_days: int,
    exhausted_cooldown_days: int,
    id_range: tuple[int, int] | None = None,
    reask: Mapping[str, str] | None = None,
    fields: Sequence[Purpose] | None = None,
    declined_days: int = DECLINED_DAYS,
) -> Select[Any]:
    """SELECT (profile_id, gap_mask) of every selectable profile with at least one gap.

    ``id_range`` = ``(lo, hi)`` restricts to ``lo <= profile.id < hi`` (for batching);
    ``reask`` maps each purpose to re-ask to its notice version (``outdated_consent``).
    Given ``fields`` (the campaign's purposes), a third column ``fields`` holds the mask of
    complete fields (:mod:`models.rounds.completeness`); ``declined_days``: how long a "none"
    from the customer holds (module docstring).
    """
    flags = _flags(now=now, max_age_days=max_age_days)
    mask = _mask(gaps, flags, reask, now - timedelta(days=declined_days))
    inner = (
        select(P.c.id.label("profile_id"), mask.label("gap_mask"))
        .select_from(P.outerjoin(CP, CP.c.profile_id == P.c.id))
        .where(
            P.c.opted_out_at.is_(None),
            P.c.objected_at.is_(None),
            P.c.restricted_at.is_(None),
            P.c.archived_at.is_(None),  # archived (or erased) by a sweep decision
            or_(P.c.last_contacted_at.is_(None), ~_in_cooldown(now, cooldown_days)),
            ~_active_enrollment(),
        )
        .group_by(P.c.id, P.c.created_at, P.c.email_declined_at, P.c.mobile_declined_at)
        .having(~_exhausted_hold(now, exhausted_cooldown_days))
    )
    if fields is not None:
        inner = inner.add_columns(
            fields_mask(
                CP,
                P.c.id,
                now=now,
                max_age_days=max_age_days,
                purposes=campaign_purposes(fields),
            ).label("fields")
        )
    sub = _id_range(inner, id_range).subquery("selection")
    columns = [sub.c.profile_id, sub.c.gap_mask]
    if fields is not None:
        columns.append(sub.c.fields)
    return select(*columns).where(sub.c.gap_mask > 0)


def gap_masks(
    conn: Connection,
    *,
    gaps: list[str] | tuple[str, ...],
    now: datetime,
    max_age_days: int,
    profile_ids: list[int],
    reask: Mapping[str, str] | None = None,
    declined_days: int = DECLINED_DAYS,
) -> dict[int, int]:
    """The gap mask of each given profile now (0 when complete), with no exclusions applied:
    the same rules as :func:`selection_query`, for one customer at a contact moment."""
    flags = _flags(now=now, max_age_days=max_age_days)
    rows = conn.execute(
        select(P.c.id, _mask(gaps, flags, reask, now - timedelta(days=declined_days)))
        .select_from(P.outerjoin(CP, CP.c.profile_id == P.c.id))
        .where(P.c.id.in_(profile_ids))
        .group_by(P.c.id, P.c.email_declined_at, P.c.mobile_declined_at)
    )
    return {int(profile_id): int(mask) for profile_id, mask in rows}


@dataclass(frozen=True)
class Plan:
    """What a round would do now: selected profiles per gap and first channel, and exclusions;
    ``per_usable``: selected profiles per set of channels they have a usable contact point
    for (channels in ladder vocabulary order; the forecast walks the ladder with it)."""

    total: int = 0
    per_gap: dict[str, int] = field(default_factory=dict)
    per_channel: dict[str, int] = field(default_factory=dict)
    excluded: dict[str, int] = field(default_factory=dict)
    per_usable: dict[tuple[str, ...], int] = field(default_factory=dict)


def plan(
    *,
    conn: Connection,
    spec: CampaignSpec,
    now: datetime,
    max_age_days: int,
    cooldown_days: int,
    exhausted_cooldown_days: int,
    declined_days: int = DECLINED_DAYS,
) -> Plan:
    """Count what a round of ``spec`` would select now; sends nothing and writes nothing.

    A profile is counted under one exclusion only, the first of: opted out or objected,
    processing restricted, already in an active enrollment, its ladder ran out within the
    exhausted cool-down with no change of its data since, contacted within the cool-down.
    Exclusions count only profiles that have a gap.
    """
    flags = _flags(now=now, max_age_days=max_age_days)
    excluded = case(
        (or_(P.c.opted_out_at.is_not(None), P.c.objected_at.is_not(None)), EXCLUDED_OPTED_OUT),
        (P.c.restricted_at.is_not(None), EXCLUDED_RESTRICTED),
        (_active_enrollment(), EXCLUDED_ENROLLED),
        (_exhausted_hold(now, exhausted_cooldown_days), EXCLUDED_EXHAUSTED),
        (_in_cooldown(now, cooldown_days), EXCLUDED_COOLDOWN),
        else_=None,
    )
    per_profile = (
        select(
            _mask(
                spec.gaps, flags, spec.reask_versions(), now - timedelta(days=declined_days)
            ).label("gap_mask"),
            flags["usable_email"].label("email"),
            flags["usable_mobile"].label("sms"),
            flags["usable_postal"].label("letter"),
            excluded.label("excluded"),
        )
        .select_from(P.outerjoin(CP, CP.c.profile_id == P.c.id))
        .where(P.c.archived_at.is_(None))  # archived profiles are out of sight, not "excluded"
        .group_by(
            P.c.id,
            P.c.opted_out_at,
            P.c.objected_at,
            P.c.restricted_at,
            P.c.last_contacted_at,
            P.c.created_at,
            P.c.email_declined_at,
            P.c.mobile_declined_at,
        )
        .subquery("per_profile")
    )
    s = per_profile.c
    gap_sums = [
        func.sum(case((s.gap_mask.op("&")(GAP_BITS[g]) != 0, 1), else_=0)).label(g)
        for g in spec.gaps
    ]
    rows = conn.execute(
        select(s.excluded, s.email, s.sms, s.letter, func.count().label("n"), *gap_sums)
        .where(s.gap_mask > 0)
        .group_by(s.excluded, s.email, s.sms, s.letter)
    ).mappings()
    total = 0
    per_gap = dict.fromkeys(spec.gaps, 0)
    per_channel: dict[str, int] = {}
    per_usable: dict[tuple[str, ...], int] = {}
    excluded_counts = dict.fromkeys(EXCLUSIONS, 0)
    for row in rows:
        if row["excluded"] is not None:
            excluded_counts[row["excluded"]] += row["n"]
            continue
        total += row["n"]
        for gap in spec.gaps:
            per_gap[gap] += int(row[gap] or 0)
        usable = {channel for channel in ("email", "sms", "letter") if row[channel]}
        combination = tuple(c for c in ("email", "sms", "letter") if c in usable)
        per_usable[combination] = per_usable.get(combination, 0) + row["n"]
        index, _skipped = first_step(ladder=spec.ladder, usable_channels=usable)
        channel = spec.ladder[index].channel if index is not None else NO_CHANNEL
        per_channel[channel] = per_channel.get(channel, 0) + row["n"]
    return Plan(
        total=total,
        per_gap=per_gap,
        per_channel=per_channel,
        excluded=excluded_counts,
        per_usable=per_usable,
    )
