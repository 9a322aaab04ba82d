"""``enrich profile export | erase | object | restrict``: the data subject's rights on request.

The rules are in :mod:`models.data_subject`; these commands check the request, ask before an
erasure, and report in one line. An unknown external id, a missing ``--by`` or ``--reason`` or
a refused request exits 2 with one line on stderr and changes nothing. No message repeats the
external id: it is the customer's identifier.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy.engine import Connection

from enrich.cli import exit_codes
from enrich.cli.profile import profile_app
from enrich.documents.access_export import render_html, render_json
from enrich.runtime import get_engine
from enrich.settings import get_settings
from models.campaigns.spec import CampaignError, load_campaign
from models.data_subject.access import export_profile
from models.data_subject.erasure import erase_on_request
from models.data_subject.objection import object_to_processing, withdraw_objection
from models.data_subject.request import Request, RequestError, find_profile
from models.data_subject.restriction import lift_restriction, restrict
from models.db import truncate_wal
from models.types import utcnow

T = TypeVar("T")

ExternalId = Annotated[str, typer.Argument(help="The customer's id in the CRM.")]
By = Annotated[str, typer.Option("--by", help="Who asked (recorded on the audit trail).")]
Reason = Annotated[
    str, typer.Option("--reason", help="Why: the request or ticket (no personal data, ≤ 500).")
]


def _fail(message: str, code: int = exit_codes.INVALID) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _request(by: str, reason: str) -> Request:
    try:
        return Request.checked(requested_by=by, reason=reason, via="cli")
    except RequestError as err:
        raise _fail(f"invalid request: {err}") from None


def _run(work: Callable[[Connection, datetime], T]) -> T:
    """``work`` in one transaction: committed when it returns, nothing changed when refused."""
    try:
        with get_engine(get_settings()).begin() as conn:
            return work(conn, utcnow())
    except RequestError as err:
        raise _fail(f"{err}; nothing was changed") from None


def _write(path: Path, text: str) -> None:
    # Personal data: readable by its owner only.
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(text)


@profile_app.command("export")
def export_command(
    external_id: ExternalId,
    by: By,
    reason: Reason,
    out_dir: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to write the files (default: ENRICH_DATA_DIR/exports)."),
    ] = None,
) -> None:
    """Everything held on one person (Art. 15), as JSON and as one readable HTML page."""
    settings = get_settings()
    request = _request(by, reason)
    folder = out_dir or settings.data_dir / "exports"

    def work(conn: Connection, now: datetime) -> None:
        document = export_profile(conn, external_id=external_id, request=request, now=now)
        html = render_html(
            document, templates_dir=settings.templates_dir, organisation=settings.organisation_name
        )
        # Written inside the transaction: the audit row commits only with the files on disk.
        stem = folder / f"access-{document['profile']['id']}-{now:%Y%m%dT%H%M%SZ}"
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            _write(stem.with_suffix(".json"), render_json(document))
            _write(stem.with_suffix(".html"), html)
        except OSError as err:
            raise _fail(f"cannot write the export: {err.strerror}", exit_codes.FAILED) from None
        typer.echo(f"Access export written: {stem}.json and {stem.name}.html")

    _run(work)


@profile_app.command("erase")
def erase_command(
    external_id: ExternalId,
    by: By,
    reason: Reason,
    yes: Annotated[bool, typer.Option("--yes", help="Erase without asking for confirmation.")] = (
        False
    ),
) -> None:
    """Erase one person's personal data now (Art. 17); the pseudonymous trail remains."""
    request = _request(by, reason)
    with get_engine(get_settings()).connect() as conn:
        try:
            profile = find_profile(conn, external_id)
        except RequestError as err:
            raise _fail(f"{err}; nothing was changed") from None
    if profile.erased_at is None and not yes:
        question = f"Erase the personal data of profile {profile.id}? This cannot be undone."
        if not typer.confirm(question):
            typer.echo("Nothing was changed.")
            raise typer.Exit(exit_codes.FAILED)
    done = _run(
        lambda conn, now: erase_on_request(conn, external_id=external_id, request=request, now=now)
    )
    truncate_wal(get_engine(get_settings()))  # no old page of the log keeps the erased values
    if done.already:
        typer.echo(
            f"Profile {done.profile_id} was already erased on {done.erased_at:%Y-%m-%d}: "
            "nothing to do."
        )
        return
    typer.echo(
        f"Profile {done.profile_id} erased: contact data, consents and links deleted, names and "
        f"answers emptied; the pseudonymous trail remains under {done.external_id}."
    )


def _campaign_purposes() -> list[str]:
    try:
        spec = load_campaign(get_settings().campaign_file)
    except CampaignError as err:
        raise _fail(str(err).splitlines()[0]) from None
    return [p.key for p in spec.purposes]


@profile_app.command("object")
def object_command(
    external_id: ExternalId,
    by: By,
    reason: Reason,
    purpose: Annotated[
        str | None,
        typer.Option("--purpose", help="Object to this purpose only: its consent is withdrawn."),
    ] = None,
    withdraw: Annotated[
        bool, typer.Option("--withdraw", help="Withdraw the objection to everything.")
    ] = False,
) -> None:
    """Record an objection (Art. 21): no round or contact moment reaches the person any more."""
    request = _request(by, reason)
    if withdraw and purpose is not None:
        raise _fail(
            "a purpose's consent is given again only by the customer (landing page); "
            "--withdraw applies to the objection to everything"
        )
    if withdraw:
        result = _run(
            lambda conn, now: withdraw_objection(
                conn, external_id=external_id, request=request, now=now
            )
        )
    else:
        purposes = _campaign_purposes() if purpose is not None else []
        result = _run(
            lambda conn, now: object_to_processing(
                conn,
                external_id=external_id,
                request=request,
                now=now,
                purpose=purpose,
                purposes=purposes,
            )
        )
    typer.echo(f"Objection: {result}.")


@profile_app.command("restrict")
def restrict_command(
    external_id: ExternalId,
    by: By,
    reason: Reason,
    lift: Annotated[bool, typer.Option("--lift", help="Lift the restriction.")] = False,
) -> None:
    """Restrict processing (Art. 18): kept, but not selected, sent to or asked at a moment."""
    request = _request(by, reason)
    change = lift_restriction if lift else restrict
    result = _run(lambda conn, now: change(conn, external_id=external_id, request=request, now=now))
    typer.echo(f"Restriction: {result}.")
