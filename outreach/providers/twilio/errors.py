"""What a Twilio Messages API error means for us: data plus one function, free of HTTP.

A refusal either says something about the number (invalid, opted out: the message fails and
the contact point is marked), or about our setup (credentials, sender, geo permissions: the run
must stop), or is passing (throttling, an outage: retry). Error texts carry codes, never the
number or the body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import phonenumbers

from outreach.providers.retrying import retryable_status

# Codes the create call answers when the number itself cannot take this SMS.
INVALID_NUMBER_CODES: Final[dict[int, str]] = {
    21211: "invalid number",
    21612: "number cannot be reached by SMS",
    21614: "not a mobile number",
}
# 21610: the recipient replied STOP; Twilio refuses until they reply START.
OPT_OUT_CODES: Final[dict[int, str]] = {21610: "recipient has opted out"}
AUTH_CODES: Final = frozenset({20003})
REGION_CODE: Final = 21408
# The sender is missing, malformed or not ours: every message would fail the same way.
SENDER_CODES: Final[dict[int, str]] = {
    21603: "no sender given",
    21606: "the sender cannot send SMS to this destination",
    21212: "invalid sender number",
    21659: "the sender is not a Twilio number",
}

Kind = Literal["retry", "stop", "refused"]


@dataclass(frozen=True)
class Outcome:
    kind: Kind  # retry the request, stop the run (setup is wrong), or fail this message
    error: str
    contact_status: str | None = None  # "invalid" | "opted_out" for a refusal about the number


def region_of(number: str) -> str:
    """The ISO 3166 region of an E.164 number ("NL"), or "unknown"; never the number."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return "unknown"
    # A number outside every numbering plan still has a country code (+1 -> US).
    region = phonenumbers.region_code_for_number(
        parsed
    ) or phonenumbers.region_code_for_country_code(parsed.country_code or 0)
    return region if region and region not in ("ZZ", "001") else "unknown"


def outcome(status: int | None, code: int | None, number: str) -> Outcome:
    """Map one error answer (HTTP ``status``, Twilio ``code``) to what to do with the message."""
    label = f"twilio error {code}" if code is not None else f"twilio HTTP {status}"
    if retryable_status(status):
        return Outcome("retry", label)
    if code in INVALID_NUMBER_CODES:
        return Outcome("refused", f"{label}: {INVALID_NUMBER_CODES[code]}", "invalid")
    if code in OPT_OUT_CODES:
        return Outcome("refused", f"{label}: {OPT_OUT_CODES[code]}", "opted_out")
    if code == REGION_CODE:
        return Outcome(
            "stop",
            f"Twilio cannot send to region {region_of(number)} ({REGION_CODE}): "
            "enable it in the Messaging Geo Permissions",
        )
    if code in AUTH_CODES or status == 401:
        return Outcome(
            "stop",
            f"Twilio refused the credentials ({label}): check ENRICH_TWILIO_ACCOUNT_SID "
            "and ENRICH_TWILIO_AUTH_TOKEN",
        )
    if code in SENDER_CODES:
        return Outcome(
            "stop",
            f"Twilio refused the sender ({label}: {SENDER_CODES[code]}): check "
            "ENRICH_TWILIO_FROM_NUMBER or ENRICH_TWILIO_MESSAGING_SERVICE_SID",
        )
    return Outcome("refused", label)
