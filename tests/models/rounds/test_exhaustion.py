"""How an enrollment whose ladder ran out ends, and when its profile counts as unreachable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from models.campaigns.gaps import gap_mask
from models.rounds.completion import VerifiedPoint
from models.rounds.exhaustion import EndingFacts, end_exhausted, end_reason
from models.tables import CONSENT, ENROLLMENT, PROFILE, SUBMISSION
from tests.factories import NOW, add_profile
from tests.providers.data import add_campaign_round

STARTED = NOW - timedelta(days=31)
EMAIL_AND_MOBILE = gap_mask(["missing_email", "missing_mobile"])
POSTAL = VerifiedPoint("postal", True, STARTED + timedelta(days=3))


def facts(**changes: object) -> EndingFacts:
    values: dict[str, object] = {
        "profile_id": 1,
        "gap_mask": EMAIL_AND_MOBILE,
        "stepped": True,
        "since": STARTED,
        "required": set(),
        **changes,
    }
    return EndingFacts(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (facts(), ("ladder exhausted", True)),
        (facts(stepped=False), ("no usable contact point", True)),
        # An opted-out verified value reaches nobody.
        (facts(verified=[POSTAL]), ("ladder exhausted", True)),
        (
            facts(verified=[POSTAL], reachable_kinds={"postal"}),
            ("ladder exhausted; verified postal, still open: missing_email, missing_mobile", False),
        ),
        (
            facts(
                answered=True,
                gap_mask=gap_mask(["unverified_postal"]),
                verified=[POSTAL],
                reachable_kinds={"postal"},
                required={"service", "newsletter"},
                purposes={"newsletter"},
            ),
            ("ladder exhausted; answered, still open: consent for service", False),
        ),
        (
            facts(answered=True),  # e.g. a new email given, its proof still pending
            ("ladder exhausted; answered, still open: missing_email, missing_mobile", False),
        ),
    ],
    ids=["silent", "no-step", "opted-out", "verified", "answered-consent-open", "answered"],
)
def test_end_reason(given: EndingFacts, expected: tuple[str, bool]) -> None:
    assert end_reason(given) == expected


def test_a_long_end_reason_fits_its_column() -> None:
    purposes = {f"purpose_{i:02d}" for i in range(30)}
    reason, unreachable = end_reason(facts(answered=True, required=purposes))
    assert len(reason) == 200 and reason.endswith("…") and not unreachable


def test_an_answer_in_this_enrollment_clears_an_earlier_unreachable_mark(engine: Engine) -> None:
    earlier = STARTED - timedelta(days=200)
    with engine.begin() as conn:
        answered = add_profile(conn, "answered", [], unreachable_at=earlier)
        silent = add_profile(conn, "silent", [])
        old_answer = add_profile(conn, "old-answer", [])
        round_id = add_campaign_round(conn, STARTED)
        ids = {}
        for pid in (answered, silent, old_answer):
            ids[pid] = conn.execute(
                insert(ENROLLMENT)
                .values(
                    round_id=round_id,
                    profile_id=pid,
                    state="active",
                    gap_mask=EMAIL_AND_MOBILE,
                    step_index=2,
                    created_at=STARTED,
                    updated_at=STARTED,
                )
                .returning(ENROLLMENT.c.id)
            ).scalar_one()
        submissions = SUBMISSION
        conn.execute(
            insert(submissions),
            [
                {"profile_id": answered, "data": {}, "received_at": STARTED + timedelta(days=2)},
                # An answer from before this enrollment says nothing about this one.
                {"profile_id": old_answer, "data": {}, "received_at": STARTED - timedelta(days=1)},
            ],
        )
        conn.execute(
            insert(CONSENT).values(
                profile_id=answered,
                purpose="service",
                granted=True,
                source="landing",
                recorded_at=STARTED + timedelta(days=2),
            )
        )
        reasons = end_exhausted(conn, enrollment_ids=list(ids.values()), now=NOW)
    assert reasons == {
        ids[answered]: "ladder exhausted; answered, still open: missing_email, missing_mobile",
        ids[silent]: "ladder exhausted",
        ids[old_answer]: "ladder exhausted",
    }
    with engine.connect() as conn:
        profile = PROFILE.c
        marks = dict(conn.execute(select(profile.id, profile.unreachable_at)).tuples().all())
    assert marks == {answered: None, silent: NOW, old_answer: NOW}
