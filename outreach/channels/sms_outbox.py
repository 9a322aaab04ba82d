"""The SMS outbox: one JSON-lines file per batch under ``<outbox>/sms/``, written atomically.

Reconciliation scans every batch file, so :meth:`SmsOutbox.already_sent` costs time linear in
the outbox's size; fine for a local outbox, a real provider answers from its own records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from models.types import utcnow
from outreach.channels.base import (
    OUTBOX_BATCH_SIZE,
    OUTBOX_PROVIDER,
    InDoubt,
    Message,
    SendResult,
    atomic_write,
    batch_stem,
    failed,
)
from outreach.config import OutreachConfig
from outreach.errors import RenderError
from outreach.render import Renderer
from outreach.segments import sms_segments

E164 = re.compile(r"\+[1-9]\d{6,14}")
BATCH_GLOB = "batch-*.jsonl"


class SmsOutbox:
    name = "sms"
    provider = OUTBOX_PROVIDER
    # The files are the truth: a message is in the outbox or not, so nothing waits to reconcile.
    lookup_is_authoritative = True
    reconcile_grace = timedelta(0)

    def __init__(self, config: OutreachConfig, renderer: Renderer | None = None) -> None:
        self.config = config
        self.renderer = renderer or Renderer(config)
        self.batch_size = OUTBOX_BATCH_SIZE
        self.folder = Path(config.outbox_dir) / "sms"

    def send_batch(self, messages: Sequence[Message]) -> list[SendResult]:
        now = utcnow()
        results: list[SendResult | None] = [None] * len(messages)
        lines: list[tuple[int, dict[str, object]]] = []
        for index, message in enumerate(messages):
            if not E164.fullmatch(message.recipient):
                results[index] = failed(message, "recipient is not an E.164 number")
                continue
            try:
                body = self.renderer.sms(message)
            except RenderError as err:
                results[index] = failed(message, str(err))
                continue
            record = {
                "outreach_id": message.outreach_id,
                "to": message.recipient,
                "body": body,
                "segments": sms_segments(body),
                "created_at": now.isoformat(),
            }
            lines.append((index, record))
        if lines:
            stem = batch_stem(messages[lines[0][0]].outreach_id, now)
            data = "".join(json.dumps(rec, ensure_ascii=False) + "\n" for _, rec in lines)
            atomic_write(self.folder / f"{stem}.jsonl", data.encode("utf-8"))
            for line_no, (index, _record) in enumerate(lines, start=1):
                results[index] = SendResult(
                    outreach_id=messages[index].outreach_id,
                    ok=True,
                    provider=OUTBOX_PROVIDER,
                    provider_message_id=f"{stem}:{line_no}",
                    batch_ref=f"{stem}.jsonl",
                )
        return [r for r in results if r is not None]

    def already_sent(self, items: Sequence[InDoubt]) -> dict[int, SendResult]:
        """Ids found in any complete batch file (temporary files are hidden and never match)."""
        wanted = {item.outreach_id for item in items}
        found: dict[int, SendResult] = {}
        if not wanted or not self.folder.is_dir():
            return found
        for path in sorted(self.folder.glob(BATCH_GLOB)):
            with path.open(encoding="utf-8") as fh:
                for line_no, line in enumerate(fh, start=1):
                    outreach_id = int(json.loads(line)["outreach_id"])
                    if outreach_id in wanted and outreach_id not in found:
                        found[outreach_id] = SendResult(
                            outreach_id=outreach_id,
                            ok=True,
                            provider=OUTBOX_PROVIDER,
                            provider_message_id=f"{path.stem}:{line_no}",
                            batch_ref=path.name,
                        )
        return found
