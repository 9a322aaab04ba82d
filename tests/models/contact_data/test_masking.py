"""Masked display of contact data on the landing page."""

from __future__ import annotations

import pytest

from models.contact_data.masking import mask_address, mask_email, mask_phone, mask_postal_code


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("jan.jansen@example.nl", "j***@example.nl"),
        ("a@b.example", "a***@b.example"),
        ("not-an-email", "***"),
    ],
)
def test_mask_email(value: str, masked: str) -> None:
    assert mask_email(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("+31612345678", "+31 6 ****5678"),
        ("+447400123456", "+44 7400 **3456"),
        ("+4915123456789", "+49 1512 ***6789"),
        ("garbage", "****"),
    ],
)
def test_mask_phone(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


def test_mask_address_shows_street_number_and_city_masks_postal_code() -> None:
    assert mask_address("Kerkstraat", "12", "1017 AB", "Amsterdam") == (
        "Kerkstraat 12, 1017 ** Amsterdam"
    )


@pytest.mark.parametrize(
    ("code", "masked"), [("1017 AB", "1017 **"), ("SW1A 1AA", "SW1A ***"), ("10115", "10***")]
)
def test_mask_postal_code(code: str, masked: str) -> None:
    assert mask_postal_code(code) == masked
