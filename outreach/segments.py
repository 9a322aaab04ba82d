"""How many SMS segments a text costs: GSM-7 (160/153 septets) or UCS-2 (70/67 code units)."""

from __future__ import annotations

from typing import Literal

# GSM 03.38 default alphabet (without the escape character) and its extension table,
# whose characters take two septets (escape + character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153  # a concatenated part loses 7 septets to its header
UCS2_SINGLE, UCS2_PART = 70, 67


def encoding(text: str) -> Literal["GSM-7", "UCS-2"]:
    """GSM-7 when every character is in the GSM alphabet, else UCS-2."""
    ok = all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)
    return "GSM-7" if ok else "UCS-2"


def _count_parts(costs: list[int], single: int, part: int) -> int:
    if sum(costs) <= single:
        return 1 if costs else 0
    parts, used = 1, 0
    for cost in costs:
        # An escape pair or a surrogate pair is never split across two parts.
        if used + cost > part:
            parts += 1
            used = 0
        used += cost
    return parts


def sms_segments(text: str) -> int:
    """The number of segments the network bills for ``text`` (0 for an empty text)."""
    if encoding(text) == "GSM-7":
        costs = [2 if ch in GSM7_EXTENDED else 1 for ch in text]
        return _count_parts(costs, GSM7_SINGLE, GSM7_PART)
    # UCS-2 counts UTF-16 code units: characters outside the BMP (emoji) take two.
    costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return _count_parts(costs, UCS2_SINGLE, UCS2_PART)
