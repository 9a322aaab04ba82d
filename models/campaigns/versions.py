"""Which campaign version a running round follows once its campaign file was edited.

A round keeps the version it started with (``Round.campaign_id``, never changed). An edited file
becomes a new version (:func:`models.campaigns.spec.sync_campaign`); from then on every round of
that campaign key takes the *ladder* of the newest version for the steps it has not sent yet, while
the gaps it selected by and the purposes it asks stay those of its own version. Steps are
positions: an enrollment's ``step_index`` keeps pointing at a position, and its next step is
the first usable position after it in the new ladder (so an appended step extends a running
enrollment, and one at or past the new ladder's last position is exhausted at its next advance).

The first time a round follows a newer version, the audit event ``round.campaign_updated`` says
so, once per (round, version): the audit table itself is the record, checked under a lock on
the round rows, so no schema change is needed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Select, func, select, update
from sqlalchemy.engine import Connection

from models.audit import AuditRow, audit_many
from models.campaigns.spec import CampaignSpec
from models.tables import AUDIT, CAMPAIGN, ROUND
from models.vocabulary import AuditAction

CAMPAIGN_UPDATED: Final = AuditAction.ROUND_CAMPAIGN_UPDATED


@dataclass(frozen=True)
class RoundCampaign:
    """A round's campaign: the version it started with, the newest one, and the spec to send by
    (the started version's gaps and purposes with the newest version's ladder)."""

    round_id: int
    key: str
    started_version: int
    newest_version: int
    newest_campaign_id: int
    spec: CampaignSpec

    @property
    def updated(self) -> bool:
        return self.newest_version != self.started_version


def followed_spec(started: CampaignSpec, newest: CampaignSpec) -> CampaignSpec:
    """What a round started under ``started`` sends by once ``newest`` exists: only the ladder
    changes; the gaps (already selected by) and the purposes (asked on the page) stay."""
    return started.model_copy(update={"ladder": list(newest.ladder)})


def round_campaigns(conn: Connection, round_ids: Collection[int]) -> dict[int, RoundCampaign]:
    """The campaign each of these rounds follows, by round id (unknown ids are left out)."""
    if not round_ids:
        return {}
    started, newest, latest = CAMPAIGN.alias("started"), CAMPAIGN.alias("newest"), CAMPAIGN.alias()
    newest_version = (
        select(func.max(latest.c.version)).where(latest.c.key == started.c.key).scalar_subquery()
    )
    rows = conn.execute(
        select(
            ROUND.c.id,
            started.c.key,
            started.c.version.label("started_version"),
            started.c.definition.label("started_definition"),
            newest.c.id.label("newest_id"),
            newest.c.version.label("newest_version"),
            newest.c.definition.label("newest_definition"),
        )
        .select_from(
            ROUND.join(started, started.c.id == ROUND.c.campaign_id).join(
                newest, (newest.c.key == started.c.key) & (newest.c.version == newest_version)
            )
        )
        .where(ROUND.c.id.in_(sorted(round_ids)))
    )
    result: dict[int, RoundCampaign] = {}
    for row in rows:
        spec = CampaignSpec.model_validate(row.started_definition)
        if row.newest_version != row.started_version:
            spec = followed_spec(spec, CampaignSpec.model_validate(row.newest_definition))
        result[int(row.id)] = RoundCampaign(
            round_id=int(row.id),
            key=row.key,
            started_version=int(row.started_version),
            newest_version=int(row.newest_version),
            newest_campaign_id=int(row.newest_id),
            spec=spec,
        )
    return result


def _recorded(round_ids: Collection[int]) -> Select[Any]:
    a = AUDIT.c
    return select(a.entity_id, a.after).where(
        a.entity_type == "round", a.entity_id.in_(sorted(round_ids)), a.action == CAMPAIGN_UPDATED
    )


def recorded_versions(conn: Connection, round_ids: Collection[int]) -> dict[int, list[int]]:
    """The versions each round was recorded switching to, in ascending order."""
    if not round_ids:
        return {}
    versions: dict[int, set[int]] = {}
    for entity_id, after in conn.execute(_recorded(round_ids)):
        version = (after or {}).get("version")
        if isinstance(version, int):
            versions.setdefault(int(entity_id), set()).add(version)
    return {round_id: sorted(found) for round_id, found in versions.items()}


def record_campaign_updates(
    conn: Connection, rounds: Iterable[RoundCampaign], *, now: datetime, actor: str
) -> int:
    """Audit ``round.campaign_updated`` for each round following a version not yet recorded for
    it (before: the version it followed until now); returns how many events were written.

    Writes nothing when no round follows a newer version. Otherwise it locks the round rows
    first (a no-op UPDATE: a row lock on PostgreSQL, the write lock on SQLite), so two runs
    at once record a switch once; call it at the start of its own transaction.
    """
    candidates = {rc.round_id: rc for rc in rounds if rc.updated}
    if not candidates:
        return 0
    conn.execute(
        update(ROUND).where(ROUND.c.id.in_(sorted(candidates))).values(status=ROUND.c.status)
    )
    recorded = recorded_versions(conn, candidates)
    events = []
    for round_id, rc in sorted(candidates.items()):
        seen = recorded.get(round_id, [])
        if rc.newest_version in seen:
            continue
        before = max([rc.started_version, *seen])
        events.append(
            AuditRow(
                at=now,
                actor=actor,
                action=CAMPAIGN_UPDATED,
                entity_type="round",
                entity_id=round_id,
                before={"campaign": rc.key, "version": before},
                after={"campaign": rc.key, "version": rc.newest_version},
                reason=f"campaign {rc.key} v{rc.newest_version}: its ladder applies to the "
                f"steps not yet sent (round started with v{rc.started_version})",
                evidence={"campaign_id": rc.newest_campaign_id},
            )
        )
    return audit_many(conn, events)


def ladder_versions(conn: Connection, round_ids: Collection[int]) -> dict[int, int]:
    """The version whose ladder each round last followed: the newest recorded switch, else the
    version it started with (unknown ids are left out)."""
    if not round_ids:
        return {}
    started: dict[int, int] = dict(
        conn.execute(
            select(ROUND.c.id, CAMPAIGN.c.version)
            .join(CAMPAIGN, CAMPAIGN.c.id == ROUND.c.campaign_id)
            .where(ROUND.c.id.in_(sorted(round_ids)))
        ).all()
    )
    recorded = recorded_versions(conn, round_ids)
    return {
        int(round_id): max([int(version), *recorded.get(round_id, [])])
        for round_id, version in started.items()
    }
