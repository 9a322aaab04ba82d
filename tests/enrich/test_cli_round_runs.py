"""Round commands as a user runs them: a command killed with SIGKILL leaves no Prefect server
behind, a command with nothing to do answers without starting one, (a run that leaves a
message in doubt: tests/providers/test_in_doubt_decisions.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from enrich.runtime import get_engine
from enrich.settings import Settings
from models.types import utcnow
from tests.conftest import REPO
from tests.factories import COMPLETE, add_profile, replace
from tests.providers.data import seed_round

ENRICH = str(Path(sys.executable).parent / "enrich")
runner = CliRunner()


def own_env(tmp_path: Path) -> dict[str, str]:
    """This test's settings, no Prefect server to report to, a Prefect home of its own."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    return {**env, "PREFECT_HOME": str(tmp_path / "prefect")}


def prefect_servers(pid: int) -> list[psutil.Process]:
    """The Prefect API processes (Enrich's own, or Prefect's temporary server) below ``pid``."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            cmdline = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "enrich.prefect_child" in cmdline or "prefect.server.api.server" in cmdline:
            found.append(child)
    return found


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("command", [["round", "start"], ["round", "advance"]])
def test_a_command_killed_mid_run_leaves_no_prefect_server_behind(
    settings: Settings, tmp_path: Path, command: list[str]
) -> None:
    engine = get_engine(settings)
    if command[-1] == "advance":
        seed_round(engine, emails=3, sms=0, now=utcnow())  # first steps due
    else:
        with engine.begin() as conn:
            for i in range(3):
                add_profile(conn, f"e{i}", replace(COMPLETE, "mobile"))
    proc = subprocess.Popen(
        [ENRICH, *command],
        cwd=REPO,
        env=own_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    servers: list[psutil.Process] = []
    while not servers and proc.poll() is None and time.monotonic() < deadline:
        servers = prefect_servers(proc.pid)
        time.sleep(0.05)
    assert servers, "the command started no Prefect server to watch"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while not all(gone(s) for s in servers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [s for s in servers if not gone(s)]
    for server in left:
        server.kill()
    assert not left, "the Prefect server outlived the killed command"


def test_commands_with_nothing_to_do_say_so_without_starting_prefect(
    settings: Settings, tmp_path: Path
) -> None:
    env = own_env(tmp_path)
    advance = subprocess.run(
        [ENRICH, "round", "advance"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert advance.returncode == 0, advance.stderr
    assert "Nothing is due" in advance.stdout
    start = subprocess.run(
        [ENRICH, "round", "start"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert start.returncode == 0, start.stderr
    assert "No profile would be enrolled" in start.stdout
    assert not (tmp_path / "prefect").exists()  # Prefect never ran: no home, no database


def test_a_round_that_starts_its_own_prefect_server_prints_no_warning(
    settings: Settings, tmp_path: Path
) -> None:
    with get_engine(settings).begin() as conn:
        add_profile(conn, "w0", replace(COMPLETE, "mobile"))
    run = subprocess.run(
        [ENRICH, "round", "start"], cwd=REPO, env=own_env(tmp_path), capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert "1 enrolled" in run.stdout
    assert "Warning" not in run.stderr, run.stderr
