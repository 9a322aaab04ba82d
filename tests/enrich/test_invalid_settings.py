"""An invalid setting stops every ``enrich`` command: a line per variable, no traceback, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from enrich.cli import app
from enrich.settings import get_settings

ENRICH = Path(sys.executable).with_name("enrich")  # the installed console script
SWEEP_LINE = "invalid setting ENRICH_SWEEP_IDLE_DAYS: must be at least 30"


def command_paths(group: TyperGroup, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command the CLI registers, sub-apps walked: ("init",), ("sweep", "run"), ..."""
    for name, command in group.commands.items():
        if isinstance(command, TyperGroup):
            yield from command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


COMMANDS = sorted(command_paths(typer.main.get_command(app)))  # type: ignore[arg-type]


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """No ENRICH_* from the caller, a private working directory (no .env), fresh settings."""
    for key in [k for k in os.environ if k.startswith("ENRICH_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ENRICH_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield dict(os.environ)
    get_settings.cache_clear()


def run_enrich(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ENRICH), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_installed_command_prints_one_line_and_exits_2(
    clean_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**clean_env, "ENRICH_SWEEP_IDLE_DAYS": "0"}
    done = run_enrich("sweep", "run", env=env, cwd=tmp_path)
    assert (done.returncode, done.stderr.splitlines(), done.stdout) == (2, [SWEEP_LINE], "")
    assert not (tmp_path / "var").exists()  # nothing ran


def test_a_bad_value_in_the_env_file_is_reported_the_same_way(
    clean_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("ENRICH_TOKEN_TTL_DAYS=0\nENRICH_EMAIL_CHANNEL=smtp\n")
    done = run_enrich("init", env=clean_env, cwd=tmp_path)
    assert done.returncode == 2
    assert sorted(done.stderr.splitlines()) == [
        "invalid setting ENRICH_EMAIL_CHANNEL: must be 'outbox' or 'sendgrid'",
        "invalid setting ENRICH_TOKEN_TTL_DAYS: must be at least 1",
    ]
    assert "Traceback" not in done.stdout + done.stderr


def test_every_command_refuses_to_run_on_an_invalid_setting(
    clean_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(COMMANDS) > 15 and ("sweep", "run") in COMMANDS and ("demo-data",) in COMMANDS
    monkeypatch.setenv("ENRICH_SWEEP_IDLE_DAYS", "0")
    for path in COMMANDS:
        get_settings.cache_clear()
        result = CliRunner().invoke(app, list(path))
        assert result.exit_code == 2, (path, result.output)
        assert result.stderr.splitlines() == [SWEEP_LINE], (path, result.output)
        assert result.stdout == "", path
        assert result.exception is None or isinstance(result.exception, SystemExit), path


@pytest.mark.parametrize(
    ("variable", "value", "rule"),
    [
        ("TWILIO_CONCURRENCY", "100", "must be at most 64"),
        ("TWILIO_MESSAGES_PER_SECOND", "0", "must be more than 0"),
        ("SENDGRID_SANDBOX", "maybe", "must be true or false"),
        ("BATCH_SIZE", "many", "must be a whole number"),
        ("SENDGRID_UNSUBSCRIBE_GROUP_ID", "s3cr3t-value", "must be a whole number"),
        ("SUPPORTED_LOCALES", "nl,en", 'must be a JSON list, e.g. ["nl", "en"]'),
        ("CAP_PER_CHANNEL", "fax=1", "unknown channel 'fax'"),
        ("LETTER_CUTOFF", "3pm", None),  # the send-window parser's own words
    ],
)
def test_each_line_names_the_variable_and_the_rule_never_the_value(
    clean_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    rule: str | None,
) -> None:
    monkeypatch.setenv(f"ENRICH_{variable}", value)
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"invalid setting ENRICH_{variable}: "), line
    if rule is not None:
        assert line == f"invalid setting ENRICH_{variable}: {rule}"
    assert "s3cr3t" not in result.output and "Traceback" not in result.output
