"""Sending a round through SendGrid and Twilio against rendering the same messages alone.

Builds a temporary SQLite database (migrated schema) with ``--emails`` profiles that have only
a valid email address and ``--sms`` profiles that have only a mobile number, enrolls them in a
round of an email -> SMS -> letter campaign, starts the SendGrid and Twilio stand-ins in their
own processes (their CPU is not ours) and measures in the same run, per channel:

(a) the full path: ``outreach.sending.dispatch.send_due_steps`` over the round in batches of
    ``--batch-size`` due enrollments, as the round flow runs it (write-ahead rows, claim, link
    tokens, render, send to the stand-in, record the answers and the audit trail);
(b) the baseline: ``Renderer.email`` / ``Renderer.sms`` over as many messages built the same
    way (same names, locales, links), in memory: no database, no HTTP.

Sealing: after each batch the full path seals the batch's audit rows into the hash chain
(``models.audit_trail.sealing.seal``), as the send task does. Each seal call is timed on its
own, so the run prints the full path without sealing and with it.

The email channel renders once per group of messages with placeholders and lets SendGrid
substitute (``outreach/providers/sendgrid/batching.py``), so the full path renders far fewer emails
than the baseline; what it adds is the database work, the request bodies and the HTTP.

The SendGrid stand-in checks every request against the official document and every
personalization against its JSON schema; the Twilio stand-in runs without throttling and, unless
``--twilio-validate``, without the document check (it costs the stand-in about as much as the
send costs us). Afterwards every message must have been accepted by its stand-in exactly once
and recorded as sent: otherwise the script exits 1.

Memory: the process's peak resident set during each phase above its resident set at the start
of the phase (Linux: VmHWM reset through ``/proc/self/clear_refs``; elsewhere ``ru_maxrss``
growth). CPU: this process's CPU seconds per phase, next to the wall-clock seconds; the
difference is mostly time spent waiting for the stand-ins.

    python benchmarks/provider_sending.py [--emails 100000] [--sms 20000]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from peak_rss import start_peak  # a sibling script module: benchmarks/ is on sys.path
from sqlalchemy.engine import Engine

from enrich.settings import Settings
from flows.tasks import BATCHES_PER_SEND_TASK
from models.answers.link_tokens import new_token, personal_link
from models.audit_trail.sealing import seal
from models.campaigns.gaps import GAPS
from models.campaigns.spec import CampaignSpec, Step
from models.db import make_engine, upgrade
from models.rounds.enrollment import enroll
from models.types import utcnow
from outreach.channels import Channel, Message, build_channels
from outreach.config import OutreachConfig, SendGridConfig, TwilioConfig
from outreach.render import Renderer
from outreach.sending.dispatch import send_due_steps
from outreach.sending.due import due_enrollment_ids

REPO = Path(__file__).resolve().parent.parent
SENDGRID_KEY = "SG.bench-api-key"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "bench-auth-token"
SERVICE_SID = "MG" + "fedcba9876543210" * 2
BASE_URL = "https://enrich.example.org"
COUNTS_PATH = "/_bench/counts"
GIVEN = ["Jan", "Anne", "Jürgen", "Marie", "Emma", "Sanne", "Noah", "Daan", "Lotte", "Sem"]
FAMILY = ["de Vries", "Peeters", "Weiß", "Dupont", "Janssen", "Bakker", "Visser", "Smit"]
SEND_TASK_SIZE = int(Settings.model_fields["batch_size"].default) * BATCHES_PER_SEND_TASK
# Locales of the profiles: mostly Dutch, as in the demo data.
LOCALES = ["nl"] * 7 + ["en", "en", "de"]


# -- the stand-ins, each in a child process of this script ------------------------------------


def tests_module(name: str) -> Any:
    """A module of ``tests/`` (the stand-ins live with the tests, outside the package)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    return importlib.import_module(name)


def serve_standin(kind: str, port: int, validate: bool) -> None:
    """Runs in the child: a stand-in app plus ``GET /_bench/counts`` (accepted per outreach)."""
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    counts: Callable[[], dict[Any, int]]
    if kind == "sendgrid":
        standin = tests_module("tests.standins.sendgrid")
        state = standin.SendGridState(api_key=SENDGRID_KEY)
        counts = state.accepted_per_outreach
    else:
        standin = tests_module("tests.standins.twilio")
        state = standin.TwilioState(
            account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, validate=validate
        )
        counts = state.per_outreach
    app = standin.create_app(state)

    async def report(request: Request) -> JSONResponse:
        per_outreach = {str(k): n for k, n in counts().items()}
        return JSONResponse({"per_outreach": per_outreach, "cpu_seconds": time.process_time()})

    app.add_route(COUNTS_PATH, report, methods=["GET"])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


