"""What ``enrich check`` verifies: the configuration, and on request the provider credentials.

Each check yields :class:`Finding` lines; a problem names the exact environment variable to fix.
Nothing here prints or exits: the CLI does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import phonenumbers
from sqlalchemy.exc import SQLAlchemyError

from enrich.runtime import get_engine, outreach_config
from enrich.settings import Settings
from enrich.web import i18n as page_text
from models.campaigns.spec import CampaignError, load_campaign
from models.consent.notices import NoticeError, notice_problems
from models.db import current_revision, head_revision
from models.incentives.terms import terms_problems
from models.messages.in_doubt import accepted_without_events
from models.types import utcnow
from outreach.errors import ConfigurationError
from outreach.i18n import catalogue_problems
from outreach.render import Renderer

ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
# Messages judged for missing provider events: accepted in this window, at least this long ago.
EVENT_WINDOW = timedelta(days=7)
MIN_EVENT_DELAY = timedelta(minutes=15)


@dataclass(frozen=True)
class Finding:
    ok: bool
    subject: str  # what was checked: "database", "email channel", ...
    message: str  # one line; a problem names the variable to set


def _ok(subject: str, message: str) -> Finding:
    return Finding(True, subject, message)


def _problem(subject: str, message: str) -> Finding:
    return Finding(False, subject, message)


def check_database(settings: Settings) -> Iterator[Finding]:
    try:
        revision = current_revision(get_engine(settings))
    except SQLAlchemyError as err:
        yield _problem(
            "database",
            f"cannot connect ({type(err).__name__}): check ENRICH_DATABASE_URL",
        )
        return
    head = head_revision()
    if revision != head:
        yield _problem(
            "database", f"schema at {revision or 'nothing'}, code expects {head}: run `enrich init`"
        )
    else:
        yield _ok("database", f"reachable, schema at {revision}")


def check_campaign(settings: Settings) -> Iterator[Finding]:
    try:
        spec = load_campaign(settings.campaign_file)
    except CampaignError as err:
        yield _problem("campaign", f"{err} (ENRICH_CAMPAIGN_FILE)")
        return
    renderer = Renderer(outreach_config(settings))
    missing = []
    for step in spec.ladder:
        try:
            renderer.require(step.channel, step.template)
        except ConfigurationError:
            missing.append(f"{step.channel}/{step.template}")
    if missing:
        yield _problem("templates", f"missing in ENRICH_TEMPLATES_DIR: {', '.join(missing)}")
    else:
        yield _ok("campaign", f"{spec.key}: {len(spec.ladder)} steps, every template present")


def check_languages(settings: Settings) -> Iterator[Finding]:
    """Every supported locale has a catalogue translating every string the messages and the
    landing page use (outreach.i18n); English, the source language, may leave them as is."""
    languages = list(dict.fromkeys([settings.default_locale, *settings.supported_locales]))
    problems = catalogue_problems(
        settings.templates_dir, languages, python_files=[Path(page_text.__file__)]
    )
    for problem in problems:
        yield _problem("languages", f"{problem} (ENRICH_TEMPLATES_DIR, ENRICH_SUPPORTED_LOCALES)")
    if not problems:
        yield _ok("languages", f"every string translated in {', '.join(languages)}")


def check_notices(settings: Settings) -> Iterator[Finding]:
    """Every published notice text unchanged; every campaign purpose's version present and
    published in each language its notices exist in (models.consent.notices)."""
    try:
        spec = load_campaign(settings.campaign_file)
    except CampaignError:
        return  # check_campaign reports the campaign
    try:
        problems = notice_problems(
            settings.templates_dir, {p.key: p.text_version for p in spec.purposes}
        )
    except NoticeError as err:
        problems = [str(err)]
    for problem in problems:
        yield _problem("consent notices", f"{problem} (ENRICH_TEMPLATES_DIR)")
    if not problems:
        versions = ", ".join(f"{p.key} {p.text_version}" for p in spec.purposes) or "none asked"
        yield _ok("consent notices", f"published and unchanged: {versions}")
    if spec.incentive is not None:  # its terms, read like the notices (models.incentives)
        terms = terms_problems(settings.templates_dir, spec, settings.default_locale)
        for problem in terms:
            yield _problem("incentive terms", f"{problem} (ENRICH_TEMPLATES_DIR)")
        if not terms:
            offer = spec.incentive
            yield _ok("incentive terms", f"{offer.key} {offer.terms_version} readable")


def _unset(value: object) -> bool:
    get = getattr(value, "get_secret_value", None)
    return not (get() if get is not None else value)


def check_email(settings: Settings) -> Iterator[Finding]:
    if settings.email_channel == "outbox":
        yield _ok("email channel", "local outbox (ENRICH_EMAIL_CHANNEL=outbox)")
        return
    if _unset(settings.sendgrid_api_key):
        yield _problem(
            "email channel", "ENRICH_SENDGRID_API_KEY is not set (ENRICH_EMAIL_CHANNEL=sendgrid)"
        )
    else:
        yield _ok("email channel", "SendGrid, API key set")
    if _unset(settings.sendgrid_webhook_public_key):
        yield _problem(
            "email events",
            "ENRICH_SENDGRID_WEBHOOK_PUBLIC_KEY is not set: bounces, opt-outs and crash "
            "reconciliation need SendGrid's signed Event Webhook",
        )


def check_sms(settings: Settings) -> Iterator[Finding]:
    if settings.sms_channel == "outbox":
        yield _ok("sms channel", "local outbox (ENRICH_SMS_CHANNEL=outbox)")
        return
    sid = settings.twilio_account_sid or ""
    if not sid:
        yield _problem(
            "sms channel", "ENRICH_TWILIO_ACCOUNT_SID is not set (ENRICH_SMS_CHANNEL=twilio)"
        )
    elif not ACCOUNT_SID.fullmatch(sid):
        yield _problem("sms channel", "ENRICH_TWILIO_ACCOUNT_SID must look like AC + 32 hex digits")
    if _unset(settings.twilio_auth_token):
        yield _problem(
            "sms channel", "ENRICH_TWILIO_AUTH_TOKEN is not set (ENRICH_SMS_CHANNEL=twilio)"
        )
    service, sender = settings.twilio_messaging_service_sid, settings.twilio_from_number
    if not service and not sender:
        yield _problem(
            "sms sender",
            "set ENRICH_TWILIO_MESSAGING_SERVICE_SID or ENRICH_TWILIO_FROM_NUMBER",
        )
    elif service and not SERVICE_SID.fullmatch(service):
        yield _problem(
            "sms sender", "ENRICH_TWILIO_MESSAGING_SERVICE_SID must look like MG + 32 hex digits"
        )
    elif sender and not service and not _is_e164(sender):
        yield _problem("sms sender", "ENRICH_TWILIO_FROM_NUMBER must be an E.164 number")
    else:
        yield _ok("sms sender", "messaging service" if service else "from number")
    if sid and not _unset(settings.twilio_auth_token):
        yield _ok("sms channel", "Twilio, account and token set")


def _is_e164(number: str) -> bool:
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return False


def check_public_url(settings: Settings) -> Iterator[Finding]:
    providers = settings.email_channel != "outbox" or settings.sms_channel != "outbox"
    url = settings.base_url
    if providers and not url.startswith("https://"):
        yield _problem(
            "public URL",
            "ENRICH_BASE_URL must be the public https address: providers post webhooks to it "
            "and customers open their links there",
        )
    else:
        yield _ok("public URL", url)


def check_outbox(settings: Settings) -> Iterator[Finding]:
    folder = Path(settings.resolved_outbox_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".enrich-check"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        yield _problem(
            "outbox", f"cannot write the outbox folder ({err.strerror}): ENRICH_OUTBOX_DIR"
        )
    else:
        yield _ok("outbox", "writable (letters always go there)")


def check_provider_events(settings: Settings) -> Iterator[Finding]:
    """Each provider in use must report back: every message it accepted more than the grace
    ago (in the last week) should have at least one event. Without events, bounces and
    opt-outs go unseen and a message left in doubt can never be settled by evidence."""
    in_use = []
    if settings.email_channel == "sendgrid":
        if settings.sendgrid_sandbox:
            yield _ok("email events", "SendGrid sandbox mode: no events are expected")
        else:
            in_use.append(("sendgrid", "email events", "/webhooks/sendgrid"))
    if settings.sms_channel == "twilio":
        in_use.append(("twilio", "sms events", "/webhooks/twilio/status"))
    if not in_use:
        return
    now = utcnow()
    grace = max(timedelta(minutes=settings.sendgrid_reconcile_grace_minutes), MIN_EVENT_DELAY)
    minutes = int(grace.total_seconds() // 60)
    try:
        with get_engine(settings).connect() as conn:
            heard = [
                (
                    subject,
                    path,
                    accepted_without_events(
                        conn,
                        provider=provider,
                        accepted_before=now - grace,
                        accepted_since=now - EVENT_WINDOW,
                    ),
                )
                for provider, subject, path in in_use
            ]
    except SQLAlchemyError:
        return  # check_database reports the database
    for subject, path, unheard in heard:
        name = "SendGrid" if unheard.provider == "sendgrid" else "Twilio"
        where = f"{settings.base_url.rstrip('/')}{path}"
        if unheard.without_events == 0:
            yield _ok(subject, f"{name} reported on every message it accepted ({unheard.accepted})")
        elif unheard.without_events == unheard.accepted:
            yield _problem(
                subject,
                f"none of the {unheard.accepted} messages {name} accepted {minutes}+ min ago "
                f"(last {EVENT_WINDOW.days} days) has an event: its webhooks are not reaching "
                f"{where} (ENRICH_BASE_URL, the webhook key, the provider's webhook settings)",
            )
        else:
            yield _problem(
                subject,
                f"{unheard.without_events} of the {unheard.accepted} messages {name} accepted "
                f"{minutes}+ min ago (last {EVENT_WINDOW.days} days) have no event: some of its "
                f"webhooks do not reach {where}",
            )


def check_configuration(settings: Settings) -> list[Finding]:
    findings: list[Finding] = []
    for check in (
        check_database,
        check_campaign,
        check_languages,
        check_notices,
        check_email,
        check_sms,
        check_public_url,
        check_outbox,
        check_provider_events,
    ):
        findings.extend(check(settings))
    return findings
