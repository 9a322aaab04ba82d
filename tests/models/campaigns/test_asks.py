"""What a message asks of one customer: their own gaps, never one its own channel disproves."""

from __future__ import annotations

from models.campaigns.asks import Ask, asks_of
from models.campaigns.gaps import GAPS, gaps_of


def test_each_gap_of_a_contact_field_is_one_ask_in_the_order_of_the_gaps() -> None:
    assert asks_of(["unverified_postal", "missing_mobile", "bounced_email"]) == (
        Ask("postal", "unverified"),
        Ask("mobile", "missing"),
        Ask("email", "bounced"),
    )
    assert asks_of(gaps_of(0b1111111)) == (
        Ask("email", "missing"),
        Ask("email", "bounced"),
        Ask("email", "invalid"),
        Ask("mobile", "missing"),
        Ask("mobile", "invalid"),
        Ask("postal", "unverified"),
        Ask("details", "stale"),
    )


def test_a_consent_on_an_older_notice_names_no_field_so_the_wording_stays_generic() -> None:
    assert asks_of(["outdated_consent"]) == ()
    assert asks_of([]) == ()
    assert asks_of(["outdated_consent", "missing_mobile"]) == (Ask("mobile", "missing"),)


def test_a_message_never_says_its_own_channel_is_missing_or_broken() -> None:
    every = list(GAPS)
    on_email = asks_of(every, channel="email")
    on_sms = asks_of(every, channel="sms")
    on_letter = asks_of(every, channel="letter")
    assert {a.field for a in on_email} == {"mobile", "postal", "details"}
    assert {a.field for a in on_sms} == {"email", "postal", "details"}
    # A letter reached the address, which is still to be confirmed: the ask stays.
    assert on_letter == asks_of(every)
    assert asks_of(["missing_mobile"], channel="sms") == ()
