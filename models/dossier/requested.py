"""A dossier read on request: collected, and the reading audited with who asked and why."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Connection

from models.audit import AuditRow, audit_many
from models.data_subject.request import Request
from models.dossier.collect import collect_dossier
from models.dossier.facts import Dossier
from models.vocabulary import AuditAction


def read_dossier(
    conn: Connection,
    *,
    external_id: str,
    request: Request,
    now: datetime,
    max_age_days: int,
    idle_days: int,
    templates_dir: Path | None = None,
) -> Dossier:
    """The dossier of the profile with this external id (see :func:`collect_dossier`), with a
    ``profile.dossier_read`` audit event in the caller's transaction: commit it with the
    dossier handed out. Raises ``UnknownProfile`` and writes nothing when no profile has the id.
    """
    dossier = collect_dossier(
        conn,
        external_id=external_id,
        now=now,
        max_age_days=max_age_days,
        idle_days=idle_days,
        templates_dir=templates_dir,
    )
    audit_many(
        conn,
        [
            AuditRow(
                at=now,
                actor=request.requested_by,
                action=AuditAction.PROFILE_DOSSIER_READ,
                entity_type="profile",
                entity_id=dossier.profile.id,
                profile_id=dossier.profile.id,
                reason=request.reason,
                evidence=request.evidence,
            )
        ],
    )
    return dossier
