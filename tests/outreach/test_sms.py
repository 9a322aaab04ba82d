"""The SMS outbox writes one JSON-lines file per batch; segments are counted as networks bill."""

from __future__ import annotations

import json
import re

import pytest

from outreach.channels.base import in_doubt
from outreach.channels.sms_outbox import SmsOutbox
from outreach.config import OutreachConfig
from outreach.segments import encoding, sms_segments
from tests.outreach.conftest import MakeMessage


def test_batch_file_has_one_line_per_message_with_link_and_recipient(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    messages = [
        make_message("sms", recipient="+31612345678"),
        make_message("sms", recipient="+32470123456", locale="fr-BE"),
    ]
    results = SmsOutbox(outbox_config).send_batch(messages)
    assert all(r.ok for r in results)
    files = list((outbox_config.outbox_dir / "sms").iterdir())
    assert len(files) == 1
    assert re.fullmatch(rf"batch-{messages[0].outreach_id}-\d{{8}}T\d{{12}}Z\.jsonl", files[0].name)
    assert {r.batch_ref for r in results} == {files[0].name}
    lines = [json.loads(line) for line in files[0].read_text("utf-8").splitlines()]
    assert [line["outreach_id"] for line in lines] == [m.outreach_id for m in messages]
    for line, message in zip(lines, messages, strict=True):
        assert line["to"] == message.recipient
        assert message.link in line["body"]
        # Two parts: the ask and the reference with the number to check it is genuine.
        assert line["segments"] == sms_segments(line["body"]) == 2
        assert line["created_at"].endswith("+00:00")
    assert "STOP" in lines[0]["body"] and "Répondez STOP" in lines[1]["body"]


def test_long_names_and_links_stay_within_two_segments(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    long_link = "https://contact.example-energy-company.org/c/" + "A" * 22
    for locale in ("nl", "en", "de", "fr"):
        [result] = SmsOutbox(outbox_config).send_batch(
            [make_message("sms", locale=locale, link=long_link)]
        )
        assert result.ok
    for path in (outbox_config.outbox_dir / "sms").iterdir():
        for line in path.read_text("utf-8").splitlines():
            assert json.loads(line)["segments"] <= 2


def test_a_number_that_is_not_e164_fails_without_being_echoed(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    results = SmsOutbox(outbox_config).send_batch(
        [make_message("sms", recipient="06-12345678"), make_message("sms")]
    )
    assert [r.ok for r in results] == [False, True]
    assert results[0].error == "recipient is not an E.164 number"


def test_already_sent_reads_complete_batch_files_only(
    outbox_config: OutreachConfig, make_message: MakeMessage
) -> None:
    outbox = SmsOutbox(outbox_config)
    sent = [make_message("sms"), make_message("sms")]
    results = outbox.send_batch(sent)
    folder = outbox_config.outbox_dir / "sms"
    # A crash mid-write leaves only a hidden temporary file; its ids were not sent.
    (folder / ".batch-900-20260101T000000000000Z.jsonl.x1.tmp").write_text(
        json.dumps({"outreach_id": 900, "to": "+31600000000", "body": "x"}) + "\n"
    )
    found = outbox.already_sent(in_doubt([sent[0].outreach_id, sent[1].outreach_id, 900, 901]))
    assert sorted(found) == sorted(m.outreach_id for m in sent)
    for result in results:
        assert found[result.outreach_id] == result
    assert outbox.already_sent(in_doubt([12345])) == {}


@pytest.mark.parametrize(
    ("text", "expected_encoding", "segments"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("é Ä ß" + "a" * 155, "GSM-7", 1),
        ("€" * 80, "GSM-7", 1),  # extension characters take two septets
        ("€" * 81, "GSM-7", 2),
        ("a" * 152 + "€" + "a" * 10, "GSM-7", 2),  # the escape pair is not split
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 3),
        ("ç" + "a" * 69, "UCS-2", 1),  # lower-case ç is not in GSM-7 (only Ç is)
        ("ł" * 71, "UCS-2", 2),
        ("ł" * 134, "UCS-2", 2),
        ("ł" * 135, "UCS-2", 3),
        ("😀" * 35, "UCS-2", 1),  # an emoji is two UTF-16 code units
        ("😀" * 36, "UCS-2", 2),
    ],
)
def test_segment_counting(text: str, expected_encoding: str, segments: int) -> None:
    assert encoding(text) == expected_encoding
    assert sms_segments(text) == segments
