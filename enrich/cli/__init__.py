"""The ``enrich`` command line: one module per command group, registered here."""

from __future__ import annotations

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console

from enrich.cli import exit_codes
from enrich.cli.audit import audit_app
from enrich.cli.check import check_command
from enrich.cli.data import demo_data_command, import_command
from enrich.cli.dossier import dossier_command  # noqa: F401  (registers `profile dossier`)
from enrich.cli.export import export_app
from enrich.cli.letters import letters_app
from enrich.cli.notices import notices_app
from enrich.cli.outreach import outreach_app
from enrich.cli.profile import profile_app
from enrich.cli.profile_rights import export_command  # noqa: F401  (registers the rights)
from enrich.cli.providers import providers_app
from enrich.cli.report import report_command
from enrich.cli.round import round_app
from enrich.cli.serve import serve_command
from enrich.cli.settings_errors import describe
from enrich.cli.sweep import sweep_app
from enrich.runtime import get_engine
from enrich.settings import get_settings
from models.db import current_revision, upgrade

app = typer.Typer(help="Enrich keeps your customer contact base alive.", no_args_is_help=True)
console = Console()


@app.callback()
def check_settings() -> None:
    """Read the settings before any command runs: an invalid one stops it, exit 2.

    One line per invalid variable on stderr, no traceback; checked here once for every command
    (including those that never read a setting, so a broken .env is found at the first command).
    """
    try:
        get_settings()
    except (ValidationError, SettingsError) as err:
        for line in describe(err):
            typer.echo(line, err=True)
        raise typer.Exit(exit_codes.INVALID) from None


@app.command("init")
def init_command() -> None:
    """Create the database, or upgrade it to the newest schema."""
    settings = get_settings()
    engine = get_engine(settings)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        console.print(f"Database {where} is up to date (revision {after}).")
    else:
        console.print(f"Database {where} upgraded from {before or 'empty'} to {after}.")


app.command("import")(import_command)
app.command("demo-data")(demo_data_command)
app.add_typer(round_app, name="round")
app.add_typer(letters_app, name="letters")
app.command("serve")(serve_command)
app.command("check")(check_command)
app.add_typer(outreach_app, name="outreach")
app.add_typer(sweep_app, name="sweep")
app.add_typer(providers_app, name="providers")
app.add_typer(profile_app, name="profile")
app.add_typer(audit_app, name="audit")
app.add_typer(notices_app, name="notices")
app.add_typer(export_app, name="export")
app.command("report")(report_command)
