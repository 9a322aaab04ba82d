"""Builds the long-lived objects every entry point needs from the settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection, Engine

from enrich.settings import Settings, get_settings
from models.campaigns.spec import CampaignSpec
from models.db import make_engine
from models.forecast.forecast import Forecast, make_forecast
from models.forecast.waits import SendPace
from models.messages.in_doubt import ChannelDoubt
from models.rounds.selection import Plan, plan
from models.scheduling.due_step_release import Respect
from models.types import utcnow
from outreach.config import OutreachConfig, SendGridConfig, TwilioConfig


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine(settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    return _engine_for(settings.resolved_database_url)


def outreach_config(settings: Settings | None = None) -> OutreachConfig:
    s = settings or get_settings()
    return OutreachConfig(
        outbox_dir=s.resolved_outbox_dir,
        templates_dir=s.templates_dir,
        base_url=s.base_url.rstrip("/"),
        organisation_name=s.organisation_name,
        organisation_address=tuple(s.organisation_address),
        sender_email=s.sender_email,
        sender_name=s.sender_name,
        unsubscribe_mailto=s.unsubscribe_mailto,
        organisation_website=s.organisation_website,
        trust_phone=s.trust_phone,
        trust_web_path=s.trust_web_path,
        default_locale=s.default_locale,
        supported_locales=tuple(s.supported_locales),
        token_ttl_days=s.token_ttl_days,
        letter_batch_size=s.letter_batch_size,
        lease_seconds=s.lease_seconds,
        email_channel=s.email_channel,
        sms_channel=s.sms_channel,
        sendgrid=_sendgrid(s),
        twilio=_twilio(s),
    )


def confirmation_config(settings: Settings | None = None) -> OutreachConfig:
    """The outreach setup for messages a customer waits for on the landing page: the same
    channels, with the short ``ENRICH_CONFIRMATION_*`` timeout and retries."""
    s = settings or get_settings()
    config = outreach_config(s)
    timeout, retries = s.confirmation_timeout_seconds, s.confirmation_max_retries
    sendgrid, twilio = config.sendgrid, config.twilio
    return replace(
        config,
        sendgrid=replace(sendgrid, timeout_seconds=timeout, max_retries=retries)
        if sendgrid
        else None,
        twilio=replace(twilio, timeout_seconds=timeout, max_retries=retries) if twilio else None,
    )


def _secret(value: object) -> str | None:
    get = getattr(value, "get_secret_value", None)
    return get() if get is not None else None


def _sendgrid(s: Settings) -> SendGridConfig | None:
    """The SendGrid setup when its key is set (``enrich check`` reports what is missing)."""
    key = _secret(s.sendgrid_api_key)
    if not key:
        return None
    return SendGridConfig(
        api_key=key,
        host=s.sendgrid_host.rstrip("/"),
        unsubscribe_group_id=s.sendgrid_unsubscribe_group_id,
        sandbox=s.sendgrid_sandbox,
        batch_size=s.sendgrid_batch_size,
        timeout_seconds=s.provider_timeout_seconds,
        max_retries=s.provider_max_retries,
        reconcile_grace_minutes=s.sendgrid_reconcile_grace_minutes,
    )


def _twilio(s: Settings) -> TwilioConfig | None:
    token = _secret(s.twilio_auth_token)
    if not (s.twilio_account_sid and token):
        return None
    return TwilioConfig(
        account_sid=s.twilio_account_sid,
        auth_token=token,
        messaging_service_sid=s.twilio_messaging_service_sid,
        from_number=s.twilio_from_number,
        base_url=s.twilio_base_url.rstrip("/"),
        messages_per_second=s.twilio_messages_per_second,
        concurrency=s.twilio_concurrency,
        timeout_seconds=s.provider_timeout_seconds,
        max_retries=s.provider_max_retries,
    )


def respect(settings: Settings | None = None) -> Respect:
    """Send windows and frequency caps together, as the dispatcher applies them."""
    s = settings or get_settings()
    return Respect(windows=s.send_windows, caps=s.caps, default_zone=ZoneInfo(s.default_time_zone))


def send_pace(settings: Settings | None = None) -> SendPace:
    """Windows, caps and the rate limits that pace sending, for the forecast's send days: only
    Twilio is paced (messages per second); email and the outboxes are not."""
    s = settings or get_settings()
    per_second = {"sms": s.twilio_messages_per_second} if s.sms_channel == "twilio" else {}
    return SendPace(respect=respect(s), per_second=per_second)


def doubt_channels(settings: Settings | None = None) -> dict[str, ChannelDoubt]:
    """How each channel settles a message in doubt, as configured: SendGrid waits for events
    during its grace (its lookup proves nothing); the outboxes and Twilio look it up."""
    s = settings or get_settings()
    email = (
        ChannelDoubt("sendgrid", timedelta(minutes=s.sendgrid_reconcile_grace_minutes))
        if s.email_channel == "sendgrid"
        else ChannelDoubt("outbox", None)
    )
    sms = ChannelDoubt("twilio" if s.sms_channel == "twilio" else "outbox", None)
    return {"email": email, "sms": sms, "letter": ChannelDoubt("outbox", None)}


def plan_with_forecast(
    conn: Connection,
    spec: CampaignSpec,
    settings: Settings,
    *,
    campaign_version: int,
    before_round: int | None = None,
    limit: int | None = None,
) -> tuple[Plan, Forecast]:
    """Whom a round of ``spec`` selects now under these settings, and the forecast of its
    ladder (``enrich round plan`` shows both; a round stores the forecast as it starts)."""
    now = utcnow()
    counted = plan(
        conn=conn,
        spec=spec,
        now=now,
        max_age_days=settings.verification_max_age_days,
        cooldown_days=settings.cooldown_days,
        exhausted_cooldown_days=settings.exhausted_cooldown_days,
        declined_days=settings.declined_field_days,
    )
    forecast = make_forecast(
        conn,
        spec=spec,
        plan=counted,
        campaign_version=campaign_version,
        now=now,
        pace=send_pace(settings),
        before_round=before_round,
        limit=limit,
    )
    return counted, forecast
