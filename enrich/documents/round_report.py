"""The steward's report as one self-contained HTML page: per round its funnel, drop-off,
completeness, cost, time to answer, results by country and language, and the forecast next to
what happened, each chart inline SVG beside a table of the same numbers.

The figures come from ``collect_report`` in :mod:`models.round_report` (the JSON of
``enrich report --json``); this module only lays them out. The page
(``templates/documents/round_report.html``) is autoescaped, styled inline, with no script and
nothing loaded from elsewhere, so it can be mailed as it is. A figure the data does not hold (a
channel that does not report opens, a share of nothing) reads "—" with a footnote, never 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from enrich.documents.report_cells import Table, campaign_name, text, when
from enrich.documents.round_sections import anchor, round_view

TEMPLATE: Final = "documents/round_report.html"


def _scope(parameters: Mapping[str, Any]) -> str:
    parts = []
    if parameters.get("round") is not None:
        parts.append(f"round {parameters['round']}")
    if parameters.get("campaign") is not None:
        parts.append(f"the rounds of campaign {parameters['campaign']}")
    if parameters.get("since") is not None:
        parts.append(f"rounds started on or after {parameters['since']}")
    return "; ".join(parts) or "every round except the standing contact-moment rounds"


@lru_cache(maxsize=4)
def _environment(templates_dir: str) -> Environment:
    return Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(enabled_extensions=("html",), default=True),
        undefined=StrictUndefined,
        auto_reload=False,
    )


def summary(rounds: Sequence[Mapping[str, Any]]) -> Table:
    """One line per round: the figures a manager reads first."""
    table = Table(
        [
            "Round",
            "Campaign",
            "Status",
            "Started",
            "Enrolled",
            "Verified profiles",
            "Completed",
            "Spend",
        ]
    )
    for r in rounds:
        cost = r["cost"]
        table.add(
            text(r["round_id"], anchor(r["round_id"])),
            text(campaign_name(r["campaign"])),
            text(r["status"]),
            text(when(r["started_at"])),
            table.count(r["enrolled"]),
            table.count(cost["verified_profiles"]),
            table.count(cost["completed_enrollments"]),
            table.money(cost["total"], cost["currency"]),
        )
    return table


def render_report_html(
    report: Mapping[str, Any], *, templates_dir: Path = Path("templates")
) -> str:
    """The report (in the shape of ``enrich report --json``) as one HTML page; the same report
    gives the same bytes. ``templates_dir`` is the settings' (``ENRICH_TEMPLATES_DIR``)."""
    if not isinstance(report, Mapping) or not isinstance(report.get("rounds"), list):
        raise ValueError("not a steward's report: expected a 'rounds' list (enrich report --json)")
    head = report["report"]
    template = _environment(str(templates_dir)).get_template(TEMPLATE)
    return template.render(
        generated_at=when(head["generated_at"]),
        database=head["database"],
        scope=_scope(head.get("parameters") or {}),
        summary=summary(report["rounds"]),
        rounds=[round_view(r) for r in report["rounds"]],
    )
