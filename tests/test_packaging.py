"""The pinned set: requirements.lock pins every declared dependency within its range, and the
environment the tests run in is exactly that set, so a fresh clone gets what CI tested."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

# ``name==version`` or ``name[extra]==version`` at the start of a line of the lock.
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s\\;]+)", re.MULTILINE)


def locked() -> dict[str, str]:
    text = (REPO / "requirements.lock").read_text()
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


def declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lines = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return [Requirement(line) for line in lines]


def test_the_lock_pins_every_declared_dependency_within_its_range() -> None:
    pins = locked()
    outside = {
        str(req): pins.get(canonicalize_name(req.name))
        for req in declared()
        if not req.specifier.contains(pins.get(canonicalize_name(req.name), "0.0.0a0"), True)
    }
    assert outside == {}, "run `make lock` after changing pyproject.toml"


def test_the_tests_run_on_exactly_the_locked_versions() -> None:
    differ = {}
    for name, version in locked().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            differ[name] = (version, installed)
    assert differ == {}, "(locked, installed): run `make setup` to install requirements.lock"
