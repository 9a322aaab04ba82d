"""A steward's report in the shape ``enrich report --json`` writes, with realistic figures: a
finished three-step round with unit costs and a forecast, and a running round of another
campaign without costs, forecast or recorded start completeness for part of it."""

from __future__ import annotations

from typing import Any

_FINISHED_FUNNEL = [
    ("email", 1000, 912, 871, 402, 131, 164, 148, 139, 127),
    ("sms", 745, 604, 588, None, None, 121, 97, 93, 88),
    ("letter", 512, 498, None, None, None, 74, 61, 58, 55),
]
_STAGES = (
    "enrolled",
    "sent",
    "delivered",
    "opened",
    "clicked",
    "link_opened",
    "answered",
    "verified",
    "completed",
)


def _funnel(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [
        {"step": step, "channel": row[0], **dict(zip(_STAGES, row[1:], strict=True))}
        for step, row in enumerate(rows, start=1)
    ]


def _results(key: str, rows: list[tuple[Any, int, int, int]]) -> list[dict[str, Any]]:
    return [
        {
            key: name,
            "enrolled": enrolled,
            "answered": answered,
            "completed": completed,
            "completed_share": round(completed / enrolled, 3) if enrolled else None,
        }
        for name, enrolled, answered, completed in rows
    ]


def _finished_round() -> dict[str, Any]:
    unit = {"email": 0.002, "sms": 0.075, "letter": 0.95}
    sent = {"email": 912, "sms": 604, "letter": 498}
    per_step: list[dict[str, Any]] = [
        {
            "step": step,
            "channel": channel,
            "messages": sent[channel],
            "unit_cost": unit[channel],
            "spend": round(sent[channel] * unit[channel], 3),
        }
        for step, channel in enumerate(("email", "sms", "letter"), start=1)
    ]
    total = round(sum(s["spend"] for s in per_step), 3)
    forecast = [
        (1, "email", (930, 1.86, 150), (912, 1.824, 139)),
        (2, "sms", (640, 48.0, 90), (604, 45.3, 93)),
        (3, "letter", (520, 494.0, 55), (498, 473.1, 58)),
    ]
    keys = ("messages", "cost", "verified")
    return {
        "round_id": 3,
        "campaign": {"key": "default", "version": 2},
        "status": "finished",
        "started_at": "2026-11-02T08:00:00+00:00",
        "started_by": "steward",
        "finished_at": "2026-12-04T17:20:00+00:00",
        "enrolled": 1000,
        "funnel": _funnel(_FINISHED_FUNNEL),
        "drop_off": [
            {"step": 1, "channel": "email", "reason": "skipped", "count": 88},
            {"step": 1, "channel": "email", "reason": "bounced", "count": 29},
            {"step": 1, "channel": "email", "reason": "invalid", "count": 12},
            {"step": 1, "channel": "email", "reason": "opted_out", "count": 3},
            {"step": 2, "channel": "sms", "reason": "skipped", "count": 141},
            {"step": 2, "channel": "sms", "reason": "invalid", "count": 14},
            {"step": 2, "channel": "sms", "reason": "failed", "count": 9},
            {"step": 2, "channel": "sms", "reason": "opted_out", "count": 6},
            {"step": 3, "channel": "letter", "reason": "skipped", "count": 14},
            {"step": 3, "channel": "letter", "reason": "exhausted", "count": 437},
        ],
        "completeness": [
            {
                "field": field,
                "of": 1000,
                "at_start": start,
                "now": now,
                "at_start_share": start / 1000,
                "now_share": now / 1000,
                "unrecorded": 0,
            }
            for field, start, now in (
                ("email", 612, 701),
                ("mobile", 455, 538),
                ("postal", 903, 921),
                ("consents", 310, 452),
            )
        ],
        "cost": {
            "currency": "EUR",
            "per_step": per_step,
            "total": total,
            "verified_profiles": 290,
            "per_verified_profile": round(total / 290, 4),
            "completed_enrollments": 270,
            "per_completed_enrollment": round(total / 270, 4),
        },
        "time_to_answer": [
            {"channel": "email", "answered": 148, "median_hours": 20.5, "p90_hours": 70.1},
            {"channel": "sms", "answered": 97, "median_hours": 3.2, "p90_hours": 26.8},
            {"channel": "letter", "answered": 61, "median_hours": 96.0, "p90_hours": 212.5},
        ],
        "by_country": _results(
            "country",
            [
                ("NL", 640, 190, 171),
                ("BE", 230, 79, 68),
                ("DE", 110, 31, 27),
                (None, 20, 6, 4),
            ],
        ),
        "by_language": _results(
            "locale", [("nl", 700, 214, 192), ("en", 180, 57, 50), ("de", 120, 35, 28)]
        ),
        "forecast": {
            "basis": "observed",
            "steps": [
                {
                    "step": step,
                    "channel": channel,
                    "forecast": dict(zip(keys, f, strict=True)),
                    "actual": dict(zip(keys, a, strict=True)),
                }
                for step, channel, f, a in forecast
            ],
            "total": {
                "forecast": {"messages": 2090, "cost": 543.86, "verified": 295},
                "actual": {"messages": 2014, "cost": total, "verified": 290},
            },
        },
    }


def _running_round() -> dict[str, Any]:
    return {
        "round_id": 4,
        "campaign": {"key": "consents-2027", "version": 1},
        "status": "active",
        "started_at": "2026-12-07T09:15:00+00:00",
        "started_by": "steward",
        "finished_at": None,
        "enrolled": 240,
        "funnel": _funnel(
            [
                ("email", 240, 221, 214, 97, 30, 41, 36, 33, 30),
                ("sms", 58, 12, 12, None, None, 0, 0, 0, 0),
            ]
        ),
        "drop_off": [
            {"step": 1, "channel": "email", "reason": "waiting", "count": 150},
            {"step": 1, "channel": "email", "reason": "skipped", "count": 19},
            {"step": 2, "channel": "sms", "reason": "capped", "count": 46},
        ],
        "completeness": [
            {
                "field": "email",
                "of": 240,
                "at_start": 140,
                "now": 190,
                "at_start_share": 0.7,
                "now_share": 0.7917,
                "unrecorded": 40,
            },
            {
                "field": "consents",
                "of": 240,
                "at_start": 42,
                "now": 75,
                "at_start_share": 0.21,
                "now_share": 0.3125,
                "unrecorded": 40,
            },
        ],
        "cost": {
            "currency": None,
            "per_step": [
                {"step": 1, "channel": "email", "messages": 221, "unit_cost": None, "spend": None},
                {"step": 2, "channel": "sms", "messages": 12, "unit_cost": None, "spend": None},
            ],
            "total": None,
            "verified_profiles": 33,
            "per_verified_profile": None,
            "completed_enrollments": 30,
            "per_completed_enrollment": None,
        },
        "time_to_answer": [
            {"channel": "email", "answered": 36, "median_hours": 9.75, "p90_hours": 51.0},
            {"channel": "sms", "answered": 0, "median_hours": None, "p90_hours": None},
        ],
        "by_country": _results("country", [("NL", 190, 29, 24), ("BE", 50, 7, 6)]),
        "by_language": _results("locale", [("nl", 200, 30, 25), ("en", 40, 6, 5)]),
        "forecast": None,
    }


def sample_report() -> dict[str, Any]:
    """A fresh copy each call, so a test may change it freely."""
    return {
        "report": {
            "generated_at": "2026-12-10T08:30:00+00:00",
            "database": "sqlite",
            "parameters": {"round": None, "campaign": None, "since": "2026-11-01"},
        },
        "rounds": [_finished_round(), _running_round()],
    }
