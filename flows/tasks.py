"""The Prefect tasks every flow shares, and the window that runs send tasks side by side.

Tasks take ids and plain values and open their own engine; idempotency lives in the database
(unique enrollment per round and profile, unique outreach per enrollment and step, leases on
enrollments), so a retried task or a rerun flow never sends a step twice. One task per batch,
never per customer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from prefect import Task, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.futures import PrefectFuture
from prefect.states import State
from prefect.tasks import exponential_backoff
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from enrich.runtime import get_engine, outreach_config, respect
from enrich.settings import get_settings
from models.audit_trail.sealing import seal
from models.campaigns.spec import CampaignSpec
from models.types import utcnow
from outreach.channels import build_channels
from outreach.errors import ProviderUnavailable, is_transient
from outreach.sending.dispatch import BatchOutcome, send_due_steps

# A send task covers this many batches of due enrollments: inside a task, the channel's request
# for one chunk overlaps the database work of the chunks before and after it.
BATCHES_PER_SEND_TASK = 10
# Send tasks in flight at once: SQLite has one writer, PostgreSQL takes a few.
CONCURRENCY = {"sqlite": 1, "postgresql": 4}


def _worth_retrying(_task: Task[Any, Any], _run: TaskRun, state: State[Any]) -> bool:
    """Retry database lock/connection errors and transient channel errors nothing retried yet.

    A ProviderUnavailable means the channel has spent the request's whole retry budget
    (:mod:`outreach.providers.retrying`); another task attempt would multiply it, so the task fails
    and the unsent messages stay pending for the next run.
    """
    try:
        state.result()
    except OperationalError:
        return True
    except ProviderUnavailable:
        return False
    except Exception as err:
        return is_transient(err)
    return False


# Task retries are for the database and the outboxes only: a provider request is attempted at
# most ENRICH_PROVIDER_MAX_RETRIES + 1 times per run, by the channel (outreach.providers.retrying).
TASK_RETRIES = 3
RETRIES: dict[str, Any] = {
    "retries": TASK_RETRIES,
    "retry_delay_seconds": exponential_backoff(backoff_factor=2),
    "retry_condition_fn": _worth_retrying,
    "cache_policy": NO_CACHE,
}


@task(name="send-due-steps", **RETRIES)
def send_batch(enrollment_ids: list[int], spec_data: dict[str, Any], actor: str) -> BatchOutcome:
    """Send each of these enrollments its next due step (:func:`send_due_steps`)."""
    settings = get_settings()
    config = outreach_config(settings)
    engine = get_engine(settings)
    outcome = send_due_steps(
        engine=engine,
        enrollment_ids=enrollment_ids,
        spec=CampaignSpec.model_validate(spec_data),
        channels=build_channels(config),
        config=config,
        now=utcnow(),
        actor=actor,
        respect=respect(settings),
    )
    seal(engine)  # the batch's audit rows join the chain
    get_run_logger().info("batch of %d: %s", len(enrollment_ids), outcome)
    return outcome


def send_window(engine: Engine) -> int:
    """How many send tasks may run at once on this database."""
    return CONCURRENCY.get(engine.dialect.name, 1)


def send_all(
    batches: Iterable[tuple[list[int], dict[str, Any]]],
    *,
    actor: str,
    window: int,
    on_done: Callable[[list[int], BatchOutcome], None] | None = None,
) -> BatchOutcome:
    """Submit a send task per (enrollment ids, campaign spec) batch, at most ``window`` in
    flight; the batches are drawn lazily, so the next one is selected while others send.
    ``on_done`` hears of each batch's ids and outcome as it finishes, in submission order."""
    in_flight: deque[tuple[list[int], PrefectFuture[BatchOutcome]]] = deque()
    totals = BatchOutcome()

    def settle() -> None:
        nonlocal totals
        ids, future = in_flight.popleft()
        outcome = future.result()
        totals += outcome
        if on_done is not None:
            on_done(ids, outcome)

    for ids, spec_data in batches:
        in_flight.append((ids, send_batch.submit(ids, spec_data, actor)))
        if len(in_flight) >= window:
            settle()
    while in_flight:
        settle()
    return totals
