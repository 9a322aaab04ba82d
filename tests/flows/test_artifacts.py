"""The rows of the tables the flows publish in Prefect, from a run's summary (no Prefect run:
the flow tests read the published tables back from a real one)."""

from __future__ import annotations

from typing import Any

from flows.artifacts import advance_table, round_tables, share
from outreach.sending.dispatch import BatchOutcome


def summary(**changes: Any) -> dict[str, Any]:
    """A round's summary as the round flow makes it: 3 enrolled, 2 emails in doubt."""
    in_doubt = {
        "round_id": 7,
        "enrollment_id": 40,
        "step": 1,
        "channel": "email",
        "kind": "in_doubt",
        "since": "2026-12-03T13:04:05.123456+00:00",
        "reason": "no answer from SendGrid within 3s",
        "next_action": "waiting for sendgrid events until 2026-12-03 14:04 UTC",
    }
    base = {
        "round_id": 7,
        "campaign": "default",
        "campaign_version": 2,
        "enrolled": 3,
        "per_gap": {"missing_email": 1, "missing_mobile": 3},
        "per_channel": {"sms": {"sent": 1}, "email": {"sent": 1, "pending": 2}},
        "sent": 2,
        "failed": 0,
        "skipped": 0,
        "already_sent": 0,
        "in_doubt": 2,
        "exhausted": 0,
        "unsettled": 2,
        "unsettled_named": [
            {**in_doubt, "outreach_id": 11},
            {**in_doubt, "outreach_id": 12, "enrollment_id": 41},
        ],
    }
    return {**base, **changes}


def tables(resumed: bool = False, **changes: Any) -> dict[str, Any]:
    return {t.key: t for t in round_tables(summary(**changes), resumed=resumed)}


def test_a_round_has_a_table_per_gap_per_channel_and_of_its_unsettled_messages() -> None:
    found = tables()
    assert list(found) == [
        "enrichment-round-7-gaps",
        "enrichment-round-7-channels",
        "enrichment-round-7-unsettled",
    ]
    assert found["enrichment-round-7-gaps"].rows == [
        {"gap": "missing_email", "profiles": 1},
        {"gap": "missing_mobile", "profiles": 3},
    ]
    assert found["enrichment-round-7-channels"].rows == [
        {"channel": "email", "sent": 1, "failed": 0, "skipped": 0, "pending": 2},
        {"channel": "sms", "sent": 1, "failed": 0, "skipped": 0, "pending": 0},
    ]
    unsettled = found["enrichment-round-7-unsettled"]
    assert [(r["outreach"], r["enrollment"], r["since"]) for r in unsettled.rows] == [
        (11, 40, "2026-12-03T13:04"),
        (12, 41, "2026-12-03T13:04"),
    ]
    assert unsettled.rows[0]["reason"] == "no answer from SendGrid within 3s"
    assert "2 messages not settled (`enrich round status 7` lists them all)" in (
        unsettled.description
    )
    assert "in doubt (waiting for the provider's evidence) 2" in (
        found["enrichment-round-7-channels"].description
    )


def test_only_the_first_unsettled_messages_are_listed_and_the_description_says_so() -> None:
    found = tables(unsettled=250)
    assert "250 messages not settled (the first 2 are listed" in (
        found["enrichment-round-7-unsettled"].description
    )


def test_a_settled_round_has_no_unsettled_table_but_a_resume_empties_the_old_one() -> None:
    settled = {"unsettled": 0, "unsettled_named": [], "in_doubt": 0}
    assert "enrichment-round-7-unsettled" not in tables(**settled)
    emptied = tables(resumed=True, **settled)["enrichment-round-7-unsettled"]
    assert (emptied.rows, emptied.description) == ([], "Round 7: every message is settled.")


def test_the_advance_table_has_a_row_per_round_in_round_order() -> None:
    totals = {
        **vars(BatchOutcome(sent=3, skipped=1, exhausted=1)),
        "campaign_updates": 0,
        "moments_closed": 0,
    }
    table = advance_table(
        {
            9: (2, BatchOutcome(sent=2)),
            4: (3, BatchOutcome(sent=1, skipped=1, exhausted=1)),
        },
        totals,
    )
    assert table.key == "ladder-advance"
    assert [(r["round"], r["enrollments"], r["sent"], r["exhausted"]) for r in table.rows] == [
        (4, 3, 1, 1),
        (9, 2, 2, 0),
    ]
    assert "sent 3, failed 0, skipped steps 1, exhausted 1" in table.description
    nothing = advance_table(
        {}, {**vars(BatchOutcome()), "campaign_updates": 0, "moments_closed": 0}
    )
    assert (nothing.rows, nothing.description) == ([], "Ladder advance: nothing was due.")


def test_progress_is_the_share_done_and_zero_when_there_is_nothing_to_count() -> None:
    assert [share(0, 0), share(1, 3), share(3, 3), share(5, 3)] == [0.0, 33.3, 100.0, 100.0]
