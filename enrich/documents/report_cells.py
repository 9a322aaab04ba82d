"""The cells of the steward's report's tables: counts, shares, money in its currency, hours
and times formatted for English readers, and a dash with a footnote where the report holds no
figure (a channel that does not report opens, a share of nothing), never a 0."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from babel.numbers import format_currency, format_decimal, format_percent

from enrich.documents.charts import DASH

LOCALE: Final = "en"
NO_BASE: Final = "Nothing to divide by yet."
NO_COSTS: Final = "No unit cost is set in the campaign."
NO_ANSWERS: Final = "No answers on this channel yet."
NO_FIGURE: Final = "Not known."


@dataclass(frozen=True)
class Cell:
    text: str
    mark: int | None = None  # the footnote that says why a dash stands here
    number: bool = True
    link: str | None = None  # an anchor on the page


@dataclass
class Table:
    """A table of formatted cells; a dash cell points at a footnote of the table."""

    headers: Sequence[str]
    rows: list[list[Cell]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    total: list[Cell] | None = None

    def add(self, *cells: Cell) -> None:
        self.rows.append(list(cells))

    def dash(self, why: str) -> Cell:
        if why not in self.notes:
            self.notes.append(why)
        return Cell(DASH, self.notes.index(why) + 1)

    def count(self, value: int | None, why: str = NO_FIGURE) -> Cell:
        return self.dash(why) if value is None else Cell(count(value))

    def share(self, value: float | None, why: str = NO_BASE) -> Cell:
        return self.dash(why) if value is None else Cell(percent(value))

    def money(self, value: float | None, currency: str | None, why: str = NO_FIGURE) -> Cell:
        if currency is None:
            return self.dash(NO_COSTS)
        return self.dash(why) if value is None else Cell(money(value, currency))


def percent(value: float) -> str:
    return format_percent(value, "#,##0.0%", locale=LOCALE)


def money(value: float, currency: str, *, unit: bool = False) -> str:
    if unit:  # a unit cost keeps its fractions of a cent
        pattern = "¤#,##0.00####"
        return format_currency(value, currency, pattern, locale=LOCALE, currency_digits=False)
    return format_currency(value, currency, locale=LOCALE)


def hours(value: float) -> str:
    return f"{format_decimal(value, '#,##0.0', locale=LOCALE)} h"


def when(value: str | None) -> str:
    """An ISO 8601 time as UTC to the minute; anything else as it came."""
    if value is None:
        return DASH
    try:
        at = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return str(value)
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M UTC")


def campaign_name(campaign: Mapping[str, Any] | None) -> str:
    return DASH if not campaign else f"{campaign['key']} v{campaign['version']}"


def step_label(row: Mapping[str, Any]) -> str:
    return f"{row['step']} · {row['channel']}"


def text(value: Any, link: str | None = None) -> Cell:
    return Cell(str(value), number=False, link=link)


def count(value: float) -> str:
    return format_decimal(value, locale=LOCALE)
