"""Three customers whose contact data changed as a round changes it (audit rows as the rules
write them), one import in between, all sealed: the material of the changes-feed tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from models.audit import AuditRow, audit_many
from models.audit_trail.sealing import seal
from models.tables import CONSENT, CONTACT
from models.vocabulary import AuditAction as A
from tests.factories import NOW, add_profile

# What a spreadsheet would run, in a street name the customer typed.
HOSTILE_STREET = '=HYPERLINK("http://x.example","click")'


@dataclass(frozen=True)
class People:
    anna: int
    bram: int
    cees: int
    cp: dict[tuple[int, str], int]  # (profile, kind) -> contact point id
    consent: int


def _cp(conn: Connection, profile_id: int, kind: str) -> int:
    c = CONTACT.c
    query = select(c.id).where(c.profile_id == profile_id, c.kind == kind)
    return int(conn.execute(query).scalar_one())


def change(engine: Engine, cp_id: int, profile_id: int, action: A, **state: object) -> None:
    """``action`` on a contact point: its new state, and the audit row the rules write."""
    with engine.begin() as conn:
        if state:
            conn.execute(update(CONTACT).where(CONTACT.c.id == cp_id).values(**state))
        after = {k: str(v) for k, v in state.items()}
        audit_many(conn, [AuditRow("customer", action, "contact_point", cp_id, profile_id,
                                   after=after)])  # fmt: skip
    seal(engine, wait=True)


def changed_people(engine: Engine) -> People:
    kinds = [{"kind": "email", "status": "unverified"}, {"kind": "mobile", "status": "valid"},
             {"kind": "postal", "status": "unverified"}]  # fmt: skip
    with engine.begin() as conn:
        anna = add_profile(conn, "CRM-1", kinds)
        bram = add_profile(conn, "CRM-2", kinds)
        cees = add_profile(conn, "CRM-3", kinds)
        cp = {
            (p, k): _cp(conn, p, k)
            for p in (anna, bram, cees)
            for k in ("email", "mobile", "postal")
        }
        consent = int(
            conn.execute(
                insert(CONSENT).values(
                    profile_id=bram,
                    purpose="service",
                    channel="email",
                    granted=True,
                    text_version="2026-11",
                    source="landing",
                    recorded_at=NOW,
                )
            ).inserted_primary_key[0]
        )
        # What the import wrote: the CRM's own data, never sent back.
        audit_many(conn, [AuditRow("system:import", A.CONTACT_POINT_CREATE, "contact_point",
                                   cp[(anna, "email")], anna)])  # fmt: skip
    seal(engine, wait=True)
    verified = NOW - timedelta(hours=1)
    change(engine, cp[(anna, "email")], anna, A.CONTACT_POINT_CONFIRMED, status="valid")
    change(engine, cp[(anna, "postal")], anna, A.CONTACT_POINT_REENTERED, street=HOSTILE_STREET)
    change(engine, cp[(bram, "email")], bram, A.CONTACT_POINT_BOUNCED, status="bounced")
    with engine.begin() as conn:
        audit_many(conn, [AuditRow("customer", A.CONSENT_GRANTED, "consent", consent, bram,
                                   after={"purpose": "service", "granted": True})])  # fmt: skip
    seal(engine, wait=True)
    change(engine, cp[(cees, "mobile")], cees, A.CONTACT_POINT_CONTESTED, status="contested")
    # Anna's email again, later: it is exported once, at this last change.
    change(engine, cp[(anna, "email")], anna, A.CONTACT_POINT_VERIFIED, status="verified",
           verified_at=verified, verification_method="email_link")  # fmt: skip
    return People(anna, bram, cees, cp, consent)
