"""A round of the default campaign, sent to the outbox: who it asks, and what each message asks
of that customer (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from models.campaigns.spec import CampaignSpec, Step, load_campaign, sync_campaign
from models.db import session_scope
from models.rounds.enrollment import create_round, enroll
from models.tables import CONTACT, ENROLLMENT
from outreach.channels import build_channels
from outreach.config import OutreachConfig
from outreach.sending.dispatch import send_due_steps
from tests.factories import (
    COMPLETE,
    COOLDOWN,
    EXHAUSTED_COOLDOWN,
    MAX_AGE,
    NOW,
    add_profile,
    replace,
    widened_campaign_file,
)
from tests.paths import REPO

DEFAULT = REPO / "campaigns" / "default.yaml"
UNVERIFIED_ADDRESS = {"kind": "postal", "status": "unverified"}


def outbox_config(tmp_path: Path) -> OutreachConfig:
    return OutreachConfig(
        outbox_dir=tmp_path / "outbox",
        templates_dir=REPO / "templates",
        base_url="https://enrich.example.org",
    )


def run_round(engine: Engine, spec: CampaignSpec, config: OutreachConfig) -> int:
    """Store the campaign, start a round, enrol and send every first step; how many enrolled."""
    with session_scope(engine) as session:
        campaign = sync_campaign(session=session, spec=spec)
        round_ = create_round(session=session, campaign=campaign, started_by="test", parameters={})
        assert round_.id is not None
        round_id = round_.id
    enrolled = enroll(
        conn=engine,
        round_id=round_id,
        spec=spec,
        now=NOW,
        max_age_days=MAX_AGE,
        cooldown_days=COOLDOWN,
        exhausted_cooldown_days=EXHAUSTED_COOLDOWN,
        batch_size=100,
    )
    send_all_due(engine, spec, config)
    return enrolled


def send_all_due(engine: Engine, spec: CampaignSpec, config: OutreachConfig) -> None:
    with engine.connect() as conn:
        ids = list(conn.execute(select(ENROLLMENT.c.id)).scalars())
    send_due_steps(
        engine=engine,
        enrollment_ids=ids,
        spec=spec,
        channels=build_channels(config),
        config=config,
        now=NOW,
        actor="test",
    )


def emails_to(config: OutreachConfig, address: str) -> list[str]:
    """The plain text of every email in the outbox to ``address``."""
    found = []
    for path in sorted((config.outbox_dir / "email").glob("*.eml")):
        mail = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(mail, EmailMessage)
        if mail["To"].addresses[0].addr_spec == address:
            body = mail.get_body(("plain",))
            assert body is not None
            found.append(body.get_content())
    return found


def sms_bodies(config: OutreachConfig) -> list[str]:
    lines = [
        json.loads(line)
        for path in (config.outbox_dir / "sms").glob("batch-*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    return [line["body"] for line in sorted(lines, key=lambda line: line["outreach_id"])]


def test_the_default_round_names_each_customers_own_gaps_and_leaves_unverified_addresses_out(
    engine: Engine, tmp_path: Path
) -> None:
    with engine.begin() as conn:
        add_profile(conn, "no-mobile", replace(COMPLETE, "mobile"), locale="en")
        add_profile(
            conn, "bounced", replace(COMPLETE, "email", {"kind": "email", "status": "bounced"})
        )
        add_profile(conn, "address", replace(COMPLETE, "postal", UNVERIFIED_ADDRESS), locale="en")
    config = outbox_config(tmp_path)

    assert run_round(engine, load_campaign(DEFAULT), config) == 2
    [email] = emails_to(config, "no-mobile@example.org")
    assert "We have no mobile number for you: please add one." in email
    assert "postal address" not in email
    [sms] = sms_bodies(config)  # the bounced customer's, in Dutch
    assert "Onze e-mails aan u komen onbestelbaar terug." in sms and "postadres" not in sms
    assert emails_to(config, "address@example.org") == []

    # Widened to unverified addresses, the campaign asks that customer to confirm theirs.
    widened = load_campaign(widened_campaign_file(tmp_path / "wider.yaml", "unverified_postal"))
    assert run_round(engine, widened, config) == 1
    [email] = emails_to(config, "address@example.org")
    assert "Please confirm your postal address." in email
    assert "mobile number" not in email


def test_a_value_confirmed_since_the_last_step_is_not_asked_again(
    engine: Engine, tmp_path: Path
) -> None:
    spec = CampaignSpec(
        key="twice",
        name="Two texts",
        gaps=["missing_email", "unverified_postal"],
        ladder=[Step(channel="sms", wait_days=5), Step(channel="sms", wait_days=5)],
    )
    with engine.begin() as conn:
        pid = add_profile(
            conn, "p", [{"kind": "mobile", "status": "valid"}, UNVERIFIED_ADDRESS], locale="en"
        )
    config = outbox_config(tmp_path)
    run_round(engine, spec, config)
    with engine.begin() as conn:  # confirmed on the landing page; the email is still missing
        conn.execute(
            update(CONTACT)
            .where(CONTACT.c.profile_id == pid, CONTACT.c.kind == "postal")
            .values(status="verified", verified_at=NOW)
        )
        conn.execute(update(ENROLLMENT).values(next_due_at=NOW - timedelta(minutes=1)))
    send_all_due(engine, spec, config)

    first, second = sms_bodies(config)
    assert "We have no email address for you. Please confirm your postal address." in first
    assert "We have no email address for you." in second and "postal" not in second
