"""The stale-sweep flow: proposals in batches, a summary artifact, nothing proposed twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from enrich.runtime import get_engine
from enrich.settings import Settings
from flows.sweep import stale_sweep
from models.retention.sweep_runs import list_proposals
from models.tables import Profile, SweepRun
from models.types import utcnow
from tests.factories import add_profile

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]


def seed(engine: Engine) -> None:
    old = utcnow() - timedelta(days=1000)
    gone = {"created_at": old, "unreachable_at": old}
    bounced = {"kind": "email", "status": "bounced"}
    with engine.begin() as conn:
        add_profile(conn, "keep", [{"kind": "email", "status": "verified", "verified_at": old}],
                    **gone)  # fmt: skip
        add_profile(conn, "archive", [{"kind": "email", "status": "valid"}], **gone)
        for n in range(3):
            add_profile(conn, f"erase{n}", [bounced], **gone)
        add_profile(conn, "fresh", [bounced], unreachable_at=old)  # created now: not idle


def artifact_markdown(key: str) -> str:
    """The artifact's markdown, read from the Prefect API (the harness's server)."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    # Only the filter this server version accepts as given; its client sends defaults it refuses.
    # The newest: keys repeat across tests, one database per test but one Prefect server.
    body = {"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC", "limit": 1}
    response = httpx.post(f"{PREFECT_API_URL.value()}/artifacts/filter", json=body, timeout=30)
    response.raise_for_status()
    [artifact] = response.json()
    return str(artifact["data"])


def test_the_flow_proposes_in_batches_once_and_leaves_an_artifact(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENRICH_BATCH_SIZE", "2")  # three batches for five stale profiles
    from enrich.settings import get_settings

    get_settings.cache_clear()
    engine = get_engine(settings)
    seed(engine)

    summary = stale_sweep(started_by="tester")

    assert summary["per_proposal"] == {"keep": 1, "archive": 1, "erase": 3}
    assert summary["idle_days"] == 730
    with engine.connect() as conn:
        listed = {v.external_id: v.proposal for v in list_proposals(conn)}
        run = conn.execute(select(SweepRun.status, SweepRun.summary)).one()
        names = conn.execute(select(Profile.family_name)).scalars().all()
    assert listed == {"keep": "keep", "archive": "archive", "erase0": "erase",
                      "erase1": "erase", "erase2": "erase"}  # fmt: skip
    assert (run.status, run.summary["proposed"]) == ("finished", 5)
    assert sorted(names) == ["archive", "erase0", "erase1", "erase2", "fresh", "keep"]
    markdown = artifact_markdown(f"stale-sweep-{summary['sweep_run_id']}")
    assert "| erase | 3 |" in markdown and "| unreachable_unverified | 3 |" in markdown

    again = stale_sweep(started_by="tester")
    assert again["proposed"] == 0
    with engine.connect() as conn:
        assert len(list_proposals(conn)) == 5
