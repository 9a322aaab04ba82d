"""A round of the example prize-draw campaign, sent to the outbox: each email and SMS names the
prize draw in the customer's language (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from models.campaigns.spec import load_campaign
from tests.factories import COMPLETE, add_profile, replace
from tests.outreach.sending.test_asks import emails_to, outbox_config, run_round, sms_bodies
from tests.paths import REPO

PRIZE = load_campaign(REPO / "campaigns" / "prize-draw.yaml")


def test_the_messages_of_a_round_name_its_prize_draw(engine: Engine, tmp_path: Path) -> None:
    with engine.begin() as conn:
        add_profile(conn, "no-mobile", replace(COMPLETE, "mobile"), locale="de")
        add_profile(
            conn, "bounced", replace(COMPLETE, "email", {"kind": "email", "status": "bounced"})
        )
    config = outbox_config(tmp_path)
    assert run_round(engine, PRIZE, config) == 2
    [email] = emails_to(config, "no-mobile@example.org")
    assert "Als Dankeschön für das Vervollständigen Ihrer Daten: Gewinnen Sie einen von zehn" in (
        " ".join(email.split())
    )
    [sms] = sms_bodies(config)  # the bounced customer's, in Dutch
    assert "Vul uw gegevens aan: Kans op een van tien cadeaubonnen van 50 euro" in sms
