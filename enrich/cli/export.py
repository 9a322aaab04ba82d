"""``enrich export changes``: the verified and changed contact data, back to the CRM.

Exits 0 with one line saying what was written and where the next export starts; 2 when the
request is refused (a reversed cursor range, a file that is neither CSV nor JSON Lines) and 1
when the file cannot be written. Either failure leaves the stored cursor where it was. Two
exports at once follow each other: the second waits for the first's cursor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from enrich.cli import exit_codes
from enrich.runtime import get_engine
from enrich.settings import get_settings
from models.audit_trail.sealing import SealingError, seal
from models.changes_feed.export_file import ExportError, export_changes
from models.types import utcnow

export_app = typer.Typer(help="Results for the organisation's other systems.", no_args_is_help=True)


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


@export_app.command("changes")
def changes_command(
    out: Annotated[Path, typer.Option("--out", help="FILE.csv or FILE.jsonl to write.")],
    since: Annotated[
        int | None,
        typer.Option(
            "--since", help="Start after this cursor (default: where the last export stopped)."
        ),
    ] = None,
    until: Annotated[
        int | None,
        typer.Option("--until", help="End at this cursor (default: the newest change)."),
    ] = None,
) -> None:
    """Every contact point verified, changed, bounced, invalidated, contested or opted out, every
    consent given or withdrawn and every person erased, since the last export: one line per
    record, keyed by the CRM's external id, with its value, status, method and time. CSV cells
    are spreadsheet-safe. A second export started meanwhile waits, then goes on from here."""
    engine = get_engine(get_settings())
    try:
        seal(engine, wait=True)  # the answers of the last minutes join the chain, and the feed
    except SealingError as err:
        _fail(f"cannot export: the audit trail cannot be sealed ({err})", exit_codes.FAILED)
    try:
        with engine.begin() as conn:
            done = export_changes(conn, out, since=since, until=until, now=utcnow())
    except ExportError as err:
        _fail(f"export refused: {err}; nothing was written", exit_codes.INVALID)
    except OSError as err:
        _fail(f"cannot write the export: {err.strerror}; the cursor stays", exit_codes.FAILED)
    typer.echo(
        f"{done.rows:,} change(s) written to {out} (cursor {done.since} to {done.until}); "
        f"the next export starts after {done.until}."
    )
