"""``enrich audit``: seal the audit trail, verify it, write signed checkpoints."""

from __future__ import annotations

import typer

audit_app = typer.Typer(help="The audit trail: seal, verify, checkpoint.", no_args_is_help=True)
