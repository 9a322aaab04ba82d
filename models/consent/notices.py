"""The notice texts a consent question shows, as versioned files, and the record of published ones.

A notice is ``templates/notices/<purpose>/<version>.<locale>.md``: a first line ``# <question>``,
then paragraphs separated by blank lines. Nothing in it is markup: the page shows it as text.
Its sha256 is over the file's exact bytes, and each consent stores the hash of the text it was
given on. ``templates/notices/published.json`` maps purpose, version and locale to the sha256 of
every published text; a published text never changes (a new text is a new version), and
:func:`notice_problems` says which file broke that rule.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

NOTICES = "notices"
PUBLISHED = "published.json"
# Names that become paths: nothing that can climb out of the notices folder.
PURPOSE_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
LOCALE_PATTERN = r"^[a-z]{2}(-[A-Z]{2})?$"
# ``<version>.<locale>.md``: a notice's file, and an incentive's terms (models.incentives).
VERSIONED_FILE = re.compile(
    r"^(?P<version>[A-Za-z0-9][A-Za-z0-9_-]{0,63})\.(?P<locale>[a-z]{2}(-[A-Z]{2})?)\.md$"
)

NoticeKey = tuple[str, str, str]  # (purpose, version, locale)


class NoticeError(ValueError):
    """A notice file is missing, unreadable or malformed; the message names the file."""


@dataclass(frozen=True)
class Notice:
    purpose: str
    version: str
    locale: str
    text: str  # the file's exact content
    sha256: str
    question: str
    paragraphs: tuple[str, ...]


@dataclass(frozen=True)
class ShownNotice:
    """Which notice a consent question showed: what a consent records of it."""

    version: str
    locale: str
    sha256: str


def notices_dir(templates_dir: Path) -> Path:
    return Path(templates_dir) / NOTICES


def notice_path(templates_dir: Path, purpose: str, version: str, locale: str) -> Path:
    for value, pattern, what in (
        (purpose, PURPOSE_PATTERN, "purpose"),
        (version, VERSION_PATTERN, "version"),
        (locale, LOCALE_PATTERN, "locale"),
    ):
        if not re.fullmatch(pattern, value):
            raise NoticeError(f"not a notice {what}: {value[:70]!r}")
    return notices_dir(templates_dir) / purpose / f"{version}.{locale}.md"


def parse_notice(text: str, path: Path) -> tuple[str, tuple[str, ...]]:
    """(question, paragraphs) of a notice's text."""
    first, _, rest = text.partition("\n")
    if not first.startswith("# ") or not first[2:].strip():
        raise NoticeError(f"{path}: the first line must be '# ' and the question")
    blocks = re.split(r"\n[ \t]*\n", rest.strip())
    paragraphs = tuple(" ".join(b.split()) for b in blocks if b.strip())
    return first[2:].strip(), paragraphs


def read_versioned(path: Path, what: str = "notice") -> tuple[str, str]:
    """(text, sha256 of its exact bytes) of a versioned text file (a notice, an incentive's
    terms); :class:`NoticeError` naming ``what`` and the file when it cannot be read."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except FileNotFoundError as err:
        raise NoticeError(f"{what} not found: {path}") from err
    except (OSError, UnicodeDecodeError) as err:
        raise NoticeError(f"{what} unreadable ({type(err).__name__}): {path}") from err
    return text, hashlib.sha256(raw).hexdigest()


def load_notice(templates_dir: Path, *, purpose: str, version: str, locale: str) -> Notice:
    path = notice_path(templates_dir, purpose, version, locale)
    text, digest = read_versioned(path)
    question, paragraphs = parse_notice(text, path)
    return Notice(purpose, version, locale, text, digest, question, paragraphs)


def notice_files(templates_dir: Path) -> dict[NoticeKey, Path]:
    """Every notice file under the templates, by (purpose, version, locale)."""
    found: dict[NoticeKey, Path] = {}
    root = notices_dir(templates_dir)
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if not folder.is_dir() or not re.fullmatch(PURPOSE_PATTERN, folder.name):
            continue
        for path in sorted(folder.iterdir()):
            if match := VERSIONED_FILE.fullmatch(path.name):
                found[(folder.name, match["version"], match["locale"])] = path
    return found


def read_published(templates_dir: Path) -> dict[NoticeKey, str]:
    path = notices_dir(templates_dir) / PUBLISHED
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            (purpose, version, locale): str(digest)
            for purpose, versions in data.items()
            for version, locales in versions.items()
            for locale, digest in locales.items()
        }
    except (OSError, ValueError, AttributeError) as err:
        raise NoticeError(f"{path} is not a published-notices record: {err}") from err


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def changed_since_published(templates_dir: Path) -> list[str]:
    """A problem per published notice whose file changed or went missing."""
    problems = []
    files = notice_files(templates_dir)
    for key, digest in sorted(read_published(templates_dir).items()):
        path = files.get(key) or notice_path(templates_dir, *key)
        if key not in files:
            problems.append(f"published notice {path} is missing: restore it")
        elif _sha256(path) != digest:
            problems.append(
                f"{path} changed after it was published: restore its text and put the new "
                f"one in a new version"
            )
    return problems


def notice_problems(templates_dir: Path, purposes: Mapping[str, str]) -> list[str]:
    """What is wrong with the notices a campaign asks on: ``purposes`` maps each of its purposes
    to its notice version. Empty when every published text is unchanged and every purpose's
    version exists, parses and is published in each locale the purpose has notices in."""
    problems = changed_since_published(templates_dir)
    files = notice_files(templates_dir)
    published = read_published(templates_dir)
    for purpose, version in sorted(purposes.items()):
        locales = sorted({loc for (p, _v, loc) in files if p == purpose})
        if not locales:
            problems.append(
                f"purpose {purpose}: no notice file (expected "
                f"{notice_path(templates_dir, purpose, version, 'en')} and one per language)"
            )
        for locale in locales:
            key = (purpose, version, locale)
            if key not in files:
                problems.append(
                    f"purpose {purpose}: version {version} has no {locale} text "
                    f"({notice_path(templates_dir, *key)})"
                )
                continue
            try:
                load_notice(templates_dir, purpose=purpose, version=version, locale=locale)
            except NoticeError as err:
                problems.append(str(err))
                continue
            if key not in published:
                problems.append(f"{files[key]} is not published: run `enrich notices publish`")
    return problems


def publish(templates_dir: Path) -> list[NoticeKey]:
    """Record every notice file not yet published; the keys added. Refuses (NoticeError) while
    a published text has changed, so a changed text is never published over the old one."""
    problems = changed_since_published(templates_dir)
    if problems:
        raise NoticeError(problems[0])
    published = read_published(templates_dir)
    added: list[NoticeKey] = []
    for key, path in notice_files(templates_dir).items():
        if key in published:
            continue
        load_notice(templates_dir, purpose=key[0], version=key[1], locale=key[2])  # it parses
        published[key] = _sha256(path)
        added.append(key)
    if added:
        _write_published(templates_dir, published.items())
    return added


def _write_published(templates_dir: Path, entries: Iterable[tuple[NoticeKey, str]]) -> None:
    data: dict[str, dict[str, dict[str, str]]] = {}
    for (purpose, version, locale), digest in sorted(entries):
        data.setdefault(purpose, {}).setdefault(version, {})[locale] = digest
    path = notices_dir(templates_dir) / PUBLISHED
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
