"""Opening a personal link: what the page may show, and one answer for every bad link."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.answers.personal_link import open_link
from models.tables import CONSENT, PROFILE, TOKEN
from tests.models.answers.personal_link_data import EMAIL_OK, MOBILE_OK, NOW, POSTAL_OK, make_case


def test_open_link_shows_masked_data_purposes_and_latest_answers(engine: Engine) -> None:
    case = make_case(engine, [EMAIL_OK, MOBILE_OK, POSTAL_OK], gaps=["missing_email"])
    with engine.begin() as conn:
        for granted, at in ((True, NOW - timedelta(days=5)), (False, NOW - timedelta(days=1))):
            conn.execute(
                insert(CONSENT).values(
                    profile_id=case.profile_id,
                    purpose="newsletter",
                    granted=granted,
                    text_version="news-v0",
                    source="import",
                    recorded_at=at,
                )
            )
    with Session(engine) as session:
        ctx = open_link(session=session, token=case.token, now=NOW)
    assert ctx is not None
    assert ctx.profile_id == case.profile_id and ctx.locale == "nl"
    assert (ctx.outreach_id, ctx.channel) == (case.outreach_id, "email")
    assert ctx.outreach_contact_point_id == case.points["email"]
    assert ctx.enrollment_id == case.enrollment_id
    assert ctx.fields["email"].masked == "p***@example.org"
    assert ctx.fields["mobile"].masked == "+31 6 ****5678"
    assert ctx.fields["postal"].masked == "Dorpsstraat 1, 1234 ** Amsterdam"
    assert ctx.fields["postal"].status == "verified"
    assert [(p.key, p.required, p.text_version, p.granted) for p in ctx.purposes] == [
        ("service", True, "2026-01", None),
        ("newsletter", False, "2026-01", False),
    ]
    # Asked per channel the customer has; an answer from before channels stands for each.
    assert [(p.channels, p.answers) for p in ctx.purposes] == [
        (("email", "sms"), {"email": None, "sms": None}),
        (("email", "sms"), {"email": False, "sms": False}),
    ]


def test_missing_field_is_shown_as_empty(engine: Engine) -> None:
    case = make_case(engine, [MOBILE_OK], gaps=["missing_email"], channel="sms")
    with Session(engine) as session:
        ctx = open_link(session=session, token=case.token, now=NOW)
    assert ctx is not None
    assert ctx.fields["email"].contact_point_id is None and ctx.fields["email"].masked is None


def test_unknown_expired_and_objected_links_give_none_a_used_one_opens(engine: Engine) -> None:
    case = make_case(engine, [EMAIL_OK], gaps=["missing_mobile"], ttl_days=1)
    with Session(engine) as session:
        for token in ("nope", "", "x" * 10_000, "é\x00<script>"):
            assert open_link(session=session, token=token, now=NOW) is None
        # Issued two days before NOW with one day to live.
        assert open_link(session=session, token=case.token, now=NOW) is None
        assert open_link(session=session, token=case.token, now=NOW - timedelta(days=1, hours=1))
    # A link used before still opens until it expires: the customer may come back to it.
    with engine.begin() as conn:
        conn.execute(update(TOKEN).values(used_at=NOW - timedelta(days=2)))
    with Session(engine) as session:
        assert open_link(session=session, token=case.token, now=NOW - timedelta(days=1, hours=1))
    # After an objection it opens nothing.
    with engine.begin() as conn:
        conn.execute(update(PROFILE).values(objected_at=NOW - timedelta(days=2)))
    with Session(engine) as session:
        assert (
            open_link(session=session, token=case.token, now=NOW - timedelta(days=1, hours=1))
            is None
        )
