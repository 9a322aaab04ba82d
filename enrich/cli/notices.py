"""``enrich notices publish | list``: the consent notice texts and the record of published ones.

Publishing records the sha256 of every notice file not yet in
``templates/notices/published.json``; commit that file with the texts. ``enrich check`` then
fails whenever a published text is edited without a new version.
"""

from __future__ import annotations

import typer
from rich.console import Console

from enrich.cli import exit_codes
from enrich.settings import get_settings
from models.consent.notices import NoticeError, notice_files, publish, read_published

notices_app = typer.Typer(
    help="Consent notice texts: publish new versions, list them.", no_args_is_help=True
)
console = Console(soft_wrap=True)


@notices_app.command("publish")
def publish_command() -> None:
    """Record every new notice text as published (never one whose published text changed)."""
    templates_dir = get_settings().templates_dir
    try:
        added = publish(templates_dir)
    except NoticeError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(exit_codes.FAILED) from None
    for purpose, version, locale in added:
        console.print(f"published {purpose} {version} {locale}", highlight=False)
    if not added:
        console.print("nothing new to publish", highlight=False)


@notices_app.command("list")
def list_command() -> None:
    """Every notice file, with whether it is published."""
    templates_dir = get_settings().templates_dir
    try:
        published = read_published(templates_dir)
    except NoticeError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(exit_codes.FAILED) from None
    for (purpose, version, locale), path in notice_files(templates_dir).items():
        state = "published" if (purpose, version, locale) in published else "draft"
        console.print(f"{purpose} {version} {locale} {state} {path}", highlight=False)
