"""Walking the ladder with the selection: skipped steps; who completes leaves, the rest go on."""

from __future__ import annotations

import pytest

from models.campaigns.spec import Step
from models.forecast.projection import project
from models.forecast.rates import StepRates

LADDER = [
    Step(channel="email", wait_days=5),
    Step(channel="sms", wait_days=5),
    Step(channel="letter", wait_days=21),
]


def rates(sent: float, answered: float, verified: float, completed: float) -> StepRates:
    return StepRates("defaults", sent, answered, verified, completed)


RATES = [rates(1.0, 0.2, 0.1, 0.1), rates(0.5, 0.4, 0.2, 0.2), rates(1.0, 0.1, 0.1, 0.05)]


def test_each_step_reaches_those_not_completed_and_writes_to_those_it_can_reach() -> None:
    steps = project(
        ladder=LADDER,
        per_usable={("email", "sms", "letter"): 100, ("letter",): 50, (): 10},
        rates=RATES,
    )
    # Step 1: all 160 reach it; only the 100 with an email get it; 10 of them complete.
    # Step 2: 150 reach it; half of the 90 left with a mobile get an SMS; 9 complete.
    # Step 3: 141 reach it; the 81 left and the 50 with only an address get a letter.
    expected = [
        (160, 100, 20, 10, 10),
        (150, 45, 18, 9, 9),
        (141, 131, 13.1, 13.1, 6.55),
    ]
    got = [(s.reaching, s.messages, s.answered, s.verified, s.completed) for s in steps]
    assert got == [pytest.approx(row) for row in expected]


def test_a_step_nobody_can_use_sends_nothing_and_everyone_moves_on() -> None:
    steps = project(ladder=LADDER, per_usable={("email", "letter"): 40}, rates=RATES)
    assert [s.messages for s in steps] == pytest.approx([40, 0, 36])
    assert [s.reaching for s in steps] == pytest.approx([40, 36, 36])
