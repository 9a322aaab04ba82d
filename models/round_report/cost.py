"""What a round cost: the unit cost per channel of its campaign file times the messages sent.

- ``currency`` and the unit costs: the ``costs`` of the newest stored version of the round's
  campaign (the file as last synchronised, whose ladder the round follows too); all null when
  that version has no ``costs``; a channel it leaves out costs nothing;
- per step and channel: ``messages`` = the funnel's ``sent`` (messages the provider took,
  bounced ones too; skipped, refused and pending ones cost nothing), ``spend`` =
  ``messages * unit_cost``;
- ``total``: the sum of the spends; ``per_verified_profile`` = ``total / verified_profiles``
  (enrollments with a contact point verified by an answer through one of the round's messages);
  ``per_completed_enrollment`` = ``total / completed_enrollments`` (enrollments completed).

Money is rounded to four places; a ratio over nothing is null.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from models.campaigns.spec import Costs

PLACES = 4


def _per(total: float | None, count: int) -> float | None:
    return round(total / count, PLACES) if total is not None and count else None


def cost(
    funnel: Sequence[dict[str, Any]],
    costs: Costs | None,
    *,
    verified_profiles: int,
    completed_enrollments: int,
) -> dict[str, Any]:
    """The report's cost section from the funnel rows (their ``sent``) and the unit costs."""
    per_step = []
    for row in funnel:
        unit = costs.of(row["channel"]) if costs is not None else None
        messages = int(row["sent"])
        per_step.append(
            {
                "step": row["step"],
                "channel": row["channel"],
                "messages": messages,
                "unit_cost": unit,
                "spend": round(messages * unit, PLACES) if unit is not None else None,
            }
        )
    total = round(sum(float(s["spend"]) for s in per_step), PLACES) if costs is not None else None
    return {
        "currency": costs.currency if costs is not None else None,
        "per_step": per_step,
        "total": total,
        "verified_profiles": verified_profiles,
        "per_verified_profile": _per(total, verified_profiles),
        "completed_enrollments": completed_enrollments,
        "per_completed_enrollment": _per(total, completed_enrollments),
    }
