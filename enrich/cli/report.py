"""``enrich report``: the steward's report over one round, a campaign's rounds or all of them.

``--json`` prints the figures as JSON (or writes them to ``--out FILE``); ``--out FILE.html``
writes one self-contained HTML page. Files are written whole or not at all (a temporary file
in the same folder, then renamed), readable by their owner only. Exits 2 when the request is
refused (a round and a campaign together, an unknown round or campaign, no output chosen) and
1 when the file cannot be written. The report holds counts only, and countries and languages:
no name, contact value or external id.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from enrich.cli import exit_codes
from enrich.documents.round_report import render_report_html
from enrich.runtime import get_engine
from enrich.settings import get_settings
from models.round_report import CampaignNotFound, collect_report
from models.rounds.status import RoundNotFound
from models.types import utcnow
from models.whole_files import written_whole

HTML_SUFFIXES = (".html", ".htm")


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def write_private(out: Path, text: str) -> None:
    """Write ``text`` to ``out`` whole or not at all, mode 0600 (:mod:`models.whole_files`)."""
    with written_whole(out) as file:
        file.write(text)


def _collect(round_id: int | None, campaign: str | None, since: date | None) -> dict[str, Any]:
    settings = get_settings()
    with get_engine(settings).connect() as conn:
        try:
            return collect_report(
                conn,
                round_id=round_id,
                campaign=campaign,
                since=since,
                now=utcnow(),
                default_max_age_days=settings.verification_max_age_days,
            )
        except (RoundNotFound, CampaignNotFound) as err:
            _fail(f"report refused: {err}", exit_codes.INVALID)


def report_command(
    round_id: Annotated[
        int | None, typer.Option("--round", help="Report on this round only.", min=1)
    ] = None,
    campaign: Annotated[
        str | None,
        typer.Option("--campaign", help="Report on every round of this campaign key."),
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(
            "--since", formats=["%Y-%m-%d"], help="Only rounds started on or after this day."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="FILE.html to write the report to (with --json: the JSON)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="The figures as JSON: printed, or written to --out.")
    ] = False,
) -> None:
    """The funnel per round, step and channel, the drop-off reasons, completeness at the round's
    start and now, the cost, time to answer and results by country and language. Without
    --round or --campaign: every round but the standing contact-moment ones."""
    if round_id is not None and campaign is not None:
        _fail("report refused: give --round or --campaign, not both", exit_codes.INVALID)
    if out is None and not as_json:
        _fail("report refused: give --out FILE.html, or --json", exit_codes.INVALID)
    if out is not None and not as_json and out.suffix.lower() not in HTML_SUFFIXES:
        _fail(
            f"report refused: {out.name} does not end in .html; add --json to write the JSON",
            exit_codes.INVALID,
        )
    if out is not None and not out.parent.is_dir():
        _fail(f"cannot write the report: no folder {out.parent}", exit_codes.FAILED)
    report = _collect(round_id, campaign, since.date() if since is not None else None)
    text = json.dumps(report, indent=2) if as_json else None
    if out is None:
        typer.echo(text)
        return
    if text is None:
        text = render_report_html(report, templates_dir=get_settings().templates_dir)
    try:
        write_private(out, text)
    except OSError as err:
        _fail(f"cannot write the report: {err.strerror}", exit_codes.FAILED)
    typer.echo(f"report on {len(report['rounds'])} round(s) written to {out}")
