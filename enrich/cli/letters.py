"""``enrich letters returned FILE``: the codes on returned letters mark those addresses invalid."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from enrich.runtime import get_engine
from enrich.settings import get_settings
from models.db import session_scope
from models.feedback.returned_letters import mark_returned
from models.types import utcnow

letters_app = typer.Typer(help="Printed letters.", no_args_is_help=True)
console = Console()


def read_codes(text: str) -> list[str]:
    """Codes one per line, or the first column of a CSV; blank lines and a header are skipped."""
    codes: list[str] = []
    for row in csv.reader(io.StringIO(text)):
        if not row or not row[0].strip():
            continue
        code = row[0].strip()
        if not codes and code.lower() in ("return_code", "code"):
            continue  # a CSV header
        codes.append(code)
    return codes


@letters_app.command("returned")
def returned_command(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="Codes, one per line."),
    ],
    actor: Annotated[str, typer.Option(help="Who reports the returns (for the audit).")] = "cli",
) -> None:
    """Mark the postal addresses of returned letters invalid and move their enrollments on."""
    try:
        codes = read_codes(file.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        console.print("[red]The file is not UTF-8 text.[/red]")
        raise typer.Exit(2) from None
    with session_scope(get_engine(get_settings())) as session:
        outcome = mark_returned(session=session, codes=codes, now=utcnow(), actor=actor)
    console.print(
        f"{len(codes)} codes read: {outcome.marked} addresses marked invalid, "
        f"{outcome.already_invalid} already invalid, "
        f"{outcome.enrollments_due} enrollments moved on, "
        f"{len(outcome.unknown_codes)} unknown, {len(outcome.bad_codes)} bad."
    )
    for code in outcome.bad_codes:
        console.print(f"bad code (malformed or wrong check digit): {code}", markup=False)
    for code in outcome.unknown_codes:
        console.print(f"unknown code (no posted letter): {code}", markup=False)
    if outcome.bad_codes or outcome.unknown_codes:
        raise typer.Exit(1)
