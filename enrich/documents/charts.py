"""The steward's report's charts, drawn by matplotlib as SVG to inline in one HTML page.

Each chart is a ``matplotlib.figure.Figure`` of its own (no pyplot state) saved as SVG with text
kept as text, so the page stays small and its words searchable. The same data draws the same
bytes: ids are hashed with a fixed salt and carry the chart's id as a prefix (several charts
share one page), and no date or tool is written into the file. Labels are drawn literally, never
as mathtext, and every label and title is escaped by matplotlib's SVG writer.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import matplotlib
from markupsafe import escape
from matplotlib.axes import Axes
from matplotlib.figure import Figure

# Okabe & Ito's palette, safe for the common colour-vision deficiencies.
BLUE: Final = "#0072B2"
SKY: Final = "#56B4E9"
GREEN: Final = "#009E73"
ORANGE: Final = "#E69F00"
VERMILLION: Final = "#D55E00"
PURPLE: Final = "#CC79A7"
YELLOW: Final = "#F0E442"
GREY: Final = "#9A9A9A"
LIGHT: Final = "#C9C9C9"
INK: Final = "#222222"
DARK: Final = "#5F5F5F"
WIDTH_IN: Final = 7.0
LABEL_CHARS: Final = 30
DASH: Final = "—"

# Saving reads the SVG settings from matplotlib's global rcParams: they are set for the
# drawing only, one drawing at a time.
_DRAWING = threading.Lock()
_RC: Final[dict[Any, Any]] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "enrich-report",
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial"],
    "font.size": 9,
    "axes.edgecolor": GREY,
    "axes.labelcolor": INK,
    "axes.titlesize": 9.5,
    "axes.titleweight": "bold",
    "xtick.color": INK,
    "ytick.color": INK,
    "legend.frameon": False,
}
_METADATA: Final = {"Date": None, "Creator": None, "Format": None, "Type": None}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TAG = re.compile(r"<[^>]+>")
_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)
_STYLE = re.compile(r"<style[^>]*>.*?</style>\s*", re.DOTALL)
_EMPTY_DEFS = re.compile(r"<defs>\s*</defs>\s*")
_VIEW_BOX = re.compile(r'\sviewBox="([^"]*)"')
_CHART_ID = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


@dataclass(frozen=True)
class Series:
    """One row of bars in a grouped chart: a value per label (``None``: nothing to draw) and the
    text written at each bar's end."""

    name: str
    values: Sequence[float | None]
    texts: Sequence[str]
    colour: str
    hatch: str | None = None


@dataclass(frozen=True)
class Panel:
    """One small chart of a row of panels: bars per label, one bar per series."""

    title: str
    labels: Sequence[str]
    series: Sequence[Series]
    xlabel: str = ""
    share: bool = False  # the values are shares: the axis runs from 0 to 100 %


def label(text: str, limit: int = LABEL_CHARS) -> str:
    """A label as a chart draws it: one line, no control characters, cut to ``limit``."""
    flat = _CONTROL.sub(" ", text).strip() or "?"
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


@contextmanager
def _drawing() -> Iterator[None]:
    with _DRAWING, matplotlib.rc_context(_RC):
        yield


def _figure(height_in: float) -> Figure:
    return Figure(figsize=(WIDTH_IN, height_in), layout="constrained")


def _prefix_ids(svg: str, chart_id: str) -> str:
    def fix(tag: re.Match[str]) -> str:
        text = re.sub(r'\bid="', f'id="{chart_id}-', tag[0])
        text = text.replace('href="#', f'href="#{chart_id}-')
        return text.replace("url(#", f"url(#{chart_id}-")

    return _TAG.sub(fix, svg)


def to_svg(fig: Figure, *, chart_id: str, title: str) -> str:
    """The figure as an ``<svg>`` element to inline in HTML: no prolog, ids unique to the chart,
    a title that names it to a screen reader, and sized by the page (its view box kept)."""
    if not _CHART_ID.fullmatch(chart_id):
        raise ValueError(f"a chart id is a letter then letters, digits or '-': {chart_id!r}")
    out = io.StringIO()
    fig.savefig(out, format="svg", metadata=_METADATA)
    svg = _prefix_ids(_PROLOG.sub("", out.getvalue(), count=1), chart_id)
    svg = _EMPTY_DEFS.sub("", _STYLE.sub("", svg, count=1), count=1)
    head, rest = svg.split(">", 1)
    box = _VIEW_BOX.search(head)
    if box is None:
        raise ValueError("matplotlib wrote an SVG without a view box")
    title_id = f"{chart_id}-title"
    return (
        f'<svg id="{chart_id}" role="img" aria-labelledby="{title_id}" viewBox="{box[1]}">'
        f'\n <title id="{title_id}">{escape(title)}</title>{rest.rstrip()}\n'
    )


def _tidy(ax: Axes, *, share: bool, top: float) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="x", color="#E4E4E4", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(axis="y", length=0)
    if share:
        ax.set_xlim(0, 1.22)
        ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0%", "25%", "50%", "75%", "100%"])
    else:
        ax.set_xlim(0, (top or 1) * 1.3)


