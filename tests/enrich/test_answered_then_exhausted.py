"""A customer who answers is never unreachable: a letter-only profile confirms its address
through the letter's QR code, the ladder runs out, and the enrollment says why it ended."""

from __future__ import annotations

import csv
from datetime import timedelta
from urllib.parse import urlsplit

import pypdfium2 as pdfium
import zxingcpp
from sqlalchemy import select

from enrich.runtime import get_engine
from enrich.settings import Settings
from models.campaigns.spec import load_campaign, sync_campaign
from models.db import session_scope
from models.rounds.enrollment import create_round, enroll
from models.tables import ENROLLMENT, ContactPoint, Profile
from models.types import utcnow
from tests.enrich.landing_helpers import client_for, submit
from tests.factories import add_profile
from tests.providers.sender import advance, send_round

E = ENROLLMENT.c


def start_round(settings: Settings) -> tuple[int, int]:
    """A letter-only customer enrolled in a round of the default campaign: (round, profile)."""
    engine = get_engine(settings)
    with engine.begin() as conn:
        profile_id = add_profile(conn, "letter-only", [{"kind": "postal", "status": "unverified"}])
    with session_scope(engine) as session:
        campaign = sync_campaign(session=session, spec=load_campaign(settings.campaign_file))
        round_ = create_round(session=session, campaign=campaign, started_by="t", parameters={})
        assert round_.id is not None
        round_id = round_.id
    enroll(
        conn=engine,
        round_id=round_id,
        spec=load_campaign(settings.campaign_file),
        now=utcnow(),
        max_age_days=settings.verification_max_age_days,
        cooldown_days=settings.cooldown_days,
        exhausted_cooldown_days=settings.exhausted_cooldown_days,
        batch_size=settings.batch_size,
    )
    return round_id, profile_id


def scanned_link(settings: Settings) -> str:
    """What a phone reads from the QR code of the one letter in the outbox."""
    [pdf_path] = sorted((settings.resolved_outbox_dir / "letters").glob("batch-*.pdf"))
    with pdf_path.with_suffix(".csv").open(encoding="utf-8", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 1
    image = pdfium.PdfDocument(pdf_path)[0].render(scale=200 / 72).to_pil()
    [code] = zxingcpp.read_barcodes(image)
    return str(code.text)


def test_a_customer_who_confirmed_through_the_letter_is_not_unreachable_when_it_ends(
    settings: Settings,
) -> None:
    engine = get_engine(settings)
    round_id, profile_id = start_round(settings)
    started = utcnow()
    first = send_round(round_id, started)
    assert (first.sent, first.skipped) == (1, 2)  # no email, no mobile: the letter goes out

    link = urlsplit(scanned_link(settings))
    assert f"{link.scheme}://{link.netloc}" == settings.base_url
    token = link.path.removeprefix("/c/")
    with client_for(settings) as client:
        # No email, no mobile: the page asks no consent (the default campaign's are for those).
        answer = submit(client, token, {"postal_action": "confirm"})
    assert answer.status_code == 200 and 'id="thanks"' in answer.text
    with engine.connect() as conn:
        postal = conn.execute(
            select(ContactPoint.status, ContactPoint.verification_method).where(
                ContactPoint.profile_id == profile_id  # type: ignore[arg-type]
            )
        ).one()
        assert tuple(postal) == ("verified", "letter:qr")
        # Email and mobile are still missing: the enrollment goes on.
        assert conn.execute(select(E.state)).scalar_one() == "active"

    # The letter's response window passes without another way to ask: the ladder runs out.
    end = started + timedelta(days=22)
    assert advance(round_id, end).exhausted == 1
    with engine.connect() as conn:
        state, reason, ended_at = conn.execute(select(E.state, E.end_reason, E.ended_at)).one()
        unreachable_at = conn.execute(
            select(Profile.unreachable_at).where(Profile.id == profile_id)  # type: ignore[arg-type]
        ).scalar_one()
    assert (state, ended_at) == ("exhausted", end)
    assert reason == "ladder exhausted; answered, still open: missing_email, missing_mobile"
    assert unreachable_at is None
