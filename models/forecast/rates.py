"""The rates a forecast step is projected with: observed in earlier rounds, or defaults.

A step takes the rates its position and channel showed in earlier rounds of the campaign once
at least :data:`MIN_SENT` of its messages went out with their response window closed (fewer
say too little: one answer more or less would swing the rate); else the campaign file's
``forecast_defaults`` for its channel, else the built-in defaults below. The built-in rates are
modest placeholders, meant to be replaced by observation after the first round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from models.campaigns.spec import CampaignSpec, ForecastRates

OBSERVED: Final = "observed"
DEFAULTS: Final = "defaults"
MIXED: Final = "mixed"
CONFIGURED: Final = "configured"
BUILT_IN: Final = "built-in"

# Messages of a step (sent, response window closed) needed before its observed rates count.
MIN_SENT: Final = 20

BUILT_IN_DEFAULTS: Final = {
    "email": ForecastRates(answered=0.12, verified=0.10, completed=0.08),
    "sms": ForecastRates(answered=0.18, verified=0.15, completed=0.12),
    "letter": ForecastRates(answered=0.08, verified=0.07, completed=0.06),
}


@dataclass(frozen=True)
class StepRates:
    """``sent``: share of the due messages (a usable contact point on the channel) that went
    out; the others: shares of the messages sent."""

    basis: Literal["observed", "defaults"]
    sent: float
    answered: float
    verified: float
    completed: float
    # Where defaults came from ("configured" in the campaign file or "built-in"); None if observed.
    source: str | None = None
    rounds: tuple[int, ...] = ()


def default_rates(spec: CampaignSpec, channel: str) -> StepRates:
    """The campaign file's defaults for ``channel``, else the built-in ones."""
    configured = (spec.forecast_defaults or {}).get(channel)
    chosen = configured or BUILT_IN_DEFAULTS[channel]
    return StepRates(
        basis=DEFAULTS,
        sent=chosen.sent,
        answered=chosen.answered,
        verified=chosen.verified,
        completed=chosen.completed,
        source=CONFIGURED if configured else BUILT_IN,
    )


def observed_rates(
    *,
    attempted: int,
    sent: int,
    answered: int,
    verified: int,
    completed: int,
    rounds: tuple[int, ...],
) -> StepRates:
    """Rates from counts summed over the earlier rounds (a larger round weighs more)."""
    return StepRates(
        basis=OBSERVED,
        sent=sent / attempted if attempted else 1.0,
        answered=answered / sent,
        verified=verified / sent,
        completed=completed / sent,
        rounds=rounds,
    )
