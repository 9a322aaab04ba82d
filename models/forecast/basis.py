"""One sentence saying where a forecast's rates came from, for the steward."""

from __future__ import annotations

from models.forecast.forecast import Forecast
from models.forecast.rates import MIN_SENT, OBSERVED


def _numbers(values: list[int]) -> str:
    return ", ".join(str(v) for v in values)


def _named(word: str, numbers: list[int]) -> str:
    """``step 1``, ``steps 1, 2``."""
    return f"{word}{'s' if len(numbers) > 1 else ''} {_numbers(numbers)}"


def describe_basis(forecast: Forecast) -> str:
    """Like ``Rates from rounds 1, 2 of campaign default.`` or ``No earlier round of campaign
    default: built-in defaults.``"""
    key = forecast.campaign_key
    observed = [s.step for s in forecast.steps if s.rates.basis == OBSERVED]
    by_source: dict[str, list[int]] = {}
    for step in forecast.steps:
        if step.rates.basis != OBSERVED:
            by_source.setdefault(step.rates.source or "built-in", []).append(step.step)
    rounds = f"{_named('round', forecast.observed_rounds)} of campaign {key}"
    if not by_source:
        return f"Rates from {rounds}."
    defaults = "; ".join(
        f"{source} defaults"
        if not observed and len(by_source) == 1
        else f"{_named('step', numbers)} on {source} defaults"
        for source, numbers in sorted(by_source.items())
    )
    if observed:
        return f"{_named('step', observed).capitalize()} from {rounds}; {defaults}."
    if not forecast.earlier_rounds:
        return f"No earlier round of campaign {key}: {defaults}."
    earlier = list(forecast.earlier_rounds)
    return (
        f"{_named('round', earlier).capitalize()} of campaign {key}: too little to go by yet "
        f"(fewer than {MIN_SENT} messages of a step with its response window over): {defaults}."
    )
