"""Two walks over a round's enrollments, one over their own values and one with their profiles:
results by country and language, and the counts completeness at the start and the drop-off of
enrollments are read from.

Per country (``profile.country``, null when unknown or erased) and per locale:

- ``enrolled``: the round's enrollments of profiles there;
- ``answered``: of those, enrollments answered on the landing page through any of the round's
  ladder messages;
- ``completed``: enrollments completed (state ``completed``), whatever completed them;
- ``completed_share`` = ``completed / enrolled``.

The walks also count, for the whole round: ``verified`` (enrollments with a contact point
verified by an answer through one of the round's messages: the profiles the cost per verified
profile divides by), how many of the profiles were erased since (their rows still count: the
enrollment, messages, answers and trail stay; the country and the contact data are gone), the
fields complete at the start (:mod:`models.round_report.completeness`), and where and why each
enrollment went no further (:mod:`models.round_report.drop_off`). They group by the stored
values themselves and Python adds the groups up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.engine import Connection

from models.round_report.answered import AnsweredMessages
from models.round_report.completeness import share
from models.round_report.drop_off import standing_reason
from models.round_report.message_facts import E
from models.rounds.completeness import FIELD_BITS
from models.tables import PROFILE
from models.vocabulary import COMPLETED

SHOWN = ("enrolled", "answered", "completed")


# The per-enrollment values each walk groups by; every figure is a sum over these groups. The
# enrollments' own values are read in the order of ``ix_enrollment_round_walk`` (nothing to
# sort); the profiles' are a second walk.
ENROLLMENT_KEYS = ("state", "wait_reason", "step_index", "fields_at_start")
PLACE_KEYS = ("country", "locale", "completed", "erased")


@dataclass(frozen=True)
class Outcomes:
    """The walks' groups: per :data:`ENROLLMENT_KEYS` and per :data:`PLACE_KEYS`, each a dict
    of its keys and ``n``, the enrollments in it; and the answered enrollments per
    (``country``, ``locale``, ``verified``) with their ``n``."""

    groups: list[dict[str, Any]]
    places: list[dict[str, Any]]
    answered: list[dict[str, Any]]

    def total(self, figure: str) -> int:
        """The enrollments with a figure: ``enrolled`` (all), ``answered``, ``verified``,
        ``completed``, ``erased``, ``unrecorded`` or ``start_<field>``."""
        if figure in ("answered", "verified"):
            return sum(a["n"] for a in self.answered if figure == "answered" or a["verified"])
        if figure == "erased":
            return sum(g["n"] for g in self.places if g["erased"])
        return sum(g["n"] for g in self.groups if _counts(g, figure))

    def standing(self) -> dict[tuple[int, str], int]:
        """Enrollments that went no further per (step index they stand at, reason); step -1:
        they reached no step yet."""
        found: dict[tuple[int, str], int] = {}
        for g in self.groups:
            reason = standing_reason(g["state"], g["wait_reason"])
            if reason is not None:
                key = (int(g["step_index"]), reason)
                found[key] = found.get(key, 0) + int(g["n"])
        return found

    def by_country(self) -> list[dict[str, Any]]:
        return self._by("country")

    def by_language(self) -> list[dict[str, Any]]:
        return self._by("locale")

    def _by(self, key: str) -> list[dict[str, Any]]:
        """Summed per country or locale; the largest first."""
        sums: dict[str | None, dict[str, int]] = {}
        for g in self.places:
            into = sums.setdefault(g[key], dict.fromkeys(SHOWN, 0))
            into["enrolled"] += g["n"]
            into["completed"] += g["n"] if g["completed"] else 0
        for a in self.answered:
            sums.setdefault(a[key], dict.fromkeys(SHOWN, 0))["answered"] += a["n"]
        ordered = sorted(
            sums.items(), key=lambda kv: (-kv[1]["enrolled"], kv[0] is None, kv[0] or "")
        )
        return [
            {key: name, **counts, "completed_share": share(counts["completed"], counts["enrolled"])}
            for name, counts in ordered
        ]


def _counts(group: dict[str, Any], figure: str) -> bool:
    """Whether the enrollments of ``group`` (of the enrollments' walk) count toward
    ``figure``."""
    if figure == "enrolled":
        return True
    if figure == "completed":
        return bool(group["state"] == COMPLETED)
    if figure == "unrecorded":
        return group["fields_at_start"] is None
    if figure.startswith("start_"):
        mask = group["fields_at_start"]
        return mask is not None and bool(int(mask) & FIELD_BITS[figure.removeprefix("start_")])
    raise ValueError(f"unknown figure {figure!r}")


def outcomes(conn: Connection, round_id: int, answered: AnsweredMessages) -> Outcomes:
    """The two walks (module docstring), counted per distinct combination of their values; and
    the answered enrollments per country, language and verified, from the round's
    ``answered`` messages."""
    p, e = PROFILE.c, E.c
    own = tuple(e[key] for key in ENROLLMENT_KEYS)
    walk = select(*own, func.count().label("n")).where(e.round_id == round_id).group_by(*own)
    place = (
        p.country,
        p.locale,
        case((e.state == COMPLETED, 1), else_=0).label("completed"),
        case((p.erased_at.is_not(None), 1), else_=0).label("erased"),
    )
    places = (
        select(*place, func.count().label("n"))
        .select_from(E.join(PROFILE, p.id == e.profile_id))
        .where(e.round_id == round_id)
        .group_by(*place)
    )
    return Outcomes(
        [dict(r) for r in conn.execute(walk).mappings()],
        [dict(r) for r in conn.execute(places).mappings()],
        answered.per_place(),
    )
