"""The incentive's part of a round in the steward's report: entered and earned per terms
version, and the awards' cost as a line of its own in the cost section."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from enrich.documents.charts import DASH
from enrich.documents.report_cells import Table, count, money, text

KINDS = {"prize_draw": "prize draw", "discount": "discount"}


def incentive_tables(r: Mapping[str, Any]) -> list[tuple[str, Table]]:
    """[(lead, table)] of the round's incentive; none when the campaign offers none."""
    figures = r.get("incentive")
    if not figures:
        return []
    offered = figures["offered"]
    if offered is None:
        lead = "The campaign no longer offers an incentive; entries made while it did:"
    else:
        kind = KINDS.get(offered["kind"], offered["kind"])
        lead = (
            f"The campaign offers a {kind} ({offered['key']}, terms {offered['terms_version']}):"
            " entered = the customer ticked its box on the landing page; earned = their"
            " enrollment then completed."
        )
    table = Table(["Terms", "Entered", "Earned"])
    for row in figures["by_terms"]:
        table.add(
            text(f"{row['key']} {row['terms_version']}"),
            table.count(row["entered"]),
            table.count(row["earned"]),
        )
    table.total = [
        text("total"),
        table.count(figures["entered"]),
        table.count(figures["earned"]),
    ]
    return [(lead, table)]


def incentive_cost_facts(cost: Mapping[str, Any]) -> Sequence[tuple[str, str]]:
    """The cost section's incentive line: awards times the cost per award (not in the spend)."""
    awards = cost.get("incentive")
    if not awards or cost["currency"] is None:
        return []
    unit = awards["unit_cost"]
    if unit is None:
        return [("Incentive awards", f"{DASH} ({count(awards['earned'])} earned, no cost set)")]
    each = money(unit, cost["currency"], unit=True)
    total = money(awards["cost"], cost["currency"])
    return [("Incentive awards", f"{total} ({count(awards['earned'])} earned × {each})")]
