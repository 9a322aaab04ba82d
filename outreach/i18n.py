"""Every language's text from one source: gettext catalogues under ``templates/locales/``.

Templates and the landing page are written once, with English source strings marked for
translation (``{% trans %}``, ``_()``, ``ngettext``); each language's translations are in
``templates/locales/<lang>/LC_MESSAGES/messages.po``, a file a translator works on. The ``.po``
files are read and compiled in memory when first needed (no build step, nothing compiled is
committed) and kept until the file changes.

A locale is never mapped to another language silently: :func:`choose_locale` takes the exact
locale, then its language, and otherwise the default with a reason that says so.
:func:`catalogue_problems` is what ``enrich check`` reports: a supported language whose
catalogue lacks a translation of a string the templates or the page use.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

__all__ = [
    "LANGUAGE_NAMES",
    "SOURCE_LANGUAGE",
    "LocaleChoice",
    "catalogue_languages",
    "catalogue_problems",
    "choose_locale",
    "po_path",
    "renderable_languages",
    "translations",
    "used_messages",
]

DOMAIN = "messages"
SOURCE_LANGUAGE = "en"  # msgids are English: an English catalogue may leave them untranslated
# Each language in its own name, for the landing page's language switch.
LANGUAGE_NAMES = {
    "nl": "Nederlands",
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "sv": "Svenska",
    "es": "Español",
    "pt": "Português",
}
# What extraction reads (the same as templates/babel.cfg for `make messages-extract`).
_METHOD_MAP = [("notices/**", "ignore"), ("**.html", "jinja2"), ("**.txt", "jinja2")]
_OPTIONS = {"**.html": {"trimmed": "true"}, "**.txt": {"trimmed": "true"}}
_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")


def _tag(locale: str) -> str:
    """``nl_be`` / ``NL-be`` -> ``nl-BE``."""
    parts = [p for p in re.split(r"[-_]", (locale or "").strip()) if p]
    if not parts:
        return ""
    return "-".join([parts[0].lower(), *(p.upper() if len(p) == 2 else p for p in parts[1:])])


def locales_dir(templates_dir: Path) -> Path:
    return Path(templates_dir) / "locales"


def po_path(templates_dir: Path, language: str) -> Path:
    folder = _tag(language).replace("-", "_")
    return locales_dir(templates_dir) / folder / "LC_MESSAGES" / f"{DOMAIN}.po"


def catalogue_languages(templates_dir: Path) -> tuple[str, ...]:
    """The locales with a catalogue (``nl``, ``nl-BE``, ...), plus the source language."""
    found = {SOURCE_LANGUAGE}
    root = locales_dir(templates_dir)
    if root.is_dir():
        for po in root.glob(f"*/LC_MESSAGES/{DOMAIN}.po"):
            found.add(_tag(po.parent.parent.name))
    return tuple(sorted(found))


def renderable_languages(
    templates_dir: Path, supported: Iterable[str], default: str
) -> tuple[str, ...]:
    """The supported locales that have a catalogue, in the order given (``nl-BE`` too when
    ``nl`` is supported and ``nl-BE`` has a catalogue of its own), then the default."""
    have = catalogue_languages(templates_dir)
    wanted = [_tag(s) for s in supported]
    regional = [c for c in have if "-" in c and c.split("-")[0] in wanted]
    return tuple(dict.fromkeys([*(w for w in wanted if w in have), *regional, _tag(default)]))


@lru_cache(maxsize=64)
def _compiled(path: str, mtime_ns: int) -> gettext.GNUTranslations:
    with open(path, "rb") as handle:
        catalog = read_po(handle)
    buffer = BytesIO()
    write_mo(buffer, catalog)  # untranslated and fuzzy entries are left out: the msgid shows
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def translations(templates_dir: Path, language: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``language``; the source language without one is identity."""
    path = po_path(templates_dir, language)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        if _tag(language) == SOURCE_LANGUAGE:
            return gettext.NullTranslations()
        raise
    return _compiled(str(path), mtime)


@dataclass(frozen=True)
class LocaleChoice:
    locale: str  # the locale whose text is used
    reason: str | None = None  # why it is not the locale asked for; None when it is


def _shown(locale: str) -> str:
    """A locale as it may appear in a reason: a tag, never arbitrary stored text."""
    tag = _tag(locale)
    return tag if _TAG.fullmatch(tag) and len(tag) <= 16 else "(unreadable)"


def choose_locale(requested: str | None, available: Iterable[str], default: str) -> LocaleChoice:
    """The exact locale (``nl-BE``), else its language (``nl``), else ``default`` with the
    reason; a region without a catalogue of its own is the same language, not a fallback."""
    have = {_tag(a) for a in available}
    exact = _tag(requested or "")
    for candidate in (exact, exact.split("-")[0]):
        if candidate and candidate in have:
            return LocaleChoice(candidate)
    fallback = _tag(default)
    if not exact:
        return LocaleChoice(fallback, f"no locale: {fallback} used")
    return LocaleChoice(fallback, f"locale {_shown(exact)} not supported: {fallback} used")


# One msgid as the catalogues key it: (context or None, singular); a plural counts once.
MessageKey = tuple[str | None, str]


def used_messages(templates_dir: Path, python_files: Sequence[Path] = ()) -> set[MessageKey]:
    """Every msgid the templates (and the given Python modules) mark for translation."""
    found: set[MessageKey] = set()

    def add(message: str | tuple[str, ...], context: str | None) -> None:
        singular = message[0] if isinstance(message, tuple) else message
        if singular:
            found.add((context, singular))

    for _file, _line, message, _comments, context in extract_from_dir(
        str(templates_dir), method_map=_METHOD_MAP, options_map=_OPTIONS
    ):
        add(message, context)
    for path in python_files:
        for _line, message, _comments, context in extract_from_file("python", str(path)):
            add(message, context)
    return found


def _missing(path: Path, used: set[MessageKey]) -> list[str]:
    with path.open("rb") as handle:
        catalog = read_po(handle)
    missing = []
    for context, msgid in used:
        entry = catalog.get(msgid, context=context)
        if entry is None or entry.fuzzy:
            missing.append(msgid)
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if not all(strings):
            missing.append(msgid)
    return sorted(missing)


def catalogue_problems(
    templates_dir: Path, languages: Iterable[str], python_files: Sequence[Path] = ()
) -> list[str]:
    """One line per supported language whose catalogue is missing, unreadable or lacks a
    translation (empty or fuzzy) of a string in use; the source language may be identity.
    Lines name the language, the catalogue and how many strings; never the texts of customers."""
    used = used_messages(templates_dir, python_files)
    problems = []
    for language in dict.fromkeys(_tag(x) for x in languages):
        path = po_path(templates_dir, language)
        if not path.is_file():
            if language != SOURCE_LANGUAGE:
                problems.append(f"locale {language}: no catalogue {path}")
            continue
        if language == SOURCE_LANGUAGE:
            continue
        try:
            missing = _missing(path, used)
        except Exception as err:  # a broken .po: name the file, not its content
            problems.append(f"locale {language}: {path} cannot be read ({type(err).__name__})")
            continue
        if missing:
            first = ", ".join(repr(m[:60]) for m in missing[:3])
            problems.append(
                f"locale {language}: {len(missing)} of {len(used)} strings untranslated or "
                f"fuzzy in {path} (first: {first})"
            )
    return problems
