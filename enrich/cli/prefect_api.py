"""A Prefect API for one command's lifetime, that dies with the command however it ends.

With ``PREFECT_API_URL`` set, flows report to that server and nothing is started. Without it,
Prefect would start a temporary server as a child process that outlives a ``kill -9`` of its
parent (about 235 MB each, left running). Instead, :func:`prefect_api` starts the same server
(Prefect's own app under uvicorn) as a child that watches a pipe from this process: when the
pipe closes, as it does when this process ends in any way, the child exits at once.

``python -m enrich.prefect_child PORT`` is that child (outside ``enrich.cli``, which it need
not import).
"""

from __future__ import annotations

import inspect
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import httpx

STARTUP_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 10.0
# What Prefect's own temporary server sets: no UI, services of an ephemeral server.
SERVER_ENV = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
}


class PrefectApiError(RuntimeError):
    """The local Prefect API did not start."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise PrefectApiError(
                    f"the local Prefect API exited during startup (code {process.returncode})"
                )
            try:
                if client.get(f"{url}/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    raise PrefectApiError(f"the local Prefect API did not answer within {STARTUP_TIMEOUT_SECONDS}s")


def _drain_prefect_workers() -> None:
    """Send the logs and events Prefect still buffers while the server is up: at exit they
    would go to a server that is gone (what Prefect's own test harness does before it stops)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        with suppress(RuntimeError):  # the log worker never started
            logs = APILogWorker.instance().drain()
            if inspect.isawaitable(logs):
                await logs
        events = EventsWorker.drain_all()
        if inspect.isawaitable(events):
            await events

    run_coro_as_sync(drain())


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.stdin is not None:
        process.stdin.close()  # the child's watchdog sees the pipe close and exits
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def prefect_api() -> Iterator[str | None]:
    """Within the block, flows report to ``PREFECT_API_URL`` when it is set, else to a local
    server of this process's own; yields the URL of the one started, or None."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield None
        return
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    process = subprocess.Popen(
        [sys.executable, "-m", "enrich.prefect_child", str(port)],
        stdin=subprocess.PIPE,
        env={**os.environ, **SERVER_ENV},
    )
    try:
        _wait_healthy(process, url)
        with temporary_settings(updates={PREFECT_API_URL: url}):
            try:
                yield url
            finally:
                _drain_prefect_workers()
    finally:
        _stop(process)
