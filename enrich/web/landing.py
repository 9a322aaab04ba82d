"""The customer-facing landing page: personal link, SMS code and email confirmation routes.

The routes stay thin: the rules live in :mod:`models.answers.submissions` and
:mod:`models.answers.proof_of_control`; CSRF, rate limiting, text and sending proof messages in the
sibling modules. No JavaScript is used.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from enrich.runtime import get_engine
from enrich.settings import Settings
from enrich.web import csrf
from enrich.web.challenges import send_challenges
from enrich.web.deps import SessionDep, SettingsDep
from enrich.web.i18n import LANGUAGE_NAMES, LANGUAGES, choose_language, error_text, strings
from enrich.web.ratelimit import SharedFixedWindow
from models.answers.link_tokens import hash_presented
from models.answers.personal_link import LinkContext, open_link
from models.answers.proof_of_control import EMAIL_CONFIRM, SMS_CODE, check_sms_code, confirm_email
from models.answers.submissions import FieldAction, PostalInput, SubmissionForm, apply_submission
from models.tables import Profile, VerificationToken
from models.types import utcnow

router = APIRouter()

ACTIONS = ("keep", "confirm", "change")
ADDRESS = ("street", "house_number", "postal_code", "city", "country")
CONSENT_VALUES = {"granted": True, "withdrawn": False, "unanswered": None}
_KEEP_TYPED = 400  # longer typed values are not echoed back whole


@lru_cache(maxsize=4)
def _env(templates_dir: str) -> Environment:
    return Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )


def render_page(
    settings: Settings,
    name: str,
    lang: str,
    *,
    status: int = 200,
    nonce: str | None = None,
    switch: bool = False,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    text = strings(settings.templates_dir, lang)
    page = _env(str(settings.templates_dir)).get_template(f"landing/{name}")
    html = page.render(
        t=text,
        lang=lang,
        organisation=settings.organisation_name,
        switch=[(c, LANGUAGE_NAMES[c]) for c in LANGUAGES] if switch else None,
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=headers)
    if nonce is not None:
        csrf.set_cookie(response, settings, nonce)
    return response


def message_page(
    settings: Settings, lang: str, key: str, heading_id: str, status: int, **kw: Any
) -> HTMLResponse:
    text = strings(settings.templates_dir, lang)
    return render_page(
        settings,
        "message.html",
        lang,
        status=status,
        heading=text[f"{key}_title"],
        heading_id=heading_id,
        body=text[f"{key}_text"],
        **kw,
    )


def invalid_page(settings: Settings, lang: str) -> HTMLResponse:
    """The one page for unknown, expired and used links (it must not say which)."""
    return message_page(settings, lang, "invalid", "link-invalid", 404, switch=True)


def rate_limited(request: Request, settings: Settings, lang: str) -> HTMLResponse | None:
    """The 429 page when this client is over the limit, else None (the hit is counted).

    It writes to the database: async routes call it through ``run_in_threadpool``. Behind a
    trusted proxy ``request.client`` is already the customer (see :mod:`enrich.web.app`).
    """
    limiter: SharedFixedWindow | None = getattr(request.app.state, "landing_limiter", None)
    if limiter is None:
        limiter = SharedFixedWindow(
            get_engine(settings),
            limit=settings.landing_rate_limit,
            window=settings.landing_rate_window_seconds,
            secret=settings.secret_key.get_secret_value().encode(),
        )
        request.app.state.landing_limiter = limiter
    wait = limiter.hit(request.client.host if request.client else "unknown", utcnow())
    if wait is None:
        return None
    return message_page(
        settings, lang, "too_many", "too-many", 429, headers={"Retry-After": str(wait)}
    )


def page_language(request: Request, form: FormData | None = None, locale: str | None = None) -> str:
    asked = form.get("lang") if form is not None else None
    return choose_language(asked or request.query_params.get("lang"), locale)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


# -- the personal link ----------------------------------------------------------------------


def _form_page(
    request: Request,
    settings: Settings,
    ctx: LinkContext,
    token: str,
    lang: str,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    chosen: dict[str, str] | None = None,
    consents: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    text = strings(settings.templates_dir, lang)
    nonce = csrf.nonce_for(request)
    current = {True: "granted", False: "withdrawn", None: "unanswered"}
    purposes = [
        {
            "key": p.key,
            "required": p.required,
            "text_version": p.text_version,
            "text": text["purposes"].get(p.key, p.key),
            "chosen": (consents or {}).get(p.key, current[p.granted]),
        }
        for p in ctx.purposes
    ]
    return render_page(
        settings,
        "form.html",
        lang,
        status=status,
        nonce=nonce,
        switch=True,
        action=f"/c/{token}",
        csrf=csrf.form_token(settings, f"/c/{token}", nonce),
        fields=ctx.fields,
        purposes=purposes,
        values={k: v[:_KEEP_TYPED] for k, v in (values or {}).items()},
        chosen=chosen or {k: "keep" for k in ("email", "mobile", "postal")},
        errors=errors or {},
    )


@router.get("/c/{token}", response_class=HTMLResponse)
def landing_page(
    token: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    if (limited := rate_limited(request, settings, page_language(request))) is not None:
        return limited
    ctx = open_link(session=session, token=token, now=utcnow())
    if ctx is None:
        return invalid_page(settings, page_language(request))
    return _form_page(request, settings, ctx, token, page_language(request, locale=ctx.locale))


def _parse(form: FormData) -> tuple[SubmissionForm, dict[str, str], dict[str, str]]:
    """(submission without consents, typed values, chosen actions); a missing action is keep."""
    values = {k: _text(form, k) for k in ("email", "mobile", *ADDRESS)}
    chosen: dict[str, str] = {}
    for kind in ("email", "mobile", "postal"):
        action = _text(form, f"{kind}_action") or "keep"
        typed = any(values[k].strip() for k in (ADDRESS if kind == "postal" else (kind,)))
        # Without JavaScript a customer may type a new value and forget the radio button.
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
async def submit_page(
    token: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    form = await request.form()
    lang = page_language(request, form)
    if (limited := await run_in_threadpool(rate_limited, request, settings, lang)) is not None:
        return limited
    now = utcnow()
    ctx = open_link(session=session, token=token, now=now)
    if ctx is None:
        return invalid_page(settings, page_language(request, form))
    lang = page_language(request, form, ctx.locale)
    if not csrf.valid(request, settings, f"/c/{token}", form.get("csrf_token")):
        return message_page(settings, lang, "forbidden", "forbidden", 403)
    sub, values, chosen = _parse(form)
    consents: dict[str, bool | None] = {}
    typed_consents: dict[str, str] = {}
    errors: dict[str, str] = {}
    for p in ctx.purposes:
        answer = _text(form, f"consent_{p.key}") or "unanswered"
        if answer not in CONSENT_VALUES:
            errors["consents"] = "consent: invalid answer"
            continue
        consents[p.key], typed_consents[p.key] = CONSENT_VALUES[answer], answer
    if not errors:
        result = apply_submission(
            session=session,
            token=token,
            form=SubmissionForm(sub.email, sub.mobile, sub.postal, consents),
            now=now,
            client_time=None,
            default_region=settings.default_region,
            code_secret=settings.code_secret,
        )
        if result.status in ("invalid_link", "already_used"):
            session.rollback()
            return invalid_page(settings, lang)
        errors = result.errors
    if errors:
        session.rollback()
        text = strings(settings.templates_dir, lang)
        shown = {}
        for key, reason in errors.items():
            field = key.split(".", 1)[1] if key.startswith("postal.") else key
            shown[field] = error_text(field, reason, text)
        return _form_page(
            request, settings, ctx, token, lang, status=422, values=values,
            chosen={k: v if v in ACTIONS else "keep" for k, v in chosen.items()},
            consents=typed_consents, errors=shown,
        )  # fmt: skip
    session.commit()
    sent = send_challenges(
        session=session, settings=settings, challenges=result.challenges, locale=lang
    )
    sms = [s for s in sent if s.ok and s.challenge.kind == SMS_CODE]
    nonce = csrf.nonce_for(request)
    return render_page(
        settings,
        "thanks.html",
        lang,
        nonce=nonce,
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
async def code_page(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    lang = page_language(request, form)
    if (limited := await run_in_threadpool(rate_limited, request, settings, lang)) is not None:
        return limited
    if not csrf.valid(request, settings, "/code", form.get("csrf_token")):
        return message_page(settings, lang, "forbidden", "forbidden", 403)
    ids = read_challenge(settings, form.get("challenge"))
    if ids is None:
        return invalid_page(settings, lang)
    result = check_sms_code(
        session=session,
        profile_id=ids[0],
        challenge_id=ids[1],
        code=_text(form, "code")[:32],
        now=utcnow(),
        code_secret=settings.code_secret,
    )
    session.commit()  # a wrong code still costs an attempt
    if result.status == "ok":
        return message_page(settings, lang, "mobile_verified", "mobile-verified", 200)
    if result.status == "invalid":
        return invalid_page(settings, lang)
    text = strings(settings.templates_dir, lang)
    nonce = csrf.nonce_for(request)
    wrong = result.status == "wrong"
    return render_page(
        settings,
        "code.html",
        lang,
        status=422 if wrong else 410,
        nonce=nonce,
        challenge=_text(form, "challenge") if wrong else None,
        code_csrf=csrf.form_token(settings, "/code", nonce),
        code_error=text["code_wrong"].format(n=result.attempts_left)
        if wrong
        else text[f"code_{result.status}"],
    )


# -- the email confirmation link ------------------------------------------------------------


def _confirm_locale(session: Session, token: str) -> str | None:
    """The profile locale behind a live confirmation token, None when it is not live."""
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
    profile = session.get(Profile, row.profile_id)
    return profile.locale if profile else "nl"


@router.get("/e/{token}", response_class=HTMLResponse)
def email_page(
    token: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    if (limited := rate_limited(request, settings, page_language(request))) is not None:
        return limited
    locale = _confirm_locale(session, token)
    if locale is None:
        return invalid_page(settings, page_language(request))
    lang = page_language(request, locale=locale)
    nonce = csrf.nonce_for(request)
    return render_page(
        settings,
        "email_confirm.html",
        lang,
        nonce=nonce,
        switch=True,
        action=f"/e/{token}",
        csrf=csrf.form_token(settings, f"/e/{token}", nonce),
    )


@router.post("/e/{token}", response_class=HTMLResponse)
async def email_confirm(
    token: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    form = await request.form()
    lang = page_language(request, form)
    if (limited := await run_in_threadpool(rate_limited, request, settings, lang)) is not None:
        return limited
    locale = _confirm_locale(session, token)
    lang = page_language(request, form, locale)
    if locale is None:
        return invalid_page(settings, lang)
    if not csrf.valid(request, settings, f"/e/{token}", form.get("csrf_token")):
        return message_page(settings, lang, "forbidden", "forbidden", 403)
    result = confirm_email(session=session, token=token, now=utcnow())
    if result.status != "ok":
        session.rollback()
        return invalid_page(settings, lang)
    session.commit()
    return message_page(settings, lang, "email_verified", "email-verified", 200)


@router.get("/static/landing.css", include_in_schema=False)
def stylesheet(settings: SettingsDep) -> FileResponse:
    path = Path(settings.templates_dir) / "landing" / "static" / "landing.css"
    return FileResponse(path, media_type="text/css", headers={"Cache-Control": "max-age=3600"})
