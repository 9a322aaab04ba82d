"""The email outbox writes standard .eml files a mail client or SMTP relay would accept."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser, Parser
from pathlib import Path

from models.answers.link_tokens import token_from_link
from outreach.channels.base import in_doubt
from outreach.channels.email_outbox import EmailOutbox
from outreach.config import OutreachConfig
from tests.outreach.conftest import MakeMessage


def parse(path: Path) -> EmailMessage:
    with path.open("rb") as fh:
        message = BytesParser(policy=policy.default).parse(fh)
    assert isinstance(message, EmailMessage)
    return message


def test_eml_is_multipart_text_and_html_with_the_link_in_both(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    outbox = EmailOutbox(outbox_config)
    message = make_message(
        "email", locale="de", given_name="Jürgen", family_name="Weiß", recipient="jurgen@example.de"
    )
    [result] = outbox.send_batch([message])
    assert result.ok and result.provider == "outbox"

    eml = parse(outbox_config.outbox_dir / "email" / f"{message.outreach_id}.eml")
    assert eml.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part for part in eml.iter_parts()}
    assert set(parts) == {"text/plain", "text/html"}
    text = parts["text/plain"].get_content()  # type: ignore[attr-defined]
    html = parts["text/html"].get_content()  # type: ignore[attr-defined]
    assert message.link in text and message.link in html
    assert "Guten Tag Jürgen Weiß" in text

    assert eml["Subject"] == "Sind Ihre Kontaktdaten noch aktuell?"
    assert eml["To"].addresses[0].addr_spec == "jurgen@example.de"
    assert eml["To"].addresses[0].display_name == "Jürgen Weiß"
    assert eml["From"].addresses[0].addr_spec == outbox_config.sender_email
    assert eml["Date"].datetime is not None
    assert eml["Message-ID"] == result.provider_message_id
    assert eml["Message-ID"].endswith("@example.org>")
    assert eml["X-Enrich-Outreach-Id"] == str(message.outreach_id)


def test_one_click_unsubscribe_headers_carry_no_personal_data(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    message = make_message("email")
    EmailOutbox(outbox_config).send_batch([message])
    eml = parse(outbox_config.outbox_dir / "email" / f"{message.outreach_id}.eml")
    assert eml["List-Unsubscribe"] == (
        f"<mailto:unsubscribe@example.org?subject=unsubscribe-{message.outreach_id}>, "
        f"<https://enrich.example.org/u/{message.unsubscribe_token}>"
    )
    assert eml["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "jan" not in eml["List-Unsubscribe"].lower()
    assert token_from_link(message.link) not in eml["List-Unsubscribe"]


def test_an_ask_without_an_unsubscribe_token_is_not_sent(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    message = make_message("email", unsubscribe_token=None)
    [result] = EmailOutbox(outbox_config).send_batch([message])
    assert not result.ok and result.error == "no unsubscribe token for the List-Unsubscribe header"
    assert not (outbox_config.outbox_dir / "email" / f"{message.outreach_id}.eml").exists()


def test_non_ascii_mailbox_is_written_as_smtputf8(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    message = make_message("email", recipient="jürgen@bücher.example")
    [result] = EmailOutbox(outbox_config).send_batch([message])
    assert result.ok
    raw = (outbox_config.outbox_dir / "email" / f"{message.outreach_id}.eml").read_bytes()
    # The stdlib's bytes parser reads headers as ASCII; SMTPUTF8 headers are UTF-8 text.
    eml = Parser(policy=policy.SMTPUTF8).parsestr(raw.decode("utf-8"))
    assert eml["To"].addresses[0].addr_spec == "jürgen@bücher.example"
    assert eml["To"].addresses[0].display_name == "Jan de Vries"


def test_bad_recipient_fails_that_message_without_echoing_it(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    bad = make_message("email", recipient="not an address")
    good = make_message("email")
    results = EmailOutbox(outbox_config).send_batch([bad, good])
    assert [r.ok for r in results] == [False, True]
    assert results[0].error and "not an address" not in results[0].error
    assert not (outbox_config.outbox_dir / "email" / f"{bad.outreach_id}.eml").exists()


def test_already_sent_finds_written_files_only(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    outbox = EmailOutbox(outbox_config)
    message = make_message("email")
    [result] = outbox.send_batch([message])
    # What a crash in the middle of a write leaves behind: a hidden temporary file.
    folder = outbox_config.outbox_dir / "email"
    (folder / ".777.eml.abc123.tmp").write_bytes(b"From: half a mess")
    found = outbox.already_sent(in_doubt([message.outreach_id, 777, 12345]))
    assert list(found) == [message.outreach_id]
    assert found[message.outreach_id].provider_message_id == result.provider_message_id
    assert found[message.outreach_id].ok
    assert outbox.already_sent(in_doubt([])) == {}
