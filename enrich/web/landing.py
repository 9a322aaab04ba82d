"""The customer-facing landing page: personal link, SMS code and email confirmation routes.

The routes stay thin: the rules live in :mod:`models.answers.submissions` and
:mod:`models.answers.proof_of_control`; CSRF, rate limiting, text and sending proof messages in the
sibling modules. No JavaScript is used.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlmodel import Session, select

from enrich.settings import Settings
from enrich.web import csrf
from enrich.web.challenges import send_challenges
from enrich.web.consent_form import read_answers
from enrich.web.deps import PagesDep, ServicesDep, SessionDep
from enrich.web.form_page import ADDRESS, TYPED, form_page, message_reference_of, page_progress
from enrich.web.forms import CodeForm, ConfirmForm, LinkForm
from enrich.web.i18n import error_text
from enrich.web.incentive_form import read_incentive
from enrich.web.pages import page_language, rate_limited
from models.answers.form_rules import ACTIONS, validate_form
from models.answers.link_tokens import hash_presented
from models.answers.personal_link import message_locale, open_link, record_opened
from models.answers.proof_of_control import EMAIL_CONFIRM, SMS_CODE, check_sms_code, confirm_email
from models.answers.rights import object_through_link
from models.answers.submissions import FieldAction, PostalInput, SubmissionForm, apply_submission
from models.contact_data.validation import normalise_country
from models.tables import Outreach, Profile, VerificationToken
from models.types import utcnow

# Pages, not an API: kept out of the OpenAPI document. Every route is a plain ``def``: FastAPI
# runs it in its thread pool, so its SQL (and a slow provider) never blocks the event loop.
router = APIRouter(include_in_schema=False)


# -- the personal link ----------------------------------------------------------------------


@router.get("/c/{token}", response_class=HTMLResponse)
def landing_page(
    token: str, request: Request, session: SessionDep, services: ServicesDep
) -> Response:
    pages = services.pages
    limited = rate_limited(request, pages, services.limiter, page_language(request, pages))
    if limited is not None:
        return limited
    now = utcnow()
    ctx = open_link(session=session, token=token, now=now)
    if ctx is None:
        return pages.invalid(page_language(request, pages))
    # The report's "link opened": kept even if the page then fails to render.
    record_opened(session=session, token_id=ctx.token_id, now=now)
    session.commit()
    lang = page_language(request, pages, locale=ctx.locale)
    return form_page(request, pages, ctx, token, lang, session=session)


def _parse(form: LinkForm) -> tuple[SubmissionForm, dict[str, str], dict[str, str]]:
    """(submission without consents, typed values, chosen actions); a missing action is keep."""
    values = {k: getattr(form, k) for k in TYPED}
    actions = {"email": form.email_action, "mobile": form.mobile_action}
    actions["postal"] = form.postal_action
    chosen: dict[str, str] = {}
    for kind, action in actions.items():
        typed = any(values[k].strip() for k in (ADDRESS if kind == "postal" else (kind,)))
        # Without JavaScript a customer may type a new value and forget the radio button.
        action = action or "keep"
        chosen[kind] = "change" if action == "keep" and typed else action
    address = PostalInput(
        street=values["street"],
        house_number=values["house_number"],
        postal_code=values["postal_code"],
        city=values["city"],
        country=values["country"] if values["country"].strip() else None,
    )
    # Values go as typed: the shared text rule trims them, after refusing hidden characters.
    sub = SubmissionForm(
        email=FieldAction(chosen["email"], value=values["email"]),  # type: ignore[arg-type]
        mobile=FieldAction(chosen["mobile"], value=values["mobile"]),  # type: ignore[arg-type]
        postal=FieldAction(chosen["postal"], address=address),  # type: ignore[arg-type]
    )
    return sub, values, chosen


@router.post("/c/{token}", response_class=HTMLResponse)
def submit_page(
    token: str,
    form: Annotated[LinkForm, Form()],
    request: Request,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    pages, settings = services.pages, services.pages.settings
    lang = page_language(request, pages, form.lang)
    if (limited := rate_limited(request, pages, services.limiter, lang)) is not None:
        return limited
    now = utcnow()
    ctx = open_link(session=session, token=token, now=now)
    if ctx is None:
        return pages.invalid(lang)
    lang = page_language(request, pages, form.lang, ctx.locale)
    if not csrf.valid(request, settings, f"/c/{token}", form.csrf_token):
        return pages.forbidden(lang)
    if form.stop_contacting == "yes":  # an objection; the rest of the form is not applied
        if object_through_link(session=session, token=token, now=now).status != "ok":
            session.rollback()
            return pages.invalid(lang)
        session.commit()
        return pages.message(lang, "objected", "objected", 200)
    sub, values, chosen = _parse(form)
    answers = read_answers(settings.templates_dir, form, ctx, lang, default=settings.default_locale)
    errors: dict[str, str] = {"consents": answers.error} if answers.error else {}
    entry, refused = (
        read_incentive(settings.templates_dir, form, ctx.spec, lang, settings.default_locale)
        if ctx.spec is not None
        else (None, None)
    )
    if refused:
        errors["incentive"] = refused
    if form.stop_contacting:
        errors["objection"] = "objection: invalid answer"
    submitted = SubmissionForm(
        sub.email, sub.mobile, sub.postal, answers.consents, answers.notices, entry
    )
    if errors:  # refused here: the fields are checked too, so every error shows at once
        profile = session.get(Profile, ctx.profile_id)
        country = normalise_country(profile.country if profile else None)
        errors = validate_form(ctx, submitted, settings.default_region, country)[0] | errors
    else:
        result = apply_submission(
            session=session,
            token=token,
            form=submitted,
            now=now,
            client_time=None,
            default_region=settings.default_region,
            code_secret=settings.code_secret,
            max_submissions=settings.link_max_submissions,
        )
        if result.status == "invalid_link":
            session.rollback()
            return pages.invalid(lang)
        if result.status == "limit":
            session.rollback()
            return pages.message(lang, "link_limit", "link-limit", 429)
        errors = result.errors
    if errors:
        session.rollback()
        text = pages.text(lang)
        shown = {}
        for key, reason in errors.items():
            field = key.split(".", 1)[1] if key.startswith("postal.") else key
            shown[field] = error_text(field, reason, text)
        return form_page(
            request, pages, ctx, token, lang, status=422, values=values,
            chosen={k: v if v in ACTIONS else "keep" for k, v in chosen.items()},
            consents=answers.typed, errors=shown, objecting=bool(form.stop_contacting),
            incentive_chosen=form.incentive == "yes", session=session,
        )  # fmt: skip
    session.commit()
    sent = send_challenges(
        session=session,
        settings=settings,
        channels=services.channels,
        challenges=result.challenges,
        locale=lang,
    )
    sms = [s for s in sent if s.ok and s.challenge.kind == SMS_CODE]
    nonce = csrf.nonce_for(request)
    after = open_link(session=session, token=token, now=utcnow())
    return pages.render(
        "thanks.html",
        lang,
        nonce=nonce,
        action=f"/c/{token}",
        progress=page_progress(session, after or ctx, settings),
        reference=message_reference_of(ctx),
        email_sent=any(s.ok and s.challenge.kind == EMAIL_CONFIRM for s in sent),
        challenge=sign_challenge(settings, ctx.profile_id, sms[-1].challenge.challenge_id)
        if sms
        else None,
        code_csrf=csrf.form_token(settings, "/code", nonce),
        code_error=None,
    )


# -- the one-time SMS code ------------------------------------------------------------------


def _challenge_mac(settings: Settings, profile_id: int, challenge_id: int) -> str:
    key = settings.secret_key.get_secret_value().encode()
    msg = f"challenge:{profile_id}:{challenge_id}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()[:32]


def sign_challenge(settings: Settings, profile_id: int, challenge_id: int) -> str:
    """The opaque reference the code form carries: ids plus a MAC, so ids cannot be probed."""
    return f"{profile_id}.{challenge_id}.{_challenge_mac(settings, profile_id, challenge_id)}"


def read_challenge(settings: Settings, value: object) -> tuple[int, int] | None:
    parts = value.split(".") if isinstance(value, str) and len(value) < 100 else []
    if len(parts) != 3 or not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    pid, cid = int(parts[0]), int(parts[1])
    return (pid, cid) if hmac.compare_digest(_challenge_mac(settings, pid, cid), parts[2]) else None


@router.post("/code", response_class=HTMLResponse)
def code_page(
    form: Annotated[CodeForm, Form()],
    request: Request,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    pages, settings = services.pages, services.pages.settings
    lang = page_language(request, pages, form.lang)
    if (limited := rate_limited(request, pages, services.limiter, lang)) is not None:
        return limited
    if not csrf.valid(request, settings, "/code", form.csrf_token):
        return pages.forbidden(lang)
    ids = read_challenge(settings, form.challenge)
    if ids is None:
        return pages.invalid(lang)
    result = check_sms_code(
        session=session,
        profile_id=ids[0],
        challenge_id=ids[1],
        code=form.code[:32],
        now=utcnow(),
        code_secret=settings.code_secret,
    )
    session.commit()  # a wrong code still costs an attempt
    if result.status == "ok":
        return pages.message(lang, "mobile_verified", "mobile-verified", 200)
    if result.status == "invalid":
        return pages.invalid(lang)
    text = pages.text(lang)
    nonce = csrf.nonce_for(request)
    wrong = result.status == "wrong"
    return pages.render(
        "code.html",
        lang,
        status=422 if wrong else 410,
        nonce=nonce,
        challenge=form.challenge if wrong else None,
        code_csrf=csrf.form_token(settings, "/code", nonce),
        code_error=text.attempts_left(result.attempts_left)
        if wrong
        else text[f"code_{result.status}"],
    )


# -- the email confirmation link ------------------------------------------------------------


def _confirm_locale(session: Session, token: str) -> str | None:
    """The locale of the message behind a live confirmation token (else the profile's), None
    when it is not live."""
    digest = hash_presented(token)
    if digest is None:
        return None
    row = session.exec(
        select(VerificationToken).where(
            VerificationToken.token_hash == digest, VerificationToken.kind == EMAIL_CONFIRM
        )
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        return None
    outreach = session.get(Outreach, row.outreach_id) if row.outreach_id else None
    return message_locale(outreach, session.get(Profile, row.profile_id))


@router.get("/e/{token}", response_class=HTMLResponse)
def email_page(
    token: str, request: Request, session: SessionDep, services: ServicesDep
) -> Response:
    pages = services.pages
    limited = rate_limited(request, pages, services.limiter, page_language(request, pages))
    if limited is not None:
        return limited
    locale = _confirm_locale(session, token)
    if locale is None:
        return pages.invalid(page_language(request, pages))
    lang = page_language(request, pages, locale=locale)
    nonce = csrf.nonce_for(request)
    return pages.render(
        "email_confirm.html",
        lang,
        nonce=nonce,
        switch=True,
        action=f"/e/{token}",
        csrf=csrf.form_token(pages.settings, f"/e/{token}", nonce),
    )


@router.post("/e/{token}", response_class=HTMLResponse)
def email_confirm(
    token: str,
    form: Annotated[ConfirmForm, Form()],
    request: Request,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    pages = services.pages
    lang = page_language(request, pages, form.lang)
    if (limited := rate_limited(request, pages, services.limiter, lang)) is not None:
        return limited
    locale = _confirm_locale(session, token)
    lang = page_language(request, pages, form.lang, locale)
    if locale is None:
        return pages.invalid(lang)
    if not csrf.valid(request, pages.settings, f"/e/{token}", form.csrf_token):
        return pages.forbidden(lang)
    result = confirm_email(session=session, token=token, now=utcnow())
    if result.status != "ok":
        session.rollback()
        return pages.invalid(lang)
    session.commit()
    return pages.message(lang, "email_verified", "email-verified", 200)


@router.get("/static/landing.css")
def stylesheet(pages: PagesDep) -> FileResponse:
    path = Path(pages.settings.templates_dir) / "landing" / "static" / "landing.css"
    return FileResponse(path, media_type="text/css", headers={"Cache-Control": "max-age=3600"})
