"""Several runs at once: four `enrich` processes (two `round advance`, two `round resume`)
released at the same instant over the same due enrollments, on SQLite and on PostgreSQL, with
all three channels, through the outboxes and through the SendGrid and Twilio stand-ins. Every
(enrollment, step) goes out once: once in the outbox files, once at the stand-ins, once in the
audit trail, claimed once.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from enrich.runtime import get_engine
from enrich.settings import Settings
from models.db import make_engine
from models.tables import AUDIT, OUTREACH
from models.types import utcnow
from tests.conftest import REPO
from tests.providers.conftest import Setup
from tests.providers.data import seed_round

pytestmark = pytest.mark.flow
ENRICH = str(Path(sys.executable).parent / "enrich")
EMAILS, SMS, LETTERS = 24, 24, 24
# Small batches, so that the four runs compete for many batches rather than one each.
SMALL_BATCHES = {"ENRICH_BATCH_SIZE": "2", "ENRICH_LETTER_BATCH_SIZE": "4"}


@contextmanager
def writes_held(engine: Engine, processes: list[subprocess.Popen[bytes]]) -> Iterator[None]:
    """Hold the enrollment table's write lock while the processes start, so that they all
    queue at their first write and go at once when it is released. On PostgreSQL the test
    waits until all of them wait on the lock; SQLite shows no waiters, so it waits a while."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("LOCK TABLE enrollment IN EXCLUSIVE MODE"))
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield
        deadline = time.monotonic() + (120 if engine.dialect.name == "postgresql" else 12)
        while time.monotonic() < deadline and all(p.poll() is None for p in processes):
            if engine.dialect.name == "postgresql":
                with make_engine(str(engine.url.render_as_string(False))).connect() as probe:
                    waiting = probe.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                            " AND datname = current_database()"
                        )
                    ).scalar_one()
                if waiting >= len(processes):
                    break
            time.sleep(0.2)
        if engine.dialect.name == "postgresql":
            conn.commit()
        else:
            conn.exec_driver_sql("COMMIT")


def run_at_once(engine: Engine, env: dict[str, str], round_id: int) -> list[str]:
    commands = [
        ["round", "advance"],
        ["round", "resume", str(round_id)],
        ["round", "advance"],
        ["round", "resume", str(round_id)],
    ]
    processes: list[subprocess.Popen[bytes]] = []
    with writes_held(engine, processes):
        for command in commands:
            processes.append(
                subprocess.Popen(
                    [ENRICH, *command],
                    cwd=REPO,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
            )
    outputs = []
    for process, command in zip(processes, commands, strict=True):
        out, _ = process.communicate(timeout=300)
        text_out = out.decode(errors="replace")
        assert process.returncode == 0, f"{command}: exit {process.returncode}\n{text_out[-3000:]}"
        outputs.append(text_out)
    return outputs


def sent_ids(engine: Engine) -> dict[str, set[int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(OUTREACH.c.id, OUTREACH.c.channel).where(OUTREACH.c.status == "sent")
        ).all()
    found: dict[str, set[int]] = {"email": set(), "sms": set(), "letter": set()}
    for outreach_id, channel in rows:
        found[channel].add(int(outreach_id))
    return found


def assert_sent_and_audited_once(engine: Engine) -> dict[str, set[int]]:
    sent = sent_ids(engine)
    assert {k: len(v) for k, v in sent.items()} == {"email": EMAILS, "sms": SMS, "letter": LETTERS}
    with engine.connect() as conn:
        audited = Counter(
            conn.execute(
                select(AUDIT.c.entity_id).where(AUDIT.c.action == "outreach.sent")
            ).scalars()
        )
        attempts = Counter(
            conn.execute(select(OUTREACH.c.attempts).where(OUTREACH.c.status == "sent")).scalars()
        )
        pending = conn.execute(
            select(func.count()).where(OUTREACH.c.status == "pending")
        ).scalar_one()
    assert audited == Counter(set().union(*sent.values())), "each sent step audited once"
    assert attempts == Counter({1: EMAILS + SMS + LETTERS}), "each step claimed once"
    assert pending == 0
    return sent


def letters_in_manifests(outbox: Path) -> Counter[int]:
    printed: Counter[int] = Counter()
    for manifest in (outbox / "letters").glob("batch-*.csv"):
        with manifest.open(encoding="utf-8", newline="") as fh:
            printed.update(int(row["outreach_id"]) for row in csv.DictReader(fh))
    return printed


def sms_in_outbox(outbox: Path) -> Counter[int]:
    written: Counter[int] = Counter()
    for batch in (outbox / "sms").glob("batch-*.jsonl"):
        for line in batch.read_text(encoding="utf-8").splitlines():
            written[int(json.loads(line)["outreach_id"])] += 1
    return written


def test_four_runs_at_once_through_the_outboxes_send_and_print_each_step_once(
    settings: Settings, prefect_harness: str
) -> None:
    engine = get_engine(settings)
    round_id = seed_round(engine, emails=EMAILS, sms=SMS, letters=LETTERS, now=utcnow())
    env = {**os.environ, **SMALL_BATCHES, "PREFECT_API_URL": prefect_harness}
    run_at_once(engine, env, round_id)

    sent = assert_sent_and_audited_once(engine)
    outbox = settings.resolved_outbox_dir
    emails = {int(p.stem) for p in (outbox / "email").glob("*.eml")}
    assert emails == sent["email"]
    assert sms_in_outbox(outbox) == Counter(sent["sms"])
    assert letters_in_manifests(outbox) == Counter(sent["letter"])  # no letter printed twice


def test_four_runs_at_once_through_the_providers_send_each_step_once(
    providers: Setup, prefect_harness: str
) -> None:
    engine = get_engine(providers.settings)
    round_id = seed_round(engine, emails=EMAILS, sms=SMS, letters=LETTERS, now=utcnow())
    providers.twilio.latency = 0.02
    env = {**providers.env, **SMALL_BATCHES, "PREFECT_API_URL": prefect_harness}
    run_at_once(engine, env, round_id)
    providers.sendgrid.flush_webhooks()
    providers.twilio.flush_webhooks()

    sent = assert_sent_and_audited_once(engine)
    accepted = providers.sendgrid.accepted_per_outreach()
    assert {int(i) for i in accepted} == sent["email"]
    assert set(accepted.values()) == {1}
    assert providers.twilio.duplicates() == {}
    assert set(providers.twilio.per_outreach()) == sent["sms"]
    assert letters_in_manifests(providers.settings.resolved_outbox_dir) == Counter(sent["letter"])
