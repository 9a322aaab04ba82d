"""Walking the ladder with the selection: how many reach each step, get its message, answer.

The selection is counted per set of channels a profile has a usable contact point for; each
set walks the ladder by the sender's own rule (:mod:`models.campaigns.ladder`): a step whose
channel it cannot use is skipped, the next usable one is sent. Of those a step's message went
to, the completed ones leave; everyone else reaches the next step (as in the sender, a skipped
step still has its row, so the reached count includes those who skip it). Numbers stay
fractional here; the forecast rounds them for display.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from models.campaigns.ladder import first_step, next_step
from models.campaigns.spec import Step
from models.forecast.rates import StepRates


@dataclass(frozen=True)
class StepProjection:
    index: int
    channel: str
    reaching: float
    messages: float
    answered: float
    verified: float
    completed: float


def _sent_steps(ladder: Sequence[Step], usable: set[str]) -> list[int]:
    """The step indices a profile with these usable channels is sent, in order."""
    sent: list[int] = []
    index, _ = first_step(ladder=ladder, usable_channels=usable)
    while index is not None:
        sent.append(index)
        index, _ = next_step(ladder=ladder, after_index=index, usable_channels=usable)
    return sent


def project(
    *,
    ladder: Sequence[Step],
    per_usable: Mapping[tuple[str, ...], float],
    rates: Sequence[StepRates],
) -> list[StepProjection]:
    """Per ladder step: reaching, messages, answered, verified, completed (fractional)."""
    remaining = {combination: float(n) for combination, n in per_usable.items()}
    sends = {combination: set(_sent_steps(ladder, set(combination))) for combination in remaining}
    steps: list[StepProjection] = []
    for index, step in enumerate(ladder):
        rate = rates[index]
        reaching = sum(remaining.values())
        messages = 0.0
        for combination, n in remaining.items():
            if index not in sends[combination]:
                continue
            sent = n * rate.sent
            messages += sent
            remaining[combination] = n - sent * rate.completed
        steps.append(
            StepProjection(
                index=index,
                channel=step.channel,
                reaching=reaching,
                messages=messages,
                answered=messages * rate.answered,
                verified=messages * rate.verified,
                completed=messages * rate.completed,
            )
        )
    return steps
