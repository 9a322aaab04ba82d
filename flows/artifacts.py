"""What the flows publish in Prefect: tables of a run's counts, a progress bar while it runs.

The rows are built by plain functions from the run's summary (counts, ids, channels, reasons as
stored: never a name, an address or a number), so they are tested without Prefect. Keys are
stable per round (``enrichment-round-<id>-…``) or per flow (``ladder-advance…``): a resumed
round or the next advance adds a version to the same artifact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from prefect.artifacts import (
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from outreach.sending.dispatch import BatchOutcome

CHANNEL_COLUMNS = ("sent", "failed", "skipped", "pending")
ADVANCE_KEY = "ladder-advance"


def round_key(round_id: int, what: str) -> str:
    """A round's artifact key, e.g. ``enrichment-round-3-channels``."""
    return f"enrichment-round-{round_id}-{what}"


@dataclass(frozen=True)
class Table:
    key: str
    rows: list[dict[str, Any]]
    description: str

    def publish(self) -> UUID:
        # Called from a flow's (synchronous) code: the id itself, not a coroutine.
        return cast(
            UUID,
            create_table_artifact(table=self.rows, key=self.key, description=self.description),
        )


def round_tables(summary: dict[str, Any], *, resumed: bool) -> list[Table]:
    """A round's tables: profiles per gap, messages per channel and status, and the messages
    not settled. The last only when some are, or on a resume, whose empty table replaces what
    the interrupted run left (the newest version of a key is what the UI shows)."""
    round_id = summary["round_id"]
    campaign = f"campaign {summary['campaign']} v{summary['campaign_version']}"
    gaps = Table(
        round_key(round_id, "gaps"),
        [{"gap": gap, "profiles": n} for gap, n in summary["per_gap"].items()],
        f"Round {round_id} ({campaign}): {summary['enrolled']} profiles enrolled, "
        "counted under each gap they have.",
    )
    channels = Table(
        round_key(round_id, "channels"),
        [
            {"channel": channel, **{s: counts.get(s, 0) for s in CHANNEL_COLUMNS}}
            for channel, counts in sorted(summary["per_channel"].items())
        ],
        f"Round {round_id} messages: sent {summary['sent']}, failed {summary['failed']}, "
        f"skipped steps {summary['skipped']}, reconciled after a crash "
        f"{summary['already_sent']}, in doubt (waiting for the provider's evidence) "
        f"{summary.get('in_doubt', 0)}, no usable contact point {summary['exhausted']}.",
    )
    tables = [gaps, channels]
    left = summary.get("unsettled", 0)
    if left or resumed:
        named = summary.get("unsettled_named", [])
        listed = f"the first {len(named)} are listed, " if len(named) < left else ""
        tables.append(
            Table(
                round_key(round_id, "unsettled"),
                [
                    {
                        "outreach": u["outreach_id"],
                        "enrollment": u["enrollment_id"],
                        "step": u["step"],
                        "channel": u["channel"],
                        "kind": u["kind"],
                        "since": u["since"][:16],
                        "reason": u["reason"],
                        "next": u["next_action"],
                    }
                    for u in named
                ],
                f"Round {round_id}: {left} messages not settled ({listed}"
                f"`enrich round status {round_id}` lists them all)."
                if left
                else f"Round {round_id}: every message is settled.",
            )
        )
    return tables


def advance_table(per_round: dict[int, tuple[int, BatchOutcome]], summary: dict[str, int]) -> Table:
    """The advance's table: per round, the due enrollments handled and what became of them."""
    rows = [
        {"round": round_id, "enrollments": handled, **vars(outcome)}
        for round_id, (handled, outcome) in sorted(per_round.items())
    ]
    return Table(
        ADVANCE_KEY,
        rows,
        f"Ladder advance: sent {summary['sent']}, failed {summary['failed']}, skipped steps "
        f"{summary['skipped']}, exhausted {summary['exhausted']}, in doubt "
        f"{summary['in_doubt']}, waiting for a window or a cap {summary['waiting']}; "
        f"{summary['campaign_updates']} campaign updates, {summary['moments_closed']} "
        "contact-moment enrollments closed (their links expired)."
        if rows or summary["moments_closed"]
        else "Ladder advance: nothing was due.",
    )


def share(done: int, total: int) -> float:
    """``done`` of ``total`` as a percentage for a progress artifact (0 when nothing counts)."""
    return round(100.0 * min(done, total) / total, 1) if total > 0 else 0.0


class Progress:
    """A progress artifact (a percentage): created at 0, moved by :meth:`update`."""

    def __init__(self, key: str, description: str) -> None:
        self.id = cast(
            UUID, create_progress_artifact(progress=0.0, key=key, description=description)
        )

    def update(self, progress: float, description: str) -> None:
        update_progress_artifact(artifact_id=self.id, progress=progress, description=description)
