"""The access export (Art. 15) of one person as JSON and as one self-contained HTML page.

The document comes from :func:`models.data_subject.access.collect_export`; this module only lays
it out. The HTML page (``templates/documents/access_export.html``) is autoescaped, styled inline,
with no script and nothing loaded from elsewhere (a content-security policy in the page says so
to the browser too), so it can be handed to the person as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATE: Final = "documents/access_export.html"


def render_json(document: Mapping[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


_TIMESTAMP: Final = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}):\d{2}(\.\d+)?\+00:00$")


def show(value: Any) -> str:
    """A cell's text: empty for nothing, a UTC time to the minute, a list of words joined, other
    nested values as JSON, the value otherwise (escaped by the template, never here)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and (stamp := _TIMESTAMP.match(value)):
        return f"{stamp[1]} {stamp[2]} UTC"
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return ", ".join(map(str, value))
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def label(key: str) -> str:
    return key.replace("_", " ")


def columns(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The keys of the rows that hold something in at least one row, in first-seen order (the
    JSON keeps every key; the page leaves out columns empty throughout)."""
    order: dict[str, None] = {}
    held: set[str] = set()
    for row in rows:
        order.update(dict.fromkeys(row))
        held.update(k for k, v in row.items() if v not in (None, "", [], {}))
    return [k for k in order if k in held]


@lru_cache(maxsize=4)
def _environment(templates_dir: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(enabled_extensions=("html",), default=True),
        undefined=StrictUndefined,
        auto_reload=False,
    )
    env.filters.update(show=show, label=label, columns=columns)
    return env


def render_html(document: Mapping[str, Any], *, templates_dir: Path, organisation: str) -> str:
    template = _environment(str(templates_dir)).get_template(TEMPLATE)
    return template.render(d=document, organisation=organisation)
