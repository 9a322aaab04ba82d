"""The letter outbox: per batch one merged print-ready PDF plus a manifest CSV in page order.

Files go to ``<outbox>/letters/batch-<first_id>-<timestamp>.pdf`` and ``.csv``. The PDF is
renamed into place first and the manifest last, so a manifest means a complete batch; the
print house takes only pairs, and :meth:`LetterOutbox.already_sent` reads only manifests
(scanning all of them: linear in the outbox's size, fine for a local outbox).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from models import safe_csv
from models.types import utcnow
from outreach.channels.base import (
    OUTBOX_PROVIDER,
    InDoubt,
    Message,
    SendResult,
    atomic_write,
    batch_stem,
    chunks,
    failed,
)
from outreach.config import OutreachConfig
from outreach.errors import ConfigurationError, RenderError
from outreach.letters import ManifestRow, manifest_csv, render_pdf
from outreach.render import Renderer

MANIFEST_GLOB = "batch-*.csv"


class LetterOutbox:
    name = "letter"
    provider = OUTBOX_PROVIDER
    # The files are the truth: a message is in the outbox or not, so nothing waits to reconcile.
    lookup_is_authoritative = True
    reconcile_grace = timedelta(0)

    def __init__(self, config: OutreachConfig, renderer: Renderer | None = None) -> None:
        self.config = config
        self.renderer = renderer or Renderer(config)
        self.batch_size = config.letter_batch_size
        self.folder = Path(config.outbox_dir) / "letters"

    def send_batch(self, messages: Sequence[Message]) -> list[SendResult]:
        by_id: dict[int, SendResult] = {}
        for chunk in chunks(messages, self.config.letter_batch_size):
            by_id.update(self._send_chunk(chunk))
        return [by_id[m.outreach_id] for m in messages]

    def _send_chunk(self, messages: Sequence[Message]) -> dict[int, SendResult]:
        now = utcnow()
        results: dict[int, SendResult] = {}
        pages: list[str] = []
        printed: list[Message] = []
        for message in messages:
            try:
                pages.append(self.renderer.letter_page(message, today=now.date()))
            except RenderError as err:
                results[message.outreach_id] = failed(message, str(err))
                continue
            printed.append(message)
        if not printed:
            return results
        pdf, page_count = render_pdf(self.renderer.letter_document(pages))
        if page_count != len(printed):
            # The manifest maps one page to one letter; a template that spills breaks that.
            raise ConfigurationError(
                f"letter templates produced {page_count} pages for {len(printed)} letters"
            )
        origin = self.renderer.origin_country
        rows = [
            ManifestRow(
                sequence=seq,
                page=seq,
                outreach_id=m.outreach_id,
                address_lines=m.address.lines(origin_country=origin) if m.address else [],
                country=m.address.country.upper() if m.address else "",
            )
            for seq, m in enumerate(printed, start=1)
        ]
        stem = batch_stem(printed[0].outreach_id, now)
        atomic_write(self.folder / f"{stem}.pdf", pdf)
        atomic_write(self.folder / f"{stem}.csv", manifest_csv(rows))
        for row in rows:
            results[row.outreach_id] = SendResult(
                outreach_id=row.outreach_id,
                ok=True,
                provider=OUTBOX_PROVIDER,
                provider_message_id=f"{stem}:{row.page}",
                batch_ref=f"{stem}.pdf",
            )
        return results

    def already_sent(self, items: Sequence[InDoubt]) -> dict[int, SendResult]:
        """Ids listed in a manifest; a PDF without its manifest (crash in between) counts not."""
        wanted = {item.outreach_id for item in items}
        found: dict[int, SendResult] = {}
        if not wanted or not self.folder.is_dir():
            return found
        for path in sorted(self.folder.glob(MANIFEST_GLOB)):
            with path.open(encoding="utf-8", newline="") as fh:
                for row in safe_csv.dict_rows(fh):
                    outreach_id = int(row["outreach_id"])
                    if outreach_id in wanted and outreach_id not in found:
                        found[outreach_id] = SendResult(
                            outreach_id=outreach_id,
                            ok=True,
                            provider=OUTBOX_PROVIDER,
                            provider_message_id=f"{path.stem}:{row['page']}",
                            batch_ref=f"{path.stem}.pdf",
                        )
        return found
