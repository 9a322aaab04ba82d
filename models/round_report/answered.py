"""The round's answered messages, read once: what the funnel, the results by country and language
and the time to answer count of the answers.

One query, driven by the answers (the first landing-page submission made with each message's
link or QR code, :func:`models.round_report.message_facts.answers`), returns one row per
answered ladder message of the round with what the report needs of it: its step and channel,
its enrollment, whether the answer verified a contact point (a proof on the trail naming the
message), whether the enrollment completed, whether its link's opening was recorded, the whole
seconds from sending to the first answer (none for a message never sent), and the profile's
country and locale. Answers are a fraction of the messages, so Python adds these rows up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Integer, case, cast, extract, func, select
from sqlalchemy.engine import Connection

from models.round_report import message_facts as facts
from models.round_report.message_facts import OUT, E
from models.tables import PROFILE
from models.vocabulary import COMPLETED


def seconds_between(later: Any, earlier: Any, dialect: str) -> Any:
    """Whole seconds from ``earlier`` to ``later``, the same on SQLite and PostgreSQL."""
    if dialect == "sqlite":  # the stored text 'YYYY-MM-DD HH:MM:SS.ffffff', seconds truncated
        return cast(func.strftime("%s", later), Integer) - cast(
            func.strftime("%s", earlier), Integer
        )
    return cast(func.floor(extract("epoch", later)), BigInteger) - cast(
        func.floor(extract("epoch", earlier)), BigInteger
    )


@dataclass(frozen=True)
class AnsweredMessages:
    """The rows of the module docstring, as tuples in the order of :data:`COLUMNS`."""

    rows: Sequence[tuple[Any, ...]]

    def per_step(self) -> dict[tuple[int, str], dict[str, int]]:
        """Per (step index, channel): ``answered``, ``verified``, ``completed`` and ``opened``
        (how many of the answered had their link's opening recorded)."""
        found: dict[tuple[int, str], dict[str, int]] = {}
        for step, channel, _e, verified, completed, opened, *_ in self.rows:
            into = found.setdefault(
                (int(step), str(channel)),
                {"answered": 0, "verified": 0, "completed": 0, "opened": 0},
            )
            into["answered"] += 1
            into["verified"] += int(bool(verified))
            into["completed"] += int(bool(completed))
            into["opened"] += int(bool(opened))
        return found

    def per_place(self) -> list[dict[str, Any]]:
        """The answered enrollments (once each, however many of their messages were answered)
        per ``country``, ``locale`` and ``verified`` (through any of them), with their ``n``."""
        enrollments: dict[int, tuple[Any, Any, bool]] = {}
        for _s, _c, enrollment_id, verified, _done, _o, _secs, country, locale in self.rows:
            before = enrollments.get(enrollment_id)
            enrollments[enrollment_id] = (
                country,
                locale,
                bool(verified) or (before is not None and before[2]),
            )
        counts: dict[tuple[Any, Any, int], int] = {}
        for country, locale, verified in enrollments.values():
            key = (country, locale, int(verified))
            counts[key] = counts.get(key, 0) + 1
        return [
            {"country": c, "locale": lang, "verified": v, "n": n}
            for (c, lang, v), n in counts.items()
        ]

    def seconds_per_channel(self) -> dict[str, list[int]]:
        """The seconds from sending to the first answer of each sent answered message, per
        channel, in ascending order."""
        found: dict[str, list[int]] = {}
        for _s, channel, _e, _v, _d, _o, seconds, _c, _l in self.rows:
            if seconds is not None:
                found.setdefault(str(channel), []).append(int(seconds))
        for values in found.values():
            values.sort()
        return found


def answered_messages(conn: Connection, round_id: int) -> AnsweredMessages:
    """The round's answered ladder messages (module docstring)."""
    ans, pr = facts.answers(), facts.proofs()
    sent = OUT.c.sent_at
    seconds = case(
        (sent.is_not(None), seconds_between(ans.c.first_at, sent, conn.dialect.name)), else_=None
    )
    query = (
        select(
            OUT.c.step_index,
            OUT.c.channel,
            OUT.c.enrollment_id,
            case((pr.c.outreach_id.is_not(None), 1), else_=0),
            case((E.c.state == COMPLETED, 1), else_=0),
            case((facts.link_opened(), 1), else_=0),
            seconds,
            PROFILE.c.country,
            PROFILE.c.locale,
        )
        .select_from(
            ans.join(OUT, OUT.c.id == ans.c.outreach_id)
            .join(E, E.c.id == OUT.c.enrollment_id)
            .join(PROFILE, PROFILE.c.id == E.c.profile_id)
            .outerjoin(pr, pr.c.outreach_id == OUT.c.id)
        )
        .where(facts.in_round(round_id))
    )
    return AnsweredMessages([tuple(row) for row in conn.execute(query)])