@contextmanager
def standin(kind: str, *, validate: bool = True) -> Iterator[str]:
    """Start a stand-in in a child process; yields its base URL, stops it afterwards."""
    common = tests_module("tests.standins.common")
    port = common.free_port()
    args = [sys.executable, __file__, "--standin", kind, "--port", str(port)]
    proc = subprocess.Popen([*args, *(["--validate"] if validate else [])], cwd=REPO)
    try:
        try:
            common.wait_listening(port, lambda: proc.poll() is None, timeout=60)
        except RuntimeError as err:
            raise SystemExit(f"the {kind} stand-in did not start: {err}") from None
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def standin_counts(base_url: str) -> tuple[dict[int, int], float]:
    """({outreach id: times accepted}, the stand-in's CPU seconds so far)."""
    with urllib.request.urlopen(base_url + COUNTS_PATH, timeout=120) as response:
        data = json.loads(response.read())
    return {int(k): int(n) for k, n in data["per_outreach"].items()}, float(data["cpu_seconds"])


# -- test data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    profile_id: int
    given: str
    family: str
    locale: str
    recipient: str


def people(emails: int, sms: int, seed: int = 7) -> tuple[list[Person], list[Person]]:
    """Email-only profiles (ids 1..emails), then mobile-only profiles."""
    rng = random.Random(seed)

    def person(i: int, recipient: str) -> Person:
        return Person(i, rng.choice(GIVEN), rng.choice(FAMILY), rng.choice(LOCALES), recipient)

    by_email = [person(i, f"c{i}@example.org") for i in range(1, emails + 1)]
    by_sms = [person(i, f"+316{i:08d}") for i in range(emails + 1, emails + sms + 1)]
    return by_email, by_sms


def build(path: Path, persons: Sequence[Person], now: datetime) -> None:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    ts = now.replace(tzinfo=None).isoformat(sep=" ")
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    with con:
        con.executemany(
            "INSERT INTO profile (id, external_id, given_name, family_name, locale, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((p.profile_id, f"c{p.profile_id}", p.given, p.family, p.locale, ts, ts)
             for p in persons),
        )  # fmt: skip
        con.executemany(
            "INSERT INTO contact_point (profile_id, kind, value, status, is_primary,"
            " created_at, updated_at) VALUES (?, ?, ?, 'valid', 1, ?, ?)",
            ((p.profile_id, "mobile" if p.recipient.startswith("+") else "email", p.recipient,
              ts, ts) for p in persons),
        )  # fmt: skip
        con.execute(
            "INSERT INTO campaign (id, key, version, content_hash, definition, created_at)"
            " VALUES (1, 'bench', 1, 'x', '{}', ?)",
            (ts,),
        )
        con.execute(
            "INSERT INTO round (id, campaign_id, started_by, status, started_at)"
            " VALUES (1, 1, 'bench', 'running', ?)",
            (ts,),
        )
    con.execute("ANALYZE")
    con.close()


# -- measuring ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    label: str
    messages: int
    seconds: float
    cpu_seconds: float
    peak_mib: float


def measure(label: str, fn: Callable[[], int]) -> Phase:
    """Run ``fn`` (returns the messages it handled): wall and CPU seconds, peak RSS growth."""
    peak_mib = start_peak()
    cpu = time.process_time()
    started = time.perf_counter()
    messages = fn()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu
    return Phase(label, messages, elapsed, cpu, peak_mib())


# -- the two ways ------------------------------------------------------------------------------


def render_only(renderer: Renderer, channel: str, persons: Sequence[Person]) -> Callable[[], int]:
    """The baseline: the channel's messages rendered in memory, as the channel renders them."""
    messages = [
        Message(
            outreach_id=n,
            channel=channel,
            template="ask",
            locale=p.locale,
            recipient=p.recipient,
            link=personal_link(BASE_URL, new_token()),
            given_name=p.given,
            family_name=p.family,
            categories=("enrich", "bench"),
            unsubscribe_token=new_token() if channel == "email" else None,
        )
        for n, p in enumerate(persons, start=1)
    ]
    render = renderer.email if channel == "email" else renderer.sms

    def run() -> int:
        for message in messages:
            render(message)
        return len(messages)

    return run


