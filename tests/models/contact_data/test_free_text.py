"""The one rule for free text (names, address parts, email, phone): what it refuses, what not."""

from __future__ import annotations

import pytest

from models.contact_data.validation import normalise_email, normalise_text, visible

# Real names and addresses keep every character they need.
KEPT = [
    "O'Brien",
    "Jean-Luc",
    "Jose\u0301",  # a combining acute accent
    "Zoë van 't Hof",
    "محمد",
    "क्\u200dष",  # ZWJ in Devanagari
    "می\u200cخواهم",  # ZWNJ in Persian
    "张伟",
    "Ελένη",
    "12a",
]


@pytest.mark.parametrize("value", KEPT)
def test_real_names_are_kept_as_typed(value: str) -> None:
    assert normalise_text(value, needs_letter_or_digit=True).value == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("Jan\x00sen", "text: control character U+0000"),
        ("Jan\x1bsen", "text: control character U+001B"),
        ("Jan\x7fsen", "text: control character U+007F"),
        ("Jan\x85sen", "text: control character U+0085"),
        ("Jan\x9bsen", "text: control character U+009B"),
        ("Jan\x0bsen", "text: control character U+000B"),
        *[(f"Kerk{chr(c)}straat", f"text: direction control character U+{c:04X}")
          for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))],
        ("Amsterdam\ufffd", "text: unreadable character U+FFFD"),
        ("Jan\ud800", "text: unreadable character U+D800"),
    ],
)  # fmt: skip
def test_refused_characters_are_named_by_code_point(value: str, reason: str) -> None:
    result = normalise_text(value)
    assert (result.value, result.reason) == (None, reason)
    assert "Jan" not in reason and "Kerk" not in reason  # the reason never echoes the value


@pytest.mark.parametrize("value", ["😀", "😀🏠", "---", ".", "!?", "★", "'"])
def test_a_name_or_street_needs_a_letter_or_digit(value: str) -> None:
    assert normalise_text(value, needs_letter_or_digit=True).reason == "text: no letter or digit"
    assert normalise_text(value).value == value


def test_line_breaks_and_tabs_in_a_cell_are_spaces() -> None:
    assert normalise_text("  de\r\n Jong\t\tjr ").value == "de Jong jr"


def test_visible_shows_refused_characters_by_code_point() -> None:
    assert visible("Jan\x00sen\u202e!") == "Jan<U+0000>sen<U+202E>!"


@pytest.mark.parametrize("value", ["😀@example.com", "!!!@example.com", "😀😀@example.nl"])
def test_an_email_needs_a_letter_or_digit_before_the_at(value: str) -> None:
    assert normalise_email(value).reason == "email syntax: no letter or digit before @"


def test_an_email_with_an_emoji_beside_letters_is_kept() -> None:
    assert normalise_email("jan😀@example.com").value == "jan😀@example.com"
