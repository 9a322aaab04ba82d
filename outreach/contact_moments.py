"""Contact moments from Python: record the ask (:mod:`models.contact_moments.recording`), issue its
personal link and render the block, all in one transaction; a render failure records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from models.answers.link_tokens import issue_link_tokens, personal_link
from models.campaigns.asks import asks_of
from models.campaigns.spec import CampaignSpec
from models.contact_moments.recording import NoAsk, record_contact_moment
from models.rounds.selection import DECLINED_DAYS
from models.scheduling.caps import CapPolicy
from models.tables import OUTREACH
from outreach.config import OutreachConfig
from outreach.incentive_line import IncentiveLines
from outreach.moment_block import render_moment_block
from outreach.render import Renderer

DEFAULT_MAX_AGE_DAYS = 730  # the settings' default verification_max_age_days


@dataclass(frozen=True)
class MomentAsk:
    text: str
    html: str
    link: str
    qr_svg: str
    outreach_id: int
    expires_at: datetime


@dataclass(frozen=True)
class MomentResult:
    """``ask`` to embed, or None with ``reason``: complete, opted_out, archived, capped or
    unknown."""

    ask: MomentAsk | None
    reason: str | None = None
    detail: str | None = None  # for capped: which cap, e.g. "frequency cap: 2 sms in 30 days"
    until: datetime | None = None  # for capped: when an ask fits again


def _once(
    conn: Connection,
    *,
    external_id: str,
    channel: str,
    context: str,
    now: datetime,
    spec: CampaignSpec,
    policy: CapPolicy,
    config: OutreachConfig,
    max_age_days: int,
    declined_days: int,
    renderer: Renderer,
) -> MomentResult:
    decision = record_contact_moment(
        conn,
        external_id=external_id,
        channel=channel,
        context=context,
        now=now,
        spec=spec,
        policy=policy,
        max_age_days=max_age_days,
        declined_days=declined_days,
    )
    if isinstance(decision, NoAsk):
        return MomentResult(None, decision.reason, decision.detail, decision.until)
    oid = decision.outreach_id
    token = issue_link_tokens(
        conn, items=[(decision.profile_id, oid)], ttl_days=config.token_ttl_days, now=now
    )[oid]
    link = personal_link(config.base_url, token)
    expires_at = now + timedelta(days=config.token_ttl_days)
    locale = decision.locale or config.default_locale
    choice = renderer.choice(locale)
    if choice.reason:  # written in the default language: the row says which and why
        o = OUTREACH.c
        conn.execute(
            update(OUTREACH)
            .where(o.id == oid)
            .values(
                locale=choice.locale, reason=func.substr(o.reason + "; " + choice.reason, 1, 500)
            )
        )
    block = render_moment_block(
        renderer,
        locale=locale,
        channel=channel,
        context=context,
        link=link,
        expires_at=expires_at,
        asks=asks_of(decision.gaps, channel=channel),
        outreach_id=oid,
        incentive=IncentiveLines(config, spec, renderer.languages).headline(locale, channel),
    )
    return MomentResult(
        MomentAsk(
            text=block.text,
            html=block.html,
            link=link,
            qr_svg=block.qr_svg,
            outreach_id=oid,
            expires_at=expires_at,
        )
    )


def contact_moment(
    engine_or_conn: Engine | Connection,
    *,
    external_id: str,
    channel: str,
    context: str,
    now: datetime,
    spec: CampaignSpec,
    policy: CapPolicy,
    config: OutreachConfig,
    max_age_days: int = DEFAULT_MAX_AGE_DAYS,
    declined_days: int = DECLINED_DAYS,
    renderer: Renderer | None = None,
) -> MomentResult:
    """The re-ask block for one customer at one contact moment, or why there is none.

    Given an Engine it commits on its own and retries once when a concurrent writer (a round
    enrolling the same customer, a new campaign version) got there first; given a Connection
    the caller owns the transaction. Unknown ``channel`` or ``context`` raise ValueError.
    """
    chosen = renderer or Renderer(config)

    def run(conn: Connection) -> MomentResult:
        return _once(
            conn,
            external_id=external_id,
            channel=channel,
            context=context,
            now=now,
            spec=spec,
            policy=policy,
            config=config,
            max_age_days=max_age_days,
            declined_days=declined_days,
            renderer=chosen,
        )

    if isinstance(engine_or_conn, Connection):
        return run(engine_or_conn)
    try:
        with engine_or_conn.begin() as conn:
            return run(conn)
    except IntegrityError:
        with engine_or_conn.begin() as conn:
            return run(conn)