def full_path(
    *,
    engine: Engine,
    channels: dict[str, Channel],
    config: OutreachConfig,
    spec: CampaignSpec,
    now: datetime,
    last_id: int,
    batch: int,
    sealing: list[float],
) -> Callable[[], int]:
    """Due enrollments up to ``last_id``, batch after batch, through ``send_due_steps``; the
    seconds each batch's sealing took are added to ``sealing``."""

    def run() -> int:
        sent = failed = after = 0
        while True:
            with engine.connect() as conn:
                ids = due_enrollment_ids(
                    conn=conn, round_id=1, now=now, limit=batch, after_id=after
                )
            ids = [i for i in ids if i <= last_id]
            if not ids:
                break
            after = ids[-1]
            outcome = send_due_steps(
                engine=engine,
                enrollment_ids=ids,
                spec=spec,
                channels=channels,
                config=config,
                now=now,
                actor="bench",
            )
            started = time.perf_counter()
            seal(engine)
            sealing.append(time.perf_counter() - started)
            sent += outcome.sent
            failed += outcome.failed + outcome.in_doubt
        if failed:
            raise SystemExit(f"{failed} messages failed or are in doubt")
        return sent

    return run


def check(channel: str, counts: dict[int, int], recorded: set[int], expected: int) -> list[str]:
    """What is wrong with what a stand-in accepted, compared with the rows recorded as sent."""
    problems = []
    duplicates = sum(1 for n in counts.values() if n > 1)
    if duplicates:
        problems.append(f"{channel}: {duplicates} messages accepted more than once")
    if len(recorded) != expected:
        problems.append(f"{channel}: {len(recorded)} outreaches recorded sent, not {expected}")
    if missing := len(recorded - counts.keys()):
        problems.append(f"{channel}: {missing} recorded sent but never accepted")
    if unknown := len(counts.keys() - recorded):
        problems.append(f"{channel}: {unknown} accepted but not recorded sent")
    return problems


