"""Which templates SendGrid can personalise by substitution, proven from their syntax tree.

A message whose per-recipient values (names, link, code) reach its template only as plain
``{{ value }}`` output, or as the test of an ``{% if %}`` on whether the value is set, renders
exactly like the template rendered once with placeholders, the placeholders then replaced by the
values (HTML-escaped in HTML). Anything else a template could do with a value (a filter, a
comparison, a macro, a ``set``, a loop over it) makes the template *unsafe*: its messages are
then rendered one by one and checked. Templates it extends or includes are judged with it.

A value passed by name to a translation that is output as it is (``{% trans given_name=... %}``
with newstyle gettext: ``gettext(msgid, given_name=given_name)``) is plain output too: the
translation is formatted with the value exactly as with its placeholder (escaped in HTML).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jinja2 import Environment, nodes

# The per-message values of the render context (outreach.render.Renderer._context); ``asks``
# is per message too, but the planner groups messages by it, so templates may use it freely.
PER_MESSAGE = frozenset(
    {
        "given_name",
        "family_name",
        "full_name",
        "link",
        "unsubscribe_url",
        "code",
        "outreach_id",
        "return_code",
        "reference",
    }
)
# Values that may be output as they are: placeholders stand for them.
INSERTABLE = PER_MESSAGE - {"outreach_id", "return_code"}
# Values whose being set may be tested: the placeholder render is grouped by that.
TESTABLE = frozenset({"given_name", "family_name", "full_name", "code", "reference"})
# Constructs that can transform output they enclose, or bring in names this walk cannot see.
_OPAQUE = (
    nodes.Macro,
    nodes.CallBlock,
    nodes.FilterBlock,
    nodes.Import,
    nodes.FromImport,
    nodes.EvalContextModifier,
    nodes.ContextReference,
    nodes.DerivedContextReference,
)
# The gettext functions of jinja2.ext.i18n (newstyle: named values are formatted in).
_GETTEXT = frozenset({"gettext", "_", "ngettext", "pgettext", "npgettext"})


def substitution_safe(env: Environment, template_names: Iterable[str]) -> bool:
    """True when every named template, and every template they extend or include, uses the
    per-message values only as plain output or as an ``if`` test on their being set."""
    seen: set[str] = set()
    todo = list(template_names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if env.loader is None:
            raise ValueError("the template environment has no loader to read templates from")
        source, _, _ = env.loader.get_source(env, name)
        tree = env.parse(source, name=name)
        found = _referenced(tree)
        if found is None or not _uses_are_plain(tree):
            return False
        todo.extend(found)
    return True


def _referenced(tree: nodes.Template) -> list[str] | None:
    """Templates extended or included by ``tree``; None when one is not a constant name."""
    names = []
    for node in tree.find_all((nodes.Extends, nodes.Include)):
        target = node.template  # type: ignore[attr-defined]
        if not isinstance(target, nodes.Const) or not isinstance(target.value, str):
            return None
        names.append(target.value)
    return names


def _translated(tree: nodes.Template) -> set[int]:
    """The per-message names passed by keyword to a translation that is output as it is."""
    found = set()
    for output in tree.find_all(nodes.Output):
        for call in output.nodes:
            if not (
                isinstance(call, nodes.Call)
                and isinstance(call.node, nodes.Name)
                and call.node.name in _GETTEXT
            ):
                continue
            counted = {id(arg) for arg in call.args}  # a plural's count picks the wording
            for keyword in call.kwargs:
                value = keyword.value
                if (
                    isinstance(value, nodes.Name)
                    and value.name in INSERTABLE
                    and id(value) not in counted
                ):
                    found.add(id(value))
    return found


def _uses_are_plain(tree: nodes.Template) -> bool:
    translated = _translated(tree)
    stack: list[tuple[nodes.Node, nodes.Node | None]] = [(tree, None)]
    while stack:
        node, parent = stack.pop()
        if isinstance(node, _OPAQUE):
            return False
        if id(node) not in translated and not _plain_use(node, parent):
            return False
        stack.extend((child, node) for child in node.iter_child_nodes())
    return True


def _plain_use(name: Any, parent: nodes.Node | None) -> bool:
    """True unless ``name`` is a per-message value used otherwise than plainly."""
    if not isinstance(name, nodes.Name) or name.name not in PER_MESSAGE:
        return True
    if name.ctx != "load":  # assigned to: a set, a loop variable, a macro argument
        return False
    if isinstance(parent, nodes.Output):
        return name.name in INSERTABLE
    if isinstance(parent, nodes.If) and parent.test is name:
        return name.name in TESTABLE
    return False
