"""``enrich profile dossier EXTERNAL_ID``: everything held and done about one customer, for the
data-protection officer, as text, JSON or one self-contained HTML page."""

from __future__ import annotations

import getpass
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from enrich.cli import exit_codes
from enrich.cli.profile import profile_app
from enrich.documents.dossier import render
from enrich.runtime import get_engine
from enrich.settings import Settings, get_settings
from models.data_subject.request import Request, RequestError
from models.dossier import Dossier, UnknownProfile, read_dossier
from models.types import utcnow


class Format(StrEnum):
    text = "text"
    json = "json"
    html = "html"


def load_dossier(settings: Settings, external_id: str, request: Request) -> Dossier:
    """The dossier of ``external_id`` under these settings, its reading audited; raises
    :class:`UnknownProfile`."""
    with get_engine(settings).begin() as conn:
        return read_dossier(
            conn,
            external_id=external_id,
            request=request,
            now=utcnow(),
            max_age_days=settings.verification_max_age_days,
            idle_days=settings.sweep_idle_days,
            templates_dir=settings.templates_dir,
        )


@profile_app.command("dossier")
def dossier_command(
    external_id: Annotated[str, typer.Argument(help="The customer's id in the CRM.")],
    fmt: Annotated[
        Format, typer.Option("--format", help="text, json, or html (one page to file).")
    ] = Format.text,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of the terminal.")
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", help="Who asks (recorded on the audit trail; default: your login)."),
    ] = None,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (recorded on the audit trail; no personal data).")
    ] = "dossier requested on the command line",
) -> None:
    """Every value with its source, changes, proofs and challenges; every message with its
    reason, delivery events and answers; every consent; objection, restriction and erasure."""
    settings = get_settings()
    try:
        request = Request.checked(
            requested_by=by or f"cli:{getpass.getuser()}", reason=reason, via="cli"
        )
    except RequestError as err:
        typer.echo(f"invalid request: {err}", err=True)
        raise typer.Exit(exit_codes.INVALID) from None
    try:
        dossier = load_dossier(settings, external_id, request)
    except UnknownProfile:
        typer.echo("No profile has this external id.", err=True)
        raise typer.Exit(exit_codes.INVALID) from None
    document = render(dossier, fmt.value, templates_dir=settings.templates_dir)
    if out is None:
        typer.echo(document, nl=False)
        return
    try:
        # Personal data: readable by its owner only.
        handle = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(document)
    except OSError as err:
        typer.echo(f"Cannot write {out.name}: {err.strerror}", err=True)
        raise typer.Exit(exit_codes.FAILED) from None
    typer.echo(f"Dossier of profile {dossier.profile.id} written to {out.name}.", err=True)
