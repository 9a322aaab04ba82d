"""Each enrollment records which fields were complete when enrolled: a verified, fresh value of
its kind, or (with purposes) every purpose answered on its current notice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from models.campaigns.spec import CampaignSpec, Purpose, Step
from models.rounds.completeness import FIELD_BITS, fields_of
from models.rounds.enrollment import enroll
from models.tables import CONSENT, ENROLLMENT
from tests.factories import (
    COMPLETE,
    COOLDOWN,
    EXHAUSTED_COOLDOWN,
    MAX_AGE,
    NOW,
    add_profile,
    replace,
    start_round,
)

FRESH = NOW - timedelta(days=10)
STALE = NOW - timedelta(days=MAX_AGE + 1)


def _spec(purposes: list[Purpose]) -> CampaignSpec:
    return CampaignSpec(
        key="t",
        name="T",
        gaps=["missing_email", "missing_mobile", "unverified_postal", "stale_verification"],
        ladder=[Step(channel="email", wait_days=5)],
        purposes=purposes,
    )


def _fields(engine: Engine, spec: CampaignSpec) -> dict[int, list[str] | None]:
    round_id = start_round(engine)
    enroll(
        conn=engine,
        round_id=round_id,
        spec=spec,
        now=NOW,
        max_age_days=MAX_AGE,
        cooldown_days=COOLDOWN,
        exhausted_cooldown_days=EXHAUSTED_COOLDOWN,
        batch_size=2,
    )
    e = ENROLLMENT.c
    with engine.connect() as conn:
        rows = conn.execute(select(e.profile_id, e.fields_at_start).where(e.round_id == round_id))
        return {pid: None if mask is None else fields_of(mask) for pid, mask in rows}


def test_only_verified_fresh_usable_values_count_as_complete(engine: Engine) -> None:
    verified_email = {"kind": "email", "status": "verified", "verified_at": FRESH}
    with engine.begin() as conn:
        # email verified and fresh; no mobile; postal verified and fresh
        a = add_profile(conn, "a", [verified_email, COMPLETE[2]])
        # email only valid (not verified); mobile verified but stale; postal fresh
        b = add_profile(
            conn,
            "b",
            replace(
                COMPLETE, "mobile", {"kind": "mobile", "status": "verified", "verified_at": STALE}
            ),
        )
        # verified email that was opted out; no postal address at all
        c = add_profile(
            conn,
            "c",
            [
                {**verified_email, "opted_out_at": FRESH},
                {"kind": "mobile", "status": "verified", "verified_at": FRESH},
            ],
        )
    found = _fields(engine, _spec([]))
    assert found == {a: ["email", "postal"], b: ["postal"], c: ["mobile"]}


def test_consents_complete_only_when_every_purpose_is_answered_on_its_notice(
    engine: Engine,
) -> None:
    purposes = [
        Purpose(key="service", text_version="2026-01"),
        Purpose(key="newsletter", text_version="2026-01"),
    ]
    no_mobile = replace(COMPLETE, "mobile")
    with engine.begin() as conn:
        both = add_profile(conn, "both", no_mobile)
        old = add_profile(conn, "old", no_mobile)
        one = add_profile(conn, "one", no_mobile)
        for pid, purpose, version, granted in [
            (both, "service", "2026-01", True),
            (both, "newsletter", "2026-01", False),  # a refusal is an answer too
            (old, "service", "2026-01", True),
            (old, "newsletter", "2025-01", True),  # answered on an older notice
            (one, "service", "2026-01", True),
        ]:
            conn.execute(
                insert(CONSENT).values(
                    profile_id=pid,
                    purpose=purpose,
                    channel="email",
                    granted=granted,
                    text_version=version,
                    source="test",
                    recorded_at=FRESH,
                )
            )
    found = _fields(engine, _spec(purposes))
    assert found == {both: ["postal", "consents"], old: ["postal"], one: ["postal"]}
    assert FIELD_BITS["consents"] == 8
