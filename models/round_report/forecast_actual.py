"""The forecast made when the round started (``Round.forecast``) next to what happened.

Per ladder step of the forecast (and any step the round reached that it did not foresee):
``messages``, ``cost`` and ``verified`` as forecast, and as counted by the report: messages
sent, their spend (:mod:`models.round_report.cost`) and the enrollments verified through the
step (:mod:`models.round_report.funnel`), summed over the step's channels. The totals: the
forecast's own, and the report's sums (verified counted per step, as the forecast does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from models.round_report.cost import PLACES

KEYS = ("messages", "cost", "verified")


def _actual(
    step: int, funnel: Sequence[Mapping[str, Any]], per_step: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    spends = [s["spend"] for s in per_step if s["step"] == step]
    return {
        "messages": sum(int(r["sent"]) for r in funnel if r["step"] == step),
        "cost": round(sum(spends), PLACES) if spends and None not in spends else None,
        "verified": sum(int(r["verified"]) for r in funnel if r["step"] == step),
    }


def forecast_actual(
    forecast: Mapping[str, Any] | None,
    funnel: Sequence[Mapping[str, Any]],
    cost: Mapping[str, Any],
) -> dict[str, Any] | None:
    """The report's forecast section, or None when the round kept no forecast."""
    if not forecast:
        return None
    foreseen = {int(s["step"]): s for s in forecast.get("steps", [])}
    reached = {int(r["step"]): str(r["channel"]) for r in funnel}
    steps = []
    for number in sorted(set(foreseen) | set(reached)):
        planned = foreseen.get(number, {})
        steps.append(
            {
                "step": number,
                "channel": planned.get("channel", reached.get(number)),
                "forecast": {key: planned.get(key) for key in KEYS},
                "actual": _actual(number, funnel, cost["per_step"]),
            }
        )
    total = forecast.get("total") or {}
    return {
        "basis": forecast.get("basis"),
        "steps": steps,
        "total": {
            "forecast": {key: total.get(key) for key in KEYS},
            "actual": {
                "messages": sum(s["actual"]["messages"] for s in steps),
                "cost": cost["total"],
                "verified": sum(s["actual"]["verified"] for s in steps),
            },
        },
    }
