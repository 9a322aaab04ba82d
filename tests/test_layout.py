"""The house rules of the tree: the README's tour names every package folder and nothing that
is gone, ``models/`` stays small at its top, no module grows past 400 lines, and ``models/``
names no provider."""

from __future__ import annotations

import re
from pathlib import Path

from tests.paths import REPO

PACKAGES = ("models", "outreach", "flows", "enrich")
MAX_LINES = 400


def tour() -> str:
    text = (REPO / "README.md").read_text()
    return text[text.index("## Folders") :].split("\n## ", 1)[0]


def package_folders() -> set[str]:
    found = set()
    for top in PACKAGES:
        for init in (REPO / top).rglob("__init__.py"):
            folder = init.parent.relative_to(REPO).as_posix()
            if "migrations" not in folder and folder.count("/") <= 1:
                found.add(folder + "/")
    return found


def test_the_readme_tour_names_every_package_folder_and_only_existing_ones() -> None:
    named = set(re.findall(r"^\| `([a-z_/]+/)` \|", tour(), re.MULTILINE))
    missing = {f for f in package_folders() if f not in named and f.split("/")[0] + "/" in named}
    assert not missing, f"README's tour lacks {sorted(missing)}"
    gone = {f for f in named if not (REPO / f).is_dir()}
    assert not gone, f"README's tour names folders that do not exist: {sorted(gone)}"


def test_models_has_at_most_a_dozen_modules_at_its_top() -> None:
    top = sorted(p.name for p in (REPO / "models").glob("*.py"))
    assert len(top) <= 12, top


def modules() -> list[Path]:
    roots = [*PACKAGES, "tests"]
    return [
        p
        for root in roots
        for p in (REPO / root).rglob("*.py")
        if "migrations" not in p.parts and ".venv" not in p.parts
    ]


def test_no_module_is_over_400_lines() -> None:
    long = {
        p.relative_to(REPO).as_posix(): n
        for p in modules()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long


def test_models_speaks_no_provider_name() -> None:
    named = [
        p.relative_to(REPO).as_posix()
        for p in (REPO / "models").rglob("*.py")
        if "migrations" not in p.parts and re.search(r"sendgrid|twilio", p.read_text(), re.I)
    ]
    assert not named, named
