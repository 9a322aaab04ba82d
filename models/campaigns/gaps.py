"""The gaps Enrich closes, and their bits in ``Enrollment.gap_mask``.

A gap is a reason to ask a customer: a contact point that is missing, bounced, invalid,
unverified, or verified too long ago, or a consent granted on an older notice than the one a
campaign asks on (``outdated_consent``, only for purposes with ``reask_on_new_notice``).
Campaigns name the gaps they target.
"""

from __future__ import annotations

from typing import Final

GAP_BITS: Final[dict[str, int]] = {
    "missing_email": 1,
    "bounced_email": 2,
    "invalid_email": 4,
    "missing_mobile": 8,
    "invalid_mobile": 16,
    "unverified_postal": 32,
    "stale_verification": 64,
    "outdated_consent": 128,
}
OUTDATED_CONSENT: Final = "outdated_consent"
GAPS: Final = tuple(GAP_BITS)


def gap_mask(gaps: list[str] | tuple[str, ...]) -> int:
    mask = 0
    for gap in gaps:
        mask |= GAP_BITS[gap]
    return mask


def gaps_of(mask: int) -> list[str]:
    return [name for name, bit in GAP_BITS.items() if mask & bit]
