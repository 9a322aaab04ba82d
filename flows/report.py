"""The steward's report of a round, written when the round finishes and linked from Prefect.

The report (:func:`models.round_report.collect_report`, rendered by
:mod:`enrich.documents.round_report`) goes to ``<data dir>/reports/round-<id>.html``, readable by
its owner only, replaced whole or not at all. A report that cannot be written never fails the
round: the run logs why (no personal data) and the command that writes it later.
"""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger
from prefect.artifacts import create_link_artifact
from sqlalchemy.engine import Engine

from enrich.documents.round_report import render_report_html
from enrich.settings import Settings
from flows.artifacts import round_key
from models.round_report import collect_report
from models.types import utcnow
from models.whole_files import written_whole

REPORTS_FOLDER = "reports"


def report_path(data_dir: Path, round_id: int) -> Path:
    """Where a round's report is written: absolute, as the link in Prefect needs it."""
    return (data_dir / REPORTS_FOLDER / f"round-{round_id}.html").resolve()


def regenerate_command(round_id: int, out: Path) -> str:
    return f"enrich report --round {round_id} --out {out}"


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (mode 0600) so that readers see the old file or the new one,
    never a part: a temporary file in the same folder, flushed, then renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with written_whole(path, "wb") as file:
        file.write(data)


def write_round_report(engine: Engine, round_id: int, out: Path, settings: Settings) -> None:
    """The steward's report of one round, as HTML, at ``out``."""
    with engine.connect() as conn:
        report = collect_report(
            conn,
            round_id=round_id,
            now=utcnow(),
            default_max_age_days=settings.verification_max_age_days,
        )
    html = render_report_html(report, templates_dir=settings.templates_dir)
    write_private(out, html.encode("utf-8"))


def _why(err: Exception) -> str:
    """What went wrong, without the message itself (it could quote data)."""
    if isinstance(err, OSError) and err.strerror:
        return f"{type(err).__name__}: {err.strerror}"
    return type(err).__name__


def publish_round_report(engine: Engine, round_id: int, settings: Settings) -> Path | None:
    """Write the round's report and link it from a Prefect artifact; the report's path, or
    None when it could not be written (logged, and the round goes on)."""
    out = report_path(settings.data_dir, round_id)
    command = regenerate_command(round_id, out)
    try:
        write_round_report(engine, round_id, out, settings)
    except Exception as err:
        get_run_logger().warning(
            "round %d: the report was not written (%s); `%s` writes it",
            round_id,
            _why(err),
            command,
        )
        return None
    create_link_artifact(
        link=out.as_uri(),
        link_text=f"Steward's report of round {round_id}",
        key=round_key(round_id, "report"),
        description=f"Written when the round finished. `{command}` writes it again with the "
        "numbers of that moment.",
    )
    return out
