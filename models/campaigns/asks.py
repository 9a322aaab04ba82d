"""What a message asks of one customer: their own gaps, as plain ``(field, problem)`` pairs that
the templates word in each language (``templates/asks/``).

An empty list means the message has no contact field to name (say, only ``outdated_consent``):
the templates then use their generic wording.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from models.vocabulary import CHANNEL_KIND


@dataclass(frozen=True)
class Ask:
    field: str  # "email" | "mobile" | "postal" | "details" (all of them, for a stale check)
    problem: str  # "missing" | "bounced" | "invalid" | "unverified" | "stale"


GAP_ASK: Final[dict[str, Ask]] = {
    "missing_email": Ask("email", "missing"),
    "bounced_email": Ask("email", "bounced"),
    "invalid_email": Ask("email", "invalid"),
    "missing_mobile": Ask("mobile", "missing"),
    "invalid_mobile": Ask("mobile", "invalid"),
    "unverified_postal": Ask("postal", "unverified"),
    "stale_verification": Ask("details", "stale"),
}
# Problems a message on the field's own channel disproves: an email went to a working address.
NOT_ON_OWN_CHANNEL: Final = frozenset({"missing", "bounced", "invalid"})


def asks_of(gaps: Iterable[str], *, channel: str | None = None) -> tuple[Ask, ...]:
    """The asks for ``gaps`` (in the order of the gaps), for a message on ``channel``.

    Gaps that name no contact field (``outdated_consent``) ask nothing here. On a channel, an
    ask that the message itself contradicts is left out: an email never says "we have no
    working email address for you", an SMS never says so of the mobile number (the data changed
    since the profile was selected).
    """
    kind = CHANNEL_KIND.get(channel or "")
    asks: list[Ask] = []
    for gap in gaps:
        ask = GAP_ASK.get(gap)
        if ask is None or ask in asks:
            continue
        if ask.field == kind and ask.problem in NOT_ON_OWN_CHANNEL:
            continue
        asks.append(ask)
    return tuple(asks)
