"""`enrich import` (customers from a CRM export CSV) and `enrich demo-data` (a demo CSV)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from enrich.cli.demo_data import write_demo_csv
from enrich.runtime import get_engine
from enrich.settings import get_settings
from models import safe_csv
from models.audit_trail.sealing import seal
from models.db import upgrade
from models.importing.apply_rows import ImportFileError, ImportReport, import_csv

console = Console()

REJECTS_OPTION = typer.Option(
    None, "--rejects", help="Write rejected rows and invalid values to this CSV file."
)
ENCODING_OPTION = typer.Option(
    "utf-8", "--encoding", help="The file's encoding, e.g. latin-1 for older exports."
)
COUNT_OPTION = typer.Option(1000, "--count", min=1, help="How many customers to write.")
SEED_OPTION = typer.Option(1, "--seed", help="The same seed writes the same file.")
OUT_OPTION = typer.Option(Path("var/demo/customers.csv"), "--out", help="Where to write the CSV.")


def write_rejects(report: ImportReport, path: Path) -> None:
    """The steward's report: one line per rejected row, invalid or refused value, with the value.

    Written spreadsheet-safe: a cell that would run as a formula starts with ``'``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = safe_csv.Writer(handle)
        writer.writerow(["line", "column", "value", "reason", "outcome"])
        for item in sorted(report.rejects, key=lambda r: (r.line, r.column)):
            writer.writerow([item.line, item.column, item.value, item.reason, item.kind])


def _summary(report: ImportReport) -> Table:
    table = Table(title=f"Import of {report.source_name}", title_justify="left")
    table.add_column("")
    table.add_column("count", justify="right")
    rows = [
        ("rows read", report.rows_read),
        ("profiles created", report.profiles_created),
        ("profiles updated", report.profiles_updated),
        ("profiles unchanged", report.profiles_unchanged),
        ("rows rejected", report.rows_rejected),
    ]
    if report.rows_erased:
        rows.append(("  of them erased people", report.rows_erased))
    rows += [(f"invalid {column}", n) for column, n in sorted(report.invalid_values.items())]
    rows += [(f"refused {column}", n) for column, n in sorted(report.refused_values.items())]
    rows += [
        (f"{column} not supported, default used", n)
        for column, n in sorted(report.substituted_values.items())
    ]
    if report.opted_out_kept:
        rows.append(("values kept opted out", report.opted_out_kept))
    for label, count in rows:
        table.add_row(label, f"{count:,}")
    return table


def import_command(
    file: Path = typer.Argument(..., help="The CSV file to import."),
    rejects: Path | None = REJECTS_OPTION,
    encoding: str = ENCODING_OPTION,
) -> None:
    """Import customers from a CSV file; importing the same file again changes nothing."""
    settings = get_settings()
    engine = get_engine(settings)
    try:
        if not file.is_file():
            raise ImportFileError(f"file not found: {file}")
        upgrade(engine)
        report = import_csv(
            engine=engine,
            path=file,
            source_name=file.name,
            default_region=settings.default_region,
            supported_locales=settings.supported_locales,
            default_locale=settings.default_locale,
            encoding=encoding,
        )
        seal(engine)  # the import's audit rows join the chain
    except ImportFileError as err:
        console.print(f"[red]Cannot import:[/red] {escape(str(err))}", soft_wrap=True)
        raise typer.Exit(2) from None
    console.print(_summary(report))
    if report.unknown_columns:
        console.print(f"Ignored unknown column(s): {', '.join(report.unknown_columns)}")
    if rejects is not None:
        write_rejects(report, rejects)
        console.print(f"Report of {len(report.rejects):,} rejected rows and values: {rejects}")
    elif report.rejects:
        console.print("For the line-by-line report, rerun with --rejects PATH.")
    if report.rows_erased:
        console.print(
            f"{report.rows_erased:,} row(s) name people erased here: not imported again; the "
            "CRM learns of each erasure from 'enrich export changes' and should drop them."
        )
    if fixable := report.rows_rejected - report.rows_erased:
        console.print(f"[red]{fixable:,} row(s) rejected;[/red] fix them and import again.")
    if report.rows_rejected:
        raise typer.Exit(1)


def demo_data_command(
    count: int = COUNT_OPTION,
    seed: int = SEED_OPTION,
    out: Path = OUT_OPTION,
) -> None:
    """Write a CSV of realistic demo customers (several countries, with gaps) to import."""
    written = write_demo_csv(out, count=count, seed=seed)
    console.print(f"Wrote {written:,} demo customers to {out}; next: enrich import {out}")
