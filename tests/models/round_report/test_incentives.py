"""The steward's report counts each round's incentive entries and awards, and what the awards
cost as a line of its own beside the messages' spend; every figure recomputed from the tables."""

from __future__ import annotations

import html

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from enrich.documents.round_report import render_report_html
from models.db import session_scope
from models.incentives.entries import enter
from models.round_report.collect import collect_report
from models.rounds.completion import complete_if_done
from models.tables import INCENTIVE_ENTRY, OUTREACH
from tests.factories import NOW
from tests.models.incentives.world import SPEC, Customer, customer, shown, start
from tests.models.incentives.world import verify_email as verify
from tests.paths import REPO


def _sent(engine: Engine, round_id: int, c: Customer) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(OUTREACH).values(
                enrollment_id=c.enrollment_id, round_id=round_id, profile_id=c.profile_id,
                step_index=0, channel="email", template="ask", status="sent", sent_at=NOW,
                created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip


def _world(engine: Engine) -> tuple[int, int]:
    """Four customers: two enter and one of them completes, one completes without entering,
    one does nothing; a second round has an entry of its own."""
    round_id = start(engine)
    people = [customer(engine, round_id, name) for name in ("a", "b", "c", "d")]
    for c in people:
        _sent(engine, round_id, c)
    with session_scope(engine) as session:
        for c in people[:2]:
            enter(session, profile_id=c.profile_id, enrollment_id=c.enrollment_id, spec=SPEC,
                  shown=shown(), now=NOW, evidence={})  # fmt: skip
    for c in (people[0], people[2]):
        verify(engine, c)
        with session_scope(engine) as session:
            complete_if_done(session=session, profile_id=c.profile_id, now=NOW, evidence={})
    other = start(engine)
    e = customer(engine, other, "e")
    with session_scope(engine) as session:
        enter(session, profile_id=e.profile_id, enrollment_id=e.enrollment_id, spec=SPEC,
              shown=shown("en"), now=NOW, evidence={})  # fmt: skip
    return round_id, other


def test_entered_earned_and_their_cost_per_round(engine: Engine) -> None:
    round_id, other = _world(engine)
    with engine.connect() as conn:
        report = collect_report(conn, now=NOW)
        t = INCENTIVE_ENTRY.c
        expected = {
            rid: tuple(
                conn.execute(
                    select(func.count(), func.count(t.earned_at)).where(t.round_id == rid)
                ).one()
            )
            for rid in (round_id, other)
        }
    by_round = {r["round_id"]: r for r in report["rounds"]}
    assert expected == {round_id: (2, 1), other: (1, 0)}
    for rid, (entered, earned) in expected.items():
        figures = by_round[rid]["incentive"]
        assert (figures["entered"], figures["earned"]) == (entered, earned)
        assert figures["offered"] == {
            "key": "gift-vouchers", "kind": "prize_draw", "terms_version": "2026-12",
        }  # fmt: skip
        assert figures["by_terms"] == [
            {"key": "gift-vouchers", "terms_version": "2026-12", "entered": entered,
             "earned": earned}
        ]  # fmt: skip
        assert SPEC.incentive is not None and SPEC.incentive.cost == 5.0
        assert figures["cost"] == earned * 5.0 and figures["currency"] == "EUR"
    cost = by_round[round_id]["cost"]
    assert cost["incentive"] == {"earned": 1, "unit_cost": 5.0, "cost": 5.0}
    # The messages' spend is the messages' alone: four emails at the campaign's unit cost.
    assert SPEC.costs is not None
    assert cost["total"] == round(4 * SPEC.costs.of("email"), 4)
    page = html.unescape(render_report_html(report, templates_dir=REPO / "templates"))
    assert "Incentive awards" in page and "€5.00 (1 earned × €5.00)" in page
    assert "The campaign offers a prize draw (gift-vouchers, terms 2026-12)" in page


def test_a_campaign_without_an_incentive_has_no_incentive_figures(engine: Engine) -> None:
    from models.campaigns.spec import CampaignSpec

    bare = CampaignSpec.model_validate({**SPEC.model_dump(), "incentive": None, "key": "bare"})
    round_id = start(engine, bare)
    c = customer(engine, round_id, "z")
    _sent(engine, round_id, c)
    with engine.connect() as conn:
        [r] = collect_report(conn, round_id=round_id, now=NOW)["rounds"]
    assert r["incentive"] is None and "incentive" not in r["cost"]
    page = render_report_html({"report": {"generated_at": NOW.isoformat(), "database": "x",
                                          "parameters": {}}, "rounds": [r]})  # fmt: skip
    assert "Incentive" not in page
