"""An objection recorded while a sending run is under way: a message written ahead for the
person and not yet handed to its channel does not go out (the claim is fenced on the enrollment
still being active)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import Engine

from models.data_subject.objection import object_to_processing
from models.data_subject.request import Request
from outreach.channels.base import Message, SendResult
from tests.factories import NOW
from tests.outreach.sending.test_dispatch import FakeChannel, outreach, send, setup_round


class ObjectingChannel(FakeChannel):
    """An email channel during whose request the SMS customer objects (by phone, say)."""

    def __init__(self, name: str, engine: Engine) -> None:
        super().__init__(name)
        self.engine = engine

    def send_batch(self, messages: Sequence[Message]) -> list[SendResult]:
        request = Request.checked(requested_by="steward", reason="asked by phone", via="cli")
        with self.engine.begin() as conn:
            object_to_processing(conn, external_id="sms", request=request, now=NOW)
        return super().send_batch(messages)


def test_a_message_written_ahead_does_not_go_out_after_an_objection(
    engine: Engine, tmp_path: Path
) -> None:
    ids = setup_round(engine)
    channels = {name: FakeChannel(name) for name in ("sms", "letter")}
    channels["email"] = ObjectingChannel("email", engine)
    outcome = send(engine, channels, tmp_path)  # type: ignore[arg-type]
    assert len(channels["email"].delivered) == 1  # the other customer's email went out
    assert channels["sms"].delivered == {}, "a message went to a customer who had objected"
    assert (ids["sms"], 1, "sms", "pending") in outreach(engine)  # written ahead, never sent
    assert outcome.sent == 1
