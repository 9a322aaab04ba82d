"""Collecting one profile's dossier: a fixed handful of set-based queries, whatever its history.

One query each for the profile (with its last interaction), its contact points, its messages
(with their enrollment, round and campaign), their delivery events, its links and codes, its
submissions, its consents and its enrollments, plus the audit trail read through
:func:`models.audit_trail.reading.profile_trail`. Everything else is put together in Python
from those rows. An erased profile keeps its trail: contact points deleted by the erasure are
rebuilt from the audit rows that name them (what was verified when, by which method).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.engine import Connection

from models.audit_trail.reading import TrailRow, profile_trail
from models.campaigns.gaps import gaps_of
from models.data_subject.request import UnknownProfile, has_control
from models.dossier.contact_points import contact_point_facts
from models.dossier.facts import (
    AnswerFact,
    ConsentFacts,
    DeliveryFact,
    Dossier,
    EnrollmentFacts,
    Entry,
    IncentiveFacts,
    LinkFact,
    MessageFacts,
    ProfileFacts,
    Rules,
)
from models.dossier.notices import with_texts
from models.dossier.sources import parse_source
from models.retention.stale import last_interaction
from models.tables import (
    CAMPAIGN,
    CONSENT,
    CONTACT,
    DELIVERY,
    ENROLLMENT,
    INCENTIVE_ENTRY,
    OUTREACH,
    PROFILE,
    ROUND,
    SUBMISSION,
    TOKEN,
)
from models.vocabulary import AuditAction

# The profile's own timestamps that say what the person asked for or what was done to them.
STATE_COLUMNS: Final = (
    "opted_out_at",
    "objected_at",
    "restricted_at",
    "unreachable_at",
    "archived_at",
    "erased_at",
    # "I don't have one" said on the landing page (models.answers.declined).
    "email_declined_at",
    "mobile_declined_at",
)
# Profile rows of the trail that are changes of its fields rather than rights or decisions.
_PROFILE_CHANGES: Final = frozenset({AuditAction.PROFILE_CREATE, AuditAction.PROFILE_UPDATE})


def entry(row: TrailRow) -> Entry:
    return Entry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        before=row.before,
        after=row.after,
        reason=row.reason,
        evidence=row.evidence,
        sealed=row.sealed,
    )


def _profile(conn: Connection, external_id: str) -> Any:
    p = PROFILE.c
    last = last_interaction(conn.dialect.name, PROFILE).label("last_interaction")
    columns = [p[c] for c in STATE_COLUMNS]
    return conn.execute(
        select(
            p.id, p.external_id, p.given_name, p.family_name, p.locale, p.country, p.time_zone,
            p.source, p.source_at, p.created_at, p.updated_at, p.last_contacted_at, *columns, last,
        ).where(p.external_id == external_id)
    ).first()  # fmt: skip


def _messages(conn: Connection, profile_id: int) -> list[Any]:
    o, e, c = OUTREACH.c, ENROLLMENT.c, CAMPAIGN.c
    query = (
        select(
            o.id,
            o.created_at,
            o.sent_at,
            o.channel,
            o.template,
            o.locale,
            o.context,
            o.status,
            o.reason,
            o.provider,
            o.provider_message_id,
            o.error,
            o.contact_point_id,
            o.enrollment_id,
            o.step_index,
            e.round_id,
            e.gap_mask,
            c.key.label("campaign_key"),
            c.version.label("campaign_version"),
        )
        .select_from(
            OUTREACH.outerjoin(ENROLLMENT, e.id == o.enrollment_id)
            .outerjoin(ROUND, ROUND.c.id == e.round_id)
            .outerjoin(CAMPAIGN, c.id == ROUND.c.campaign_id)
        )
        .where(o.profile_id == profile_id)
        .order_by(o.created_at, o.id)
    )
    return list(conn.execute(query))


def _by(rows: Iterable[Any], key: str) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, key)].append(row)
    return grouped


def _campaign(key: str | None, version: int | None) -> str | None:
    return f"{key} v{version}" if key is not None else None


def _enrollments(conn: Connection, ids: set[int]) -> list[EnrollmentFacts]:
    if not ids:
        return []
    e, c = ENROLLMENT.c, CAMPAIGN.c
    query = (
        select(
            e.id,
            e.round_id,
            e.state,
            e.gap_mask,
            e.step_index,
            e.created_at,
            e.ended_at,
            e.end_reason,
            c.key,
            c.version,
        )
        .select_from(
            ENROLLMENT.join(ROUND, ROUND.c.id == e.round_id).outerjoin(
                CAMPAIGN, c.id == ROUND.c.campaign_id
            )
        )
        .where(e.id.in_(sorted(ids)))
        .order_by(e.created_at, e.id)
    )
    return [
        EnrollmentFacts(
            id=r.id, round_id=r.round_id, campaign=_campaign(r.key, r.version), state=r.state,
            gaps=gaps_of(r.gap_mask), step=r.step_index + 1 if r.step_index >= 0 else None,
            created_at=r.created_at, ended_at=r.ended_at, end_reason=r.end_reason,
        )
        for r in conn.execute(query)
    ]  # fmt: skip


def _consents(conn: Connection, profile_id: int) -> list[ConsentFacts]:
    rows = conn.execute(
        select(CONSENT)
        .where(CONSENT.c.profile_id == profile_id)
        .order_by(CONSENT.c.recorded_at, CONSENT.c.id)
    ).mappings()
    return [
        ConsentFacts(
            id=r["id"], purpose=r["purpose"], channel=r["channel"], granted=bool(r["granted"]),
            text_version=r["text_version"], source=r["source"], recorded_at=r["recorded_at"],
            evidence=r["evidence"], text_locale=r["text_locale"], text_sha256=r["text_sha256"],
        )
        for r in rows
    ]  # fmt: skip


def _incentives(conn: Connection, profile_id: int) -> list[IncentiveFacts]:
    t = INCENTIVE_ENTRY.c
    query = (
        select(t.id, t.incentive_key, t.terms_version, t.terms_sha256, t.round_id,
               t.enrollment_id, t.entered_at, t.earned_at)
        .where(t.profile_id == profile_id)
        .order_by(t.entered_at, t.id)
    )  # fmt: skip
    return [IncentiveFacts(**r._mapping) for r in conn.execute(query)]


def _answers(conn: Connection, profile_id: int) -> list[AnswerFact]:
    s = SUBMISSION.c
    query = (
        select(s.id, s.received_at, s.outreach_id, s.client_time, s.data)
        .where(s.profile_id == profile_id)
        .order_by(s.received_at, s.id)
    )
    return [AnswerFact(**r._mapping) for r in conn.execute(query)]


def _links(conn: Connection, profile_id: int) -> list[Any]:
    t = TOKEN.c
    query = (
        select(
            t.id, t.kind, t.outreach_id, t.contact_point_id, t.created_at, t.expires_at, t.used_at
        )
        .where(t.profile_id == profile_id)
        .order_by(t.created_at, t.id)
    )
    return list(conn.execute(query))


def _events(conn: Connection, outreach_ids: list[int]) -> list[Any]:
    if not outreach_ids:
        return []
    d = DELIVERY.c
    query = (
        select(
            d.outreach_id,
            d.occurred_at,
            d.received_at,
            d.provider,
            d.event_type,
            d.detail,
            d.provider_event_id,
        )
        .where(d.outreach_id.in_(outreach_ids))
        .order_by(d.occurred_at, d.id)
    )
    return list(conn.execute(query))


def _message_facts(
    rows: list[Any],
    events: list[Any],
    links: list[Any],
    answers: list[AnswerFact],
    trail: dict[Any, list[Entry]],
) -> list[MessageFacts]:
    events_of, links_of = _by(events, "outreach_id"), _by(links, "outreach_id")
    answers_of = _by(answers, "outreach_id")
    return [
        MessageFacts(
            id=r.id, created_at=r.created_at, sent_at=r.sent_at, channel=r.channel,
            template=r.template, locale=r.locale, context=r.context, status=r.status,
            reason=r.reason, provider=r.provider, provider_message_id=r.provider_message_id,
            error=r.error, contact_point_id=r.contact_point_id, enrollment_id=r.enrollment_id,
            round_id=r.round_id, campaign=_campaign(r.campaign_key, r.campaign_version),
            step=r.step_index + 1 if r.context is None and r.enrollment_id else None,
            gaps=gaps_of(r.gap_mask or 0),
            events=[
                DeliveryFact(
                    occurred_at=ev.occurred_at, received_at=ev.received_at, provider=ev.provider,
                    event_type=ev.event_type, detail=ev.detail,
                    provider_event_id=ev.provider_event_id,
                )
                for ev in events_of.get(r.id, [])
            ],
            links=[
                LinkFact(
                    id=t.id, kind=t.kind, contact_point_id=t.contact_point_id,
                    created_at=t.created_at, expires_at=t.expires_at, used_at=t.used_at,
                )
                for t in links_of.get(r.id, [])
            ],
            answers=answers_of.get(r.id, []),
            trail=trail.get(("outreach", r.id), []),
        )
        for r in rows
    ]  # fmt: skip


def collect_dossier(
    conn: Connection,
    *,
    external_id: str,
    now: datetime,
    max_age_days: int,
    idle_days: int,
    templates_dir: Path | None = None,
) -> Dossier:
    """Everything held and done about the profile with this external id.

    ``max_age_days`` (``ENRICH_VERIFICATION_MAX_AGE_DAYS``) dates when a verified value goes
    stale, ``idle_days`` (``ENRICH_SWEEP_IDLE_DAYS``) when the stale sweep reviews the profile.
    With ``templates_dir``, each consent carries the notice text it was given on
    (:mod:`models.dossier.notices`). Raises :class:`UnknownProfile` when no profile has the id.
    """
    row = _profile(conn, external_id) if external_id and not has_control(external_id) else None
    if row is None:
        raise UnknownProfile
    pid = int(row.id)
    trail = [entry(r) for r in profile_trail(conn, [pid])]
    by_entity: dict[Any, list[Entry]] = defaultdict(list)
    for item in trail:
        by_entity[(item.entity_type, item.entity_id)].append(item)
    messages = _messages(conn, pid)
    links = _links(conn, pid)
    answers = _answers(conn, pid)
    query = select(CONTACT).where(CONTACT.c.profile_id == pid).order_by(CONTACT.c.id)
    points = [dict(p) for p in conn.execute(query).mappings()]
    enrollment_ids = {m.enrollment_id for m in messages if m.enrollment_id is not None}
    enrollment_ids |= {e.entity_id for e in trail if e.entity_type == "enrollment" and e.entity_id}
    rules = Rules(verification_max_age_days=max_age_days, sweep_idle_days=idle_days)
    erased = row.erased_at is not None
    last = row.last_interaction
    own = by_entity.get(("profile", pid), [])
    review_due = last + timedelta(days=idle_days) if last and row.archived_at is None else None
    profile = ProfileFacts(
        id=pid,
        external_id=row.external_id,
        given_name=row.given_name,
        family_name=row.family_name,
        locale=row.locale,
        country=row.country,
        time_zone=row.time_zone,
        source=parse_source(row.source, row.source_at, own),
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_contacted_at=row.last_contacted_at,
        last_interaction_at=last,
        review_due=review_due,
        states={c: row._mapping[c] for c in STATE_COLUMNS},
        changes=[e for e in own if e.action in _PROFILE_CHANGES],
    )
    channel_of = {m.id: m.channel for m in messages}
    consents = _consents(conn, pid)
    return Dossier(
        generated_at=now,
        rules=rules,
        profile=profile,
        contact_points=contact_point_facts(
            points,
            by_entity,
            channel_of=channel_of,
            token_kind={t.id: t.kind for t in links},
            max_age_days=max_age_days,
        ),
        messages=_message_facts(
            messages, _events(conn, [m.id for m in messages]), links, answers, by_entity
        ),
        enrollments=_enrollments(conn, enrollment_ids),
        consents=with_texts(consents, templates_dir) if templates_dir else consents,
        answers=answers,
        rights=[
            e for e in trail if e.entity_type == "profile" and e.action not in _PROFILE_CHANGES
        ],
        trail=trail,
        erased=erased,
        incentives=_incentives(conn, pid),
    )
