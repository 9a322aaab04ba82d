"""Entering a campaign's incentive on the landing page and earning it when the enrollment
completes: once per enrollment, on the terms in force only, audited, awarded once even by two
transactions at once, listed in the dossier and gone with an erasure."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from enrich.documents.dossier import render
from models.campaigns.spec import CampaignSpec
from models.data_subject.erasure import erase_on_request
from models.data_subject.request import Request
from models.db import make_engine, session_scope
from models.dossier.collect import collect_dossier
from models.incentives.entries import (
    CLOSED,
    NOT_OFFERED,
    TERMS_CHANGED,
    IncentiveRefused,
    award_earned,
    enter,
    incentive_status,
)
from models.incentives.terms import ShownTerms
from models.rounds.completion import complete_if_done
from models.tables import AUDIT, INCENTIVE_ENTRY
from tests.factories import NOW
from tests.models.incentives.world import (
    SPEC,
    TEMPLATES,
    Customer,
    customer,
    set_state,
    shown,
    start,
    verify_email,
)

EVIDENCE = {"submission_id": 1}


def entries(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(select(INCENTIVE_ENTRY).order_by(INCENTIVE_ENTRY.c.id)).mappings()
        return [dict(r) for r in rows]


def audits(engine: Engine, action: str) -> list[dict[str, object]]:
    with engine.connect() as conn:
        query = select(AUDIT).where(AUDIT.c.action == action).order_by(AUDIT.c.seq)
        return [dict(r) for r in conn.execute(query).mappings()]


def enter_as(engine: Engine, c: Customer, terms: ShownTerms, spec: CampaignSpec = SPEC) -> bool:
    with session_scope(engine) as session:
        return enter(
            session, profile_id=c.profile_id, enrollment_id=c.enrollment_id, spec=spec,
            shown=terms, now=NOW, evidence=EVIDENCE, templates_dir=TEMPLATES,
        )  # fmt: skip


def complete(engine: Engine, c: Customer) -> list[int]:
    with session_scope(engine) as session:
        return complete_if_done(
            session=session, profile_id=c.profile_id, now=NOW, evidence=EVIDENCE
        )


def test_an_entry_is_recorded_once_with_its_terms_and_audited(engine: Engine) -> None:
    anna = customer(engine, start(engine), "anna")
    assert enter_as(engine, anna, shown("de")) is True
    assert enter_as(engine, anna, shown("nl")) is False  # a second tick changes nothing
    [row] = entries(engine)
    assert (row["profile_id"], row["enrollment_id"]) == (anna.profile_id, anna.enrollment_id)
    assert (row["incentive_key"], row["terms_version"]) == ("gift-vouchers", "2026-12")
    assert row["terms_sha256"] == shown("de").sha256 and row["earned_at"] is None
    [audit] = audits(engine, "incentive.entered")
    assert audit["profile_id"] == anna.profile_id and audit["actor"] == "customer"
    assert audit["after"]["terms_sha256"] == shown("de").sha256
    assert audit["after"]["kind"] == "prize_draw"
    with Session(engine) as session:
        status = incentive_status(session, anna.profile_id)
    assert status is not None and not status.earned and status.terms_version == "2026-12"


@pytest.mark.parametrize(
    ("terms", "reason"),
    [
        (ShownTerms("gift-vouchers", "2025-01", "0" * 64), TERMS_CHANGED),
        (ShownTerms("gift-vouchers", "2026-12", "0" * 64), TERMS_CHANGED),  # not a file's hash
        (ShownTerms("gift-vouchers", "2026-12", "not-a-hash"), TERMS_CHANGED),
        (ShownTerms("other-draw", "2026-12", "0" * 64), NOT_OFFERED),
    ],
)
def test_terms_not_in_force_are_refused_and_nothing_is_recorded(
    engine: Engine, terms: ShownTerms, reason: str
) -> None:
    bram = customer(engine, start(engine), "bram")
    with pytest.raises(IncentiveRefused) as refused:
        enter_as(engine, bram, terms)
    assert refused.value.reason == reason
    assert entries(engine) == [] and audits(engine, "incentive.entered") == []


def test_no_incentive_another_profile_or_an_ended_enrollment_is_refused(engine: Engine) -> None:
    round_id = start(engine)
    cato, dirk = customer(engine, round_id, "cato"), customer(engine, round_id, "dirk")
    bare = CampaignSpec.model_validate({**SPEC.model_dump(), "incentive": None})
    with pytest.raises(IncentiveRefused, match=NOT_OFFERED):
        enter_as(engine, cato, shown(), spec=bare)
    with pytest.raises(IncentiveRefused, match=NOT_OFFERED):  # dirk's enrollment, not cato's
        enter_as(engine, Customer(cato.profile_id, dirk.enrollment_id, "cato"), shown())
    set_state(engine, dirk, "exhausted")
    with pytest.raises(IncentiveRefused, match=CLOSED):
        enter_as(engine, dirk, shown())
    assert entries(engine) == []


def test_completing_the_enrollment_earns_the_entry_once(engine: Engine) -> None:
    round_id = start(engine)
    eva, fien = customer(engine, round_id, "eva"), customer(engine, round_id, "fien")
    enter_as(engine, eva, shown())
    enter_as(engine, fien, shown())
    assert complete(engine, eva) == []  # no email yet: not complete, nothing earned
    assert all(e["earned_at"] is None for e in entries(engine))
    verify_email(engine, eva)
    assert complete(engine, eva) == [eva.enrollment_id]
    earned = {e["enrollment_id"]: e["earned_at"] for e in entries(engine)}
    assert earned == {eva.enrollment_id: NOW, fien.enrollment_id: None}
    [audit] = audits(engine, "incentive.earned")
    assert audit["profile_id"] == eva.profile_id and audit["reason"] == "enrollment completed"
    with session_scope(engine) as session:  # again: harmless
        assert award_earned(session, enrollment_ids=[eva.enrollment_id], now=NOW, evidence={}) == []
        status = incentive_status(session, eva.profile_id, enrollment_id=eva.enrollment_id)
    assert status is not None and status.earned
    assert len(audits(engine, "incentive.earned")) == 1


def test_an_entry_after_the_enrollment_completed_is_earned_at_once(engine: Engine) -> None:
    gijs = customer(engine, start(engine), "gijs")
    verify_email(engine, gijs)
    assert complete(engine, gijs) == [gijs.enrollment_id]
    assert audits(engine, "incentive.earned") == []  # no entry yet: nothing to earn
    assert enter_as(engine, gijs, shown("en")) is True
    [row] = entries(engine)
    assert row["earned_at"] == NOW
    assert len(audits(engine, "incentive.earned")) == 1


def test_the_dossier_lists_entries_and_an_erasure_deletes_them(engine: Engine) -> None:
    round_id = start(engine)
    hans, ida = customer(engine, round_id, "hans"), customer(engine, round_id, "ida")
    enter_as(engine, hans, shown())
    enter_as(engine, ida, shown())
    verify_email(engine, hans)
    complete(engine, hans)
    with engine.connect() as conn:
        dossier = collect_dossier(
            conn, external_id="hans", now=NOW, max_age_days=730, idle_days=365
        )
    [fact] = dossier.incentives
    for fmt in ("text", "html", "json"):
        shown_as = render(dossier, fmt, templates_dir=TEMPLATES)
        assert shown().sha256 in shown_as and "gift-vouchers" in shown_as, fmt
    assert (fact.incentive_key, fact.terms_sha256, fact.earned_at) == (
        "gift-vouchers", shown().sha256, NOW,
    )  # fmt: skip
    with engine.begin() as conn:
        request = Request(requested_by="steward", reason="asked by phone", via="cli")
        erase_on_request(conn, external_id="hans", request=request, now=NOW)
    assert [e["profile_id"] for e in entries(engine)] == [ida.profile_id]  # only ida's is left
    [erased] = audits(engine, "profile.erased")
    assert erased["after"]["incentive_entries"] == 1


@pytest.mark.postgres
def test_two_transactions_awarding_the_same_enrollment_award_once(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        jan = customer(engine, start(engine), "jan")
        enter_as(engine, jan, shown())
        results: dict[str, list[int]] = {}
        with Session(engine) as first:
            results["first"] = award_earned(
                first, enrollment_ids=[jan.enrollment_id], now=NOW, evidence={}
            )

            def second() -> None:
                with session_scope(engine) as session:
                    results["second"] = award_earned(
                        session, enrollment_ids=[jan.enrollment_id], now=NOW, evidence={}
                    )

            thread = threading.Thread(target=second)
            thread.start()
            time.sleep(0.5)  # the second waits on the first's row lock
            assert "second" not in results
            first.commit()
            thread.join(timeout=10)
        assert results == {"first": [entries(engine)[0]["id"]], "second": []}
        with engine.connect() as conn:
            count = conn.execute(
                select(func.count()).where(AUDIT.c.action == "incentive.earned")
            ).scalar_one()
        assert count == 1
    finally:
        engine.dispose()
