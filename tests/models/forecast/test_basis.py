"""The sentence under the forecast says where each step's rates came from."""

from __future__ import annotations

from models.forecast.basis import describe_basis
from models.forecast.forecast import Forecast, ForecastStep
from models.forecast.rates import StepRates
from tests.factories import NOW

OBSERVED = StepRates("observed", 1.0, 0.2, 0.1, 0.1, rounds=(1, 2))
BUILT_IN = StepRates("defaults", 1.0, 0.2, 0.1, 0.1, source="built-in")


def forecast(*rates: StepRates, earlier: tuple[int, ...] = ()) -> Forecast:
    steps = tuple(
        ForecastStep(number, "email", r, 10, 10, 2, 1, 1, None, 1.0, 5.0, 0.0)
        for number, r in enumerate(rates, start=1)
    )
    return Forecast("default", 3, NOW, None, 10, steps, earlier)


def test_every_step_observed_names_the_rounds() -> None:
    result = forecast(OBSERVED, OBSERVED, earlier=(1, 2))
    assert result.basis == "observed"
    assert describe_basis(result) == "Rates from rounds 1, 2 of campaign default."


def test_earlier_rounds_with_too_little_yet_are_named() -> None:
    result = forecast(BUILT_IN, earlier=(4,))
    assert describe_basis(result) == (
        "Round 4 of campaign default: too little to go by yet (fewer than 20 messages of a step "
        "with its response window over): built-in defaults."
    )
