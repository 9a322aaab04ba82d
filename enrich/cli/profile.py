"""``enrich profile``: one customer, as the data-protection officer asks about them."""

from __future__ import annotations

import typer

profile_app = typer.Typer(
    help="One customer: the dossier, access, erasure, objection and restriction.",
    no_args_is_help=True,
)