def run(args: argparse.Namespace) -> int:
    spec = CampaignSpec(
        key="bench",
        name="Bench",
        gaps=list(GAPS),
        ladder=[
            Step(channel="email", wait_days=5),
            Step(channel="sms", wait_days=5),
            Step(channel="letter", wait_days=21),
        ],
    )
    now = utcnow().replace(microsecond=0)
    by_email, by_sms = people(args.emails, args.sms)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        started = time.perf_counter()
        build(path, by_email + by_sms, now - timedelta(days=1))
        engine = make_engine(f"sqlite:///{path}")
        enrolled = enroll(
            conn=engine,
            round_id=1,
            spec=spec,
            now=now,
            max_age_days=730,
            cooldown_days=30,
            exhausted_cooldown_days=180,
            batch_size=10_000,
        )
        with engine.connect() as conn:
            # Email profiles come first: their enrollments have the lower ids.
            email_last = conn.exec_driver_sql(
                "SELECT max(e.id) FROM enrollment e WHERE e.profile_id <= ?", (args.emails,)
            ).scalar_one()
            sms_first = conn.exec_driver_sql(
                "SELECT min(e.id) FROM enrollment e WHERE e.profile_id > ?", (args.emails,)
            ).scalar_one()
        if enrolled != args.emails + args.sms or (args.sms and sms_first <= (email_last or 0)):
            raise SystemExit(f"enrolled {enrolled} of {args.emails + args.sms} profiles")
        print(
            f"{args.emails:,} email + {args.sms:,} SMS profiles built and enrolled in "
            f"{time.perf_counter() - started:.1f} s"
        )
        twilio_note = "validates requests" if args.twilio_validate else "no request validation"
        print(
            "stand-ins in their own processes: SendGrid validates every request and "
            f"personalization; Twilio: no throttling, {twilio_note}"
        )
        with (
            standin("sendgrid") as sendgrid_url,
            standin("twilio", validate=args.twilio_validate) as twilio_url,
        ):
            config = OutreachConfig(
                outbox_dir=Path(tmp) / "outbox",
                templates_dir=REPO / "templates",
                base_url=BASE_URL,
                email_channel="sendgrid",
                sms_channel="twilio",
                sendgrid=SendGridConfig(api_key=SENDGRID_KEY, host=sendgrid_url),
                twilio=TwilioConfig(
                    account_sid=ACCOUNT_SID,
                    auth_token=AUTH_TOKEN,
                    messaging_service_sid=SERVICE_SID,
                    base_url=twilio_url,
                    messages_per_second=args.messages_per_second,
                    concurrency=args.concurrency,
                ),
            )
            channels = build_channels(config)
            renderer = Renderer(config)
            phases: list[tuple[Phase, Phase]] = []
            seals: dict[str, tuple[float, float]] = {}
            for channel, persons, last_id in (
                ("email", by_email, email_last or 0),
                ("sms", by_sms, 2**62),
            ):
                if not persons:
                    continue
                baseline = measure(
                    f"{channel}: render only", render_only(renderer, channel, persons)
                )
                sealing: list[float] = []
                sealed = measure(
                    f"{channel}: send + seal",
                    full_path(
                        engine=engine,
                        channels=channels,
                        config=config,
                        spec=spec,
                        now=now,
                        last_id=last_id,
                        batch=args.batch_size,
                        sealing=sealing,
                    ),
                )
                sending = dataclasses.replace(
                    sealed,
                    label=f"{channel}: send_due_steps",
                    seconds=sealed.seconds - sum(sealing),
                )
                seals[channel] = (sending.seconds, sealed.seconds)
                phases.append((sending, baseline))
            email_counts, email_cpu = standin_counts(sendgrid_url)
            sms_counts, sms_cpu = standin_counts(twilio_url)
        with engine.connect() as conn:
            recorded: dict[str, set[int]] = {"email": set(), "sms": set()}
            for oid, channel in conn.exec_driver_sql(
                "SELECT id, channel FROM outreach WHERE status = 'sent'"
            ):
                recorded.setdefault(channel, set()).add(int(oid))
        engine.dispose()

    print(
        f"{'':<26}{'messages':>10}{'seconds':>10}{'CPU s':>8}{'messages/s':>12}"
        f"{'peak RSS +MiB':>15}"
    )
    for sending, baseline in phases:
        for p in (sending, baseline):
            print(
                f"{p.label:<26}{p.messages:>10,}{p.seconds:>10.2f}{p.cpu_seconds:>8.1f}"
                f"{p.messages / p.seconds:>12,.0f}{p.peak_mib:>15.1f}"
            )
        channel = sending.label.split(":")[0]
        wall = sending.seconds / baseline.seconds
        print(
            f"{channel}: full path / render only {wall:.2f}x "
            f"(CPU of this process {sending.cpu_seconds / baseline.cpu_seconds:.2f}x); "
            f"sending adds {wall - 1:.2f}x to rendering"
            + (" (aim: at most 2x)" if channel == "email" else "")
        )
    for channel, (without, with_sealing) in seals.items():
        print(
            f"{channel}: without sealing {without:.2f} s, with sealing {with_sealing:.2f} s: "
            f"{with_sealing / without:.2f}x (aim: at most 1.15x)"
        )
    problems = check("email", email_counts, recorded["email"], args.emails)
    problems += check("sms", sms_counts, recorded["sms"], args.sms)
    print(
        f"stand-ins accepted: SendGrid {sum(email_counts.values()):,} emails for "
        f"{len(email_counts):,} outreaches (CPU {email_cpu:.1f} s), Twilio "
        f"{sum(sms_counts.values()):,} SMS for {len(sms_counts):,} outreaches "
        f"(CPU {sms_cpu:.1f} s)"
    )
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    if not problems:
        print("every message accepted exactly once and recorded as sent")
    return 1 if problems else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--emails", type=int, default=100_000, help="default: 100000")
    parser.add_argument("--sms", type=int, default=20_000, help="default: 20000")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=SEND_TASK_SIZE,
        help=f"enrollments per send_due_steps call (default: {SEND_TASK_SIZE}, as a send task)",
    )
    parser.add_argument("--messages-per-second", type=float, default=2000.0, help="Twilio pace")
    parser.add_argument("--concurrency", type=int, default=8, help="Twilio requests in flight")
    parser.add_argument(
        "--twilio-validate",
        action="store_true",
        help="let the Twilio stand-in check every request against the document",
    )
    parser.add_argument("--standin", choices=["sendgrid", "twilio"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--validate", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.standin:
        serve_standin(args.standin, args.port, args.validate)
        return
    sys.exit(run(args))


if __name__ == "__main__":
    main()
