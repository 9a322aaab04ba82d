"""``enrich audit``: seal the audit trail, verify it, write signed checkpoints.

``verify`` exits 0 when the chain is intact (and unchanged up to the checkpoint, if given), 1
naming the first break, 2 when it cannot start (no key, an unreadable or malformed checkpoint).
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer

from enrich.cli import exit_codes
from enrich.runtime import get_engine
from enrich.settings import get_settings
from models.audit_trail import checkpoint as checkpoints
from models.audit_trail.sealing import SealingError, seal
from models.audit_trail.verify import Verified, verify
from models.types import utcnow

audit_app = typer.Typer(help="The audit trail: seal, verify, checkpoint.", no_args_is_help=True)


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _summary(result: Verified) -> str:
    pending = f"; {result.pending:,} row(s) not sealed yet" if result.pending else ""
    return (
        f"{result.rows:,} sealed row(s), head seq {result.head_seq} ({result.head_hash[:16]}…)"
        f"{pending}; checked at {result.rows_per_second:,.0f} rows/s"
    )


@audit_app.command("seal")
def seal_command() -> None:
    """Seal every pending audit row into the hash chain (waits for a sealer already at work)."""
    engine = get_engine(get_settings())
    try:
        sealed = seal(engine, wait=True)
    except SealingError as err:
        _fail(f"Sealing stopped: {err}. Rows sealed before it stay sealed.", exit_codes.FAILED)
    typer.echo(f"{sealed:,} audit row(s) sealed.")


@audit_app.command("verify")
def verify_command(
    checkpoint: Path | None = typer.Option(
        None, "--checkpoint", help="A checkpoint file: prove nothing up to it has changed."
    ),
    public_key: str | None = typer.Option(
        None, "--public-key", help="The checkpoint's public key (default: ENRICH_AUDIT_PUBLIC_KEY)."
    ),
) -> None:
    """Walk the hash chain; exit 0 when intact, 1 naming the first row that was tampered with."""
    settings = get_settings()
    point = None
    if checkpoint is not None:
        key = public_key or settings.audit_public_key
        if not key:
            _fail("A checkpoint needs a public key: --public-key or ENRICH_AUDIT_PUBLIC_KEY.",
                  exit_codes.INVALID)  # fmt: skip
        try:
            point = checkpoints.read(checkpoint, key)
        except checkpoints.CheckpointError as err:
            _fail(str(err), exit_codes.INVALID)
    result = verify(get_engine(settings), remember=[point.seq] if point else [])
    problem = result.problem if point is None else checkpoints.against(point, result)
    if problem is not None:
        _fail(f"The audit trail is NOT intact: {problem}", exit_codes.FAILED)
    typer.echo(f"The audit trail is intact: {_summary(result)}.")
    if point is not None:
        typer.echo(f"Unchanged up to the checkpoint of {point.at} (seq {point.seq}, "
                   f"key {point.key_id}).")  # fmt: skip


@audit_app.command("checkpoint")
def checkpoint_command(
    out: Path = typer.Option(..., "--out", help="Where to write the signed checkpoint (JSON)."),
) -> None:
    """Verify the chain, then write its head, row count and time, signed with the audit key."""
    settings = get_settings()
    if settings.audit_signing_key is None:
        _fail("Set ENRICH_AUDIT_SIGNING_KEY to sign checkpoints (`enrich audit keygen`).",
              exit_codes.INVALID)  # fmt: skip
    signing_key = settings.audit_signing_key.get_secret_value()
    try:
        checkpoints.private_key(signing_key)
    except checkpoints.CheckpointError as err:
        _fail(f"ENRICH_AUDIT_SIGNING_KEY: {err}", exit_codes.INVALID)
    result = verify(get_engine(settings))
    if result.problem is not None:
        _fail(f"No checkpoint written: the audit trail is NOT intact: {result.problem}",
              exit_codes.FAILED)  # fmt: skip
    document = checkpoints.sign(result, signing_key, utcnow())
    try:
        checkpoints.write(document, out)
    except OSError as err:
        _fail(f"Cannot write {out.name}: {err.strerror}", exit_codes.INVALID)
    typer.echo(f"Checkpoint written to {out.name}: {_summary(result)}.")


@audit_app.command("keygen")
def keygen_command() -> None:
    """Print a fresh Ed25519 key pair as settings lines (keep the signing key secret)."""
    signing, public = checkpoints.new_key_pair()
    typer.echo(f"ENRICH_AUDIT_SIGNING_KEY={signing}")
    typer.echo(f"ENRICH_AUDIT_PUBLIC_KEY={public}")
