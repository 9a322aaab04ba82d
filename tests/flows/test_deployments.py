"""prefect.yaml: every deployment points at a real flow, with parameters it accepts and valid
schedules, so `prefect deploy --all` on an operator's machine does not fail half-way."""

from __future__ import annotations

import importlib
import inspect

import prefect
import yaml
from prefect import Flow
from prefect.client.schemas.schedules import CronSchedule

from tests.conftest import REPO


def deployments() -> dict[str, dict]:
    data = yaml.safe_load((REPO / "prefect.yaml").read_text())
    return {d["name"]: d for d in data["deployments"]}


def test_the_round_the_daily_advance_and_the_quarterly_sweep_are_deployed() -> None:
    found = deployments()
    assert set(found) >= {"round", "advance", "sweep"}
    assert "schedules" not in found["round"]  # on demand
    assert [s["cron"] for s in found["advance"]["schedules"]] == ["0 9 * * *"]
    assert [s["cron"] for s in found["sweep"]["schedules"]] == ["0 6 1 1,4,7,10 *"]


def test_each_entrypoint_is_a_flow_taking_its_parameters() -> None:
    for name, deployment in deployments().items():
        path, attribute = deployment["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, attribute)
        assert isinstance(flow, Flow), name
        accepted = set(inspect.signature(flow.fn).parameters)
        assert set(deployment.get("parameters") or {}) <= accepted, name
        for schedule in deployment.get("schedules") or []:
            CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])


def test_workers_are_told_the_prefect_release_the_tests_ran_on() -> None:
    data = yaml.safe_load((REPO / "prefect.yaml").read_text())
    assert data["prefect-version"] == prefect.__version__
