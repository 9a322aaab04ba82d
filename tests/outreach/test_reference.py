"""Every message's reference: one scheme, the channel's letter, the id and a Luhn check digit; a
letter's reference is the return code typed in when it comes back."""

from __future__ import annotations

import pytest

from models.feedback.returned_letters import luhn_digit, parse_return_code
from outreach.letters import return_code
from outreach.reference import message_reference


@pytest.mark.parametrize("outreach_id", [0, 1, 123, 999_999, 1_000_000, 12_345_678])
def test_a_letters_reference_is_its_return_code_and_reads_back(outreach_id: int) -> None:
    code = message_reference("letter", outreach_id)
    assert code == return_code(outreach_id)
    assert parse_return_code(code) == outreach_id


def test_each_channel_has_its_letter_with_the_same_digits_and_check_digit() -> None:
    assert return_code(123) == "L-000123-0"
    refs = {c: message_reference(c, 123) for c in ("letter", "email", "sms", "moment")}
    assert refs == {
        "letter": "L-000123-0",
        "email": "E-000123-0",
        "sms": "S-000123-0",
        "moment": "M-000123-0",
    }
    assert message_reference("sms", 5) == f"S-000005-{luhn_digit('000005')}" == "S-000005-9"


def test_neighbouring_messages_get_different_check_digits() -> None:
    digits = {message_reference("email", n)[-1] for n in range(120, 130)}
    assert len(digits) == 10


@pytest.mark.parametrize(("channel", "outreach_id"), [("fax", 1), ("", 1), ("email", -1)])
def test_an_unknown_channel_or_negative_id_has_no_reference(channel: str, outreach_id: int) -> None:
    with pytest.raises(ValueError):
        message_reference(channel, outreach_id)
    with pytest.raises(ValueError):
        return_code(-1)
