"""Ladder: the first usable step is chosen and the steps before it are skipped."""

from __future__ import annotations

import pytest

from models.campaigns.ladder import KIND_CHANNEL, first_step, next_step
from models.campaigns.spec import Step

LADDER = [
    Step(channel="email", wait_days=5),
    Step(channel="sms", wait_days=5),
    Step(channel="letter", wait_days=21),
]


@pytest.mark.parametrize(
    ("usable", "expected"),
    [
        ({"email", "sms", "letter"}, (0, [])),
        ({"sms", "letter"}, (1, [0])),
        ({"letter"}, (2, [0, 1])),
        ({"email"}, (0, [])),
        (set(), (None, [0, 1, 2])),
    ],
)
def test_first_step_skips_unusable_channels(
    usable: set[str], expected: tuple[int | None, list[int]]
) -> None:
    assert first_step(ladder=LADDER, usable_channels=usable) == expected


def test_next_step_escalates_after_the_last_sent_step() -> None:
    assert next_step(ladder=LADDER, after_index=0, usable_channels={"email", "letter"}) == (2, [1])
    assert next_step(ladder=LADDER, after_index=2, usable_channels={"email"}) == (None, [])


def test_contact_kinds_map_to_channels() -> None:
    # A landline ("phone") takes no channel.
    assert KIND_CHANNEL == {"email": "email", "mobile": "sms", "postal": "letter"}