def _draw_panel(ax: Axes, panel: Panel, *, show_labels: bool) -> None:
    n, k = len(panel.labels), max(len(panel.series), 1)
    height = 0.8 / k
    top = max((v for s in panel.series for v in s.values if v is not None), default=0.0)
    for i, s in enumerate(panel.series):
        ys = [row + (i - (k - 1) / 2) * height for row in range(n)]
        widths = [v if v is not None else 0.0 for v in s.values]
        bars = ax.barh(
            ys,
            widths,
            height=height * 0.92,
            color="white" if s.hatch else s.colour,
            edgecolor=s.colour,
            hatch=s.hatch,
            linewidth=0.8,
            label=s.name,
        )
        ax.bar_label(bars, labels=list(s.texts), padding=3, fontsize=8, color=INK)
    ax.set_yticks(range(n), [label(t) for t in panel.labels] if show_labels else [""] * n)
    ax.invert_yaxis()
    if panel.title:
        ax.set_title(label(panel.title, 48), loc="left")
    if panel.xlabel:
        ax.set_xlabel(label(panel.xlabel, 48))
    _tidy(ax, share=panel.share, top=top)


def panels_chart(panels: Sequence[Panel], *, chart_id: str, title: str) -> str:
    """A row of horizontal grouped bar charts (side by side, the labels on the first one when
    all share them), with one legend below when there is more than one series."""
    bars = max(len(p.labels) * max(len(p.series), 1) for p in panels)
    groups = max(len(p.labels) for p in panels)
    legend = 0.25 if len(panels[0].series) > 1 else 0.0
    titled = 0.2 if any(p.title for p in panels) else 0.0
    shared = all(list(p.labels) == list(panels[0].labels) for p in panels)
    with _drawing():
        fig = _figure(0.55 + 0.15 * bars + 0.1 * groups + legend + titled)
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for j, (ax, panel) in enumerate(zip(axes, panels, strict=True)):
            _draw_panel(ax, panel, show_labels=j == 0 or not shared)
        if len(panels[0].series) > 1:
            handles, names = axes[0].get_legend_handles_labels()
            fig.legend(handles, names, loc="outside lower center", ncols=len(names))
        return to_svg(fig, chart_id=chart_id, title=title)


def funnel_chart(
    steps: Sequence[tuple[str, Sequence[tuple[str, int | None, bool]]]],
    *,
    chart_id: str,
    title: str,
) -> str:
    """One panel per step: a bar per stage (``(stage, count, is_answer_stage)``), reaching the
    step at the top; a stage the channel does not report is written as a dash, not drawn."""
    per_row = min(len(steps), 3)
    grid_rows = -(-len(steps) // per_row)
    stages = max(len(s) for _, s in steps)
    with _drawing():
        fig = _figure(grid_rows * (0.55 + 0.2 * stages))
        axes = fig.subplots(grid_rows, per_row, squeeze=False, sharey=True)
        for index, ax in enumerate(axes.flat):
            if index >= len(steps):
                ax.set_visible(False)
                continue
            name, rows = steps[index]
            values = [v if v is not None else 0 for _, v, _ in rows]
            bars = ax.barh(
                range(len(rows)),
                values,
                height=0.72,
                color=[GREEN if answer else BLUE for _, _, answer in rows],
            )
            texts = [DASH if v is None else f"{v:,}" for _, v, _ in rows]
            ax.bar_label(bars, labels=texts, padding=3, fontsize=8, color=INK)
            ax.set_yticks(range(len(rows)), [stage for stage, _, _ in rows])
            ax.set_title(label(name, 40), loc="left")
            _tidy(ax, share=False, top=max(values, default=0))
        axes[0][0].invert_yaxis()
        return to_svg(fig, chart_id=chart_id, title=title)


def stacked_chart(
    labels: Sequence[str],
    parts: Sequence[tuple[str, Sequence[int], str]],
    *,
    chart_id: str,
    title: str,
    xlabel: str,
) -> str:
    """Horizontal bars split into parts (``(name, a count per label, colour)``), the total at
    each bar's end and a legend of the parts below."""
    totals = [sum(counts[i] for _, counts, _ in parts) for i in range(len(labels))]
    with _drawing():
        fig = _figure(0.95 + 0.26 * len(labels) + 0.16 * ((len(parts) - 1) // 4))
        ax = fig.subplots()
        left = [0] * len(labels)
        for name, counts, colour in parts:
            ax.barh(
                range(len(labels)),
                counts,
                left=left,
                height=0.62,
                color=colour,
                label=label(name, 24),
            )
            left = [a + b for a, b in zip(left, counts, strict=True)]
        for y, total in enumerate(totals):
            ax.text(total, y, f"  {total:,}", va="center", fontsize=8, color=INK)
        ax.set_yticks(range(len(labels)), [label(t) for t in labels])
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        _tidy(ax, share=False, top=max(totals, default=0))
        fig.legend(loc="outside lower center", ncols=min(len(parts), 4))
        return to_svg(fig, chart_id=chart_id, title=title)
