"""Every figure is reproducible: a sample of the JSON's figures, each recomputed from the tables
with a plain SQL query written here, independently of the report's own statements."""

from __future__ import annotations

import json
import statistics
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from models.round_report import collect_report
from models.types import UTCDateTime
from tests.models.round_report.population import NOW, SPEC
from tests.models.round_report.scenario import Scenario

LADDER = (
    "FROM outreach o JOIN enrollment e ON e.id = o.enrollment_id"
    " WHERE e.round_id = :r AND o.context IS NULL AND o.step_index = :i AND o.channel = :ch"
)


def scalar(conn: Connection, sql: str, **params: Any) -> Any:
    statement = text(sql)
    if "fresh" in params:  # an instant, stored as each database stores timestamps
        statement = statement.bindparams(bindparam("fresh", type_=UTCDateTime()))
    return conn.execute(statement, params).scalar_one()


def step_count(conn: Connection, row: dict[str, Any], condition: str, r: int) -> int:
    sql = f"SELECT count(*) {LADDER} AND {condition}"
    return int(scalar(conn, sql, r=r, i=row["step"] - 1, ch=row["channel"]))


def evidence_outreach(dialect: str) -> str:
    if dialect == "sqlite":
        return "CAST(json_extract(a.evidence, '$.outreach_id') AS INTEGER)"
    return "CAST(a.evidence::json ->> 'outreach_id' AS INTEGER)"


def test_a_sample_of_figures_recomputed_from_the_tables(report_world: Scenario) -> None:
    r = report_world.round_id
    with report_world.engine.connect() as conn:
        found = json.loads(json.dumps(collect_report(conn, round_id=r, now=NOW)))["rounds"][0]
        dialect = conn.dialect.name
        for row in found["funnel"]:
            assert row["sent"] == step_count(conn, row, "o.sent_at IS NOT NULL", r)
            assert row["answered"] == step_count(
                conn, row, "EXISTS (SELECT 1 FROM submission s WHERE s.outreach_id = o.id)", r
            )
            verified = (
                "EXISTS (SELECT 1 FROM submission s WHERE s.outreach_id = o.id) AND EXISTS"
                " (SELECT 1 FROM audit_event a WHERE a.action = 'contact_point.verified'"
                f" AND {evidence_outreach(dialect)} = o.id)"
            )
            assert row["verified"] == step_count(conn, row, verified, r)
            if row["delivered"] is not None:
                delivered = (
                    "o.sent_at IS NOT NULL AND EXISTS (SELECT 1 FROM delivery_event d WHERE"
                    " d.outreach_id = o.id AND d.event_type IN ('delivered', 'opened', 'clicked'))"
                )
                assert row["delivered"] == step_count(conn, row, delivered, r)
            opened = (
                "(EXISTS (SELECT 1 FROM verification_token t WHERE t.outreach_id = o.id"
                " AND t.kind = 'link' AND t.opened_at IS NOT NULL)"
                " OR EXISTS (SELECT 1 FROM submission s WHERE s.outreach_id = o.id))"
            )
            assert row["link_opened"] == step_count(conn, row, opened, r)

        exhausted = next(d for d in found["drop_off"] if d["reason"] == "exhausted")
        assert exhausted["count"] == scalar(
            conn,
            "SELECT count(*) FROM enrollment WHERE round_id = :r AND state = 'exhausted'"
            " AND step_index = :i",
            r=r,
            i=exhausted["step"] - 1,
        )

        units = SPEC.costs.per_message if SPEC.costs else {}
        spend = 0.0
        for channel, unit in units.items():
            sent = scalar(
                conn,
                "SELECT count(*) FROM outreach o JOIN enrollment e ON e.id = o.enrollment_id"
                " WHERE e.round_id = :r AND o.context IS NULL AND o.sent_at IS NOT NULL"
                " AND o.channel = :ch",
                r=r,
                ch=channel,
            )
            spend += sent * unit
        assert found["cost"]["total"] == round(spend, 4)

        email = next(c for c in found["completeness"] if c["field"] == "email")
        assert email["now"] == scalar(
            conn,
            "SELECT count(DISTINCT e.profile_id) FROM enrollment e JOIN contact_point c"
            " ON c.profile_id = e.profile_id WHERE e.round_id = :r AND c.kind = 'email'"
            " AND c.status = 'verified' AND c.opted_out_at IS NULL AND c.verified_at >= :fresh",
            r=r,
            fresh=NOW - timedelta(days=730),
        )
        assert email["at_start"] == scalar(
            conn,
            "SELECT count(*) FROM enrollment WHERE round_id = :r AND fields_at_start IS NOT NULL"
            " AND (fields_at_start & 1) <> 0",
            r=r,
        )

        pairs = conn.execute(
            text(
                "SELECT o.sent_at, min(s.received_at) FROM outreach o"
                " JOIN enrollment e ON e.id = o.enrollment_id"
                " JOIN submission s ON s.outreach_id = o.id"
                " WHERE e.round_id = :r AND o.context IS NULL AND o.channel = 'sms'"
                " GROUP BY o.id, o.sent_at"
            ),
            {"r": r},
        ).all()
        parse = UTCDateTime().process_result_value
        hours = [
            (parse(answered, conn.dialect) - parse(sent, conn.dialect)).total_seconds() / 3600
            for sent, answered in pairs
        ]
        sms = next(t for t in found["time_to_answer"] if t["channel"] == "sms")
        assert sms["answered"] == len(hours)
        assert sms["median_hours"] == round(statistics.median(hours), 2)
        assert sms["p90_hours"] == round(
            statistics.quantiles(hours, n=10, method="inclusive")[-1], 2
        )

        nl = next(c for c in found["by_country"] if c["country"] == "NL")
        assert nl["completed"] == scalar(
            conn,
            "SELECT count(*) FROM enrollment e JOIN profile p ON p.id = e.profile_id"
            " WHERE e.round_id = :r AND p.country = 'NL' AND e.state = 'completed'",
            r=r,
        )
