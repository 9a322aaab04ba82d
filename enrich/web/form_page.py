"""The form behind a personal link, as the page shows it: what is on file (masked), the
customer's progress, the consent and incentive questions, and the reference of the message they
came from. The routes are in :mod:`enrich.web.landing`."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, select

from enrich.settings import Settings
from enrich.web import csrf
from enrich.web.consent_form import questions
from enrich.web.incentive_form import incentive_question
from enrich.web.pages import Pages
from models.answers.personal_link import LinkContext
from models.answers.progress import Progress, progress
from models.campaigns.asks import Ask, asks_of
from models.incentives.entries import incentive_status
from models.tables import Submission
from models.types import utcnow
from outreach.reference import message_reference

ADDRESS = ("street", "house_number", "postal_code", "city", "country")
_KEEP_TYPED = 400  # longer typed values are not echoed back whole
TYPED = ("email", "mobile", *ADDRESS)


def form_page(
    request: Request,
    pages: Pages,
    ctx: LinkContext,
    token: str,
    lang: str,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    chosen: dict[str, str] | None = None,
    consents: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    objecting: bool = False,
    incentive_chosen: bool = False,
    session: Session,
) -> HTMLResponse:
    settings = pages.settings
    text = pages.text(lang)
    nonce = csrf.nonce_for(request)
    purposes = questions(
        settings.templates_dir, ctx, lang, text, consents or {}, default=settings.default_locale
    )
    typed = {name: "" for name in TYPED} | (values or {})
    shown = page_progress(session, ctx, settings)
    return pages.render(
        "form.html",
        lang,
        status=status,
        nonce=nonce,
        switch=True,
        action=f"/c/{token}",
        csrf=csrf.form_token(settings, f"/c/{token}", nonce),
        fields=ctx.fields,
        purposes=purposes,
        values={k: v[:_KEEP_TYPED] for k, v in typed.items()},
        chosen=chosen or {k: "keep" for k in ("email", "mobile", "postal")},
        errors=errors or {},
        objecting=objecting,
        progress=shown,
        asks=open_asks(ctx, shown),
        submitted=_submitted(session, ctx),
        reference=message_reference_of(ctx),
        incentive=incentive_question(
            settings.templates_dir, ctx.spec, lang, settings.default_locale
        )
        if ctx.spec is not None
        else None,
        incentive_chosen=incentive_chosen,
        # The customer's latest entry, also after the enrollment completed.
        incentive_status=incentive_status(session, ctx.profile_id)
        if ctx.spec is not None and ctx.spec.incentive is not None
        else None,
    )


def open_asks(ctx: LinkContext, shown: Progress) -> tuple[Ask, ...]:
    """What the page asks for, as the message did: the enrollment's gaps still open."""
    done = {f.kind for f in shown.fields if f.done}
    if {"email", "mobile", "postal"} <= done:
        return ()
    return tuple(a for a in asks_of(ctx.gaps, channel=ctx.channel) if a.field not in done)


def page_progress(session: Session, ctx: LinkContext, settings: Settings) -> Progress:
    return progress(session, ctx, now=utcnow(), max_age_days=settings.verification_max_age_days)


def _submitted(session: Session, ctx: LinkContext) -> bool:
    """Whether the customer sent the form through this link before."""
    found = session.exec(select(Submission.id).where(Submission.token_id == ctx.token_id))
    return found.first() is not None


def message_reference_of(ctx: LinkContext) -> str | None:
    """The reference of the message the customer came from, as it printed it."""
    if ctx.outreach_id is None or ctx.channel is None:
        return None
    # A contact-moment block names its own reference, whatever system's message carried it.
    return message_reference("moment" if ctx.context else ctx.channel, ctx.outreach_id)
