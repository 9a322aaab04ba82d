"""The ladder rules: which step of a campaign's ladder to send next, given the usable channels.

A step is usable when its channel has a usable contact point that is not opted out; the steps
before the chosen one are skipped at once (they are recorded as skipped, never sent).
"""

from __future__ import annotations

from collections.abc import Sequence

from models.campaigns.spec import Step
from models.vocabulary import CHANNEL_KIND

KIND_CHANNEL = {kind: channel for channel, kind in CHANNEL_KIND.items()}


def next_step(
    *, ladder: Sequence[Step], after_index: int, usable_channels: set[str]
) -> tuple[int | None, list[int]]:
    """(index of the step to send after ``after_index`` or None, indices skipped on the way)."""
    skipped: list[int] = []
    for index in range(after_index + 1, len(ladder)):
        if ladder[index].channel in usable_channels:
            return index, skipped
        skipped.append(index)
    return None, skipped


def first_step(
    *, ladder: Sequence[Step], usable_channels: set[str]
) -> tuple[int | None, list[int]]:
    """(index of the first step to send or None when none is usable, indices skipped)."""
    return next_step(ladder=ladder, after_index=-1, usable_channels=usable_channels)
