"""The steward's report as one HTML page: a chart per figure drawn inline beside its table,
nothing loaded from elsewhere and no script, "—" where the report holds no figure, every value
from the database escaped, and the same bytes for the same report."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from typing import Any

import pytest

from enrich.documents import charts
from enrich.documents.charts import Panel, Series
from enrich.documents.round_report import render_report_html
from tests.conftest import REPO
from tests.enrich.report_sample import sample_report

TEMPLATES = REPO / "templates"
CHARTS = {
    "round-3": ["funnel", "drop-off", "completeness", "cost", "time-to-answer", "forecast"],
    # No unit costs, no forecast: no cost or forecast chart.
    "round-4": ["funnel", "drop-off", "completeness", "time-to-answer"],
}
HOSTILE = '<script>alert("x")</script>'


def render(report: dict[str, Any]) -> str:
    return render_report_html(report, templates_dir=TEMPLATES)


class _Tables(HTMLParser):
    """The text of every table's cells, by the id of the section around it."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.sections: list[str] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self.sections.append(dict(attrs).get("id") or "")
        elif tag == "tr":
            self.tables.setdefault(self.sections[-1], []).append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.sections.pop()
        elif tag in ("td", "th") and self.cell is not None:
            self.tables[self.sections[-1]][-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def tables(html: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.sections = ["page"]
    parser.feed(html)
    return parser.tables


@pytest.fixture(scope="module")
def html() -> str:
    return render(sample_report())


def test_each_figure_has_an_inline_chart_with_a_title_and_a_table(html: str) -> None:
    drawn = re.findall(r'<svg id="([^"]+)" role="img" aria-labelledby="\1-title"', html)
    assert drawn == [f"{r}-{name}-chart" for r, names in CHARTS.items() for name in names]
    title = '<title id="round-3-funnel-chart-title">Round 3: funnel per step and channel</title>'
    assert title in html
    found = tables(html)
    for chart in drawn:
        assert found[chart.removesuffix("-chart")], chart
    assert found["round-3-funnel"][1] == ["reached the step", "1,000", "745", "512"]


def test_the_page_loads_nothing_from_elsewhere_and_runs_no_script(html: str) -> None:
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower()
    assert not re.search(r"\s(src|srcset)=|<link\b|@import|<iframe|<object|<embed", html)
    assert set(re.findall(r"url\((.)", html)) == {"#"}  # only the charts' own clip paths
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "every id on the page is unique across the charts"


def test_a_figure_the_report_does_not_hold_reads_as_a_dash_with_its_reason(html: str) -> None:
    found = tables(html)
    opened = next(row for row in found["round-4-funnel"] if row[0] == "opened")
    assert opened == ["opened", "97", "—1"]
    assert "The channel does not report this" in html
    summary = {row[0]: row for row in found["page"][1:]}
    assert summary["3"][-1] == "€520.22"
    assert summary["4"][-1] == "—1"  # a campaign without unit costs spent "—", not €0.00
    assert ["sms", "0", "—1", "—1"] in found["round-4-time-to-answer"]
    assert "No answers on this channel yet." in html
    assert "No forecast was stored when this round started." in html


def test_money_is_written_in_the_campaigns_currency(html: str) -> None:
    cost = tables(html)["round-3-cost"]
    assert cost[1] == ["1 · email", "912", "€0.002", "€1.82"]
    assert cost[-1] == ["total", "2,014", "", "€520.22"]
    assert "€1.79 (290 profiles)" in html
    report = sample_report()
    running = report["rounds"][1]
    running["cost"] |= {"currency": "USD", "total": 12.4}
    running["cost"]["per_step"][1] |= {"unit_cost": 0.0825, "spend": 0.99}
    report["rounds"] = [running]
    cost = tables(render(report))["round-4-cost"]
    assert cost[2] == ["2 · sms", "12", "$0.0825", "$0.99"]
    assert cost[1] == ["1 · email", "221", "—1", "—1"]


def test_values_from_the_database_are_escaped_in_tables_and_charts() -> None:
    report = sample_report()
    first = report["rounds"][0]
    first["campaign"]["key"] = HOSTILE
    first["started_by"] = HOSTILE
    first["drop_off"][0]["reason"] = HOSTILE
    first["drop_off"][1]["reason"] = "a $ b $c$ & <b>"  # no mathtext, no markup
    first["by_country"][0]["country"] = HOSTILE
    report["report"]["parameters"]["campaign"] = HOSTILE
    report["rounds"] = [first]
    html = render(report)
    assert "<script" not in html.lower() and "<b>" not in html
    assert html.count("&lt;script&gt;") >= 5
    assert "a $ b $c$ &amp; &lt;b&gt;" in html  # drawn in the chart's legend as written
    assert [row[1] for row in tables(html)["round-3-drop-off"] if "alert" in row[1]] == [HOSTILE]


def test_the_same_report_renders_the_same_bytes(html: str) -> None:
    assert render(sample_report()) == html


def test_charts_drawn_at_once_in_threads_are_those_drawn_one_by_one() -> None:
    def draw(n: int) -> str:
        series = Series("sent", [n, n + 1], [str(n), str(n + 1)], charts.BLUE)
        panel = Panel("", ["email", "sms"], [series])
        return charts.panels_chart([panel], chart_id=f"c{n}", title=f"chart {n}")

    alone = [draw(n) for n in range(3)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        assert list(pool.map(draw, range(3))) == alone


def test_an_empty_report_says_so_and_a_wrong_document_is_refused() -> None:
    report = sample_report()
    report["rounds"] = []
    html = render(report)
    assert "No round matches." in html and "<svg" not in html
    with pytest.raises(ValueError, match="not a steward's report: expected a 'rounds' list"):
        render({"profile": {}})


def test_a_round_that_sent_nothing_yet_has_no_empty_charts() -> None:
    report = sample_report()
    quiet = report["rounds"][1]
    quiet |= {"funnel": [], "drop_off": [], "time_to_answer": [], "by_country": []}
    quiet["cost"]["per_step"] = []
    report["rounds"] = [quiet]
    html = render(report)
    assert "Nothing sent yet." in html and "No enrollment dropped off." in html
    assert re.findall(r'<svg id="(round-4-[^"]+)"', html) == ["round-4-completeness-chart"]
