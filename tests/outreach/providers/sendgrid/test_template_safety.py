"""Which templates may be personalised by substitution: judged from the syntax tree alone."""

from __future__ import annotations

import pytest
from jinja2 import DictLoader, Environment, FileSystemLoader

from outreach.providers.sendgrid.template_safety import substitution_safe
from tests.paths import REPO

REPO_TEMPLATES = REPO / "templates"

TEMPLATES = {
    "layout": '<a href="{{ link }}">{% block body %}{% endblock %}</a> {{ unsubscribe_url }}',
    "plain": (
        '{% extends "layout" %}{% block body %}'
        "{% if given_name %}Hi {{ given_name }}{% elif family_name %}{{ full_name }}"
        "{% else %}Hi{% endif %} {{ organisation.name|upper }}{% endblock %}"
    ),
    "includes_plain": '{% include "plain" %}',
    "filter": "Hi {{ given_name|upper }}",
    "compare": '{% if given_name == "Jan" %}Jan!{% endif %}',
    "negated": "{% if not given_name %}Hi{% endif %}",
    "concat": '{{ given_name ~ "!" }}',
    "attribute": "{{ link.upper() }}",
    "assigned": "{% set name = given_name %}{{ name }}",
    "shadowed": "{% set given_name = 'x' %}{{ given_name }}",
    "loop": "{% for c in family_name %}{{ c }}{% endfor %}",
    "macro": "{% macro m() %}{{ given_name }}{% endmacro %}{{ m()|upper }}",
    "filter_block": "{% filter upper %}{{ given_name }}{% endfilter %}",
    "raw_html": "{% autoescape false %}{{ given_name }}{% endautoescape %}",
    "outreach_id": "Reference {{ outreach_id }}",
    "return_code": "{{ return_code }}",
    "extends_unsafe": '{% extends "filter" %}',
    "includes_unsafe": '{% include "compare" %}',
    "dynamic_include": "{% include template_name %}",
    "conditional": "{{ given_name if given_name else 'customer' }}",
    # Translations (jinja2.ext.i18n, newstyle gettext): a value passed by name is plain output.
    "translated": "{% trans given_name=given_name %}Dear {{ given_name }},{% endtrans %}",
    "translated_filtered": "{% trans name=given_name|upper %}Dear {{ name }},{% endtrans %}",
    "translated_count": "{% trans count=code %}{{ count }} day{% pluralize %}{{ count }} days"
    "{% endtrans %}",
    "translated_then_filtered": '{{ _("Dear %(n)s", n=given_name)|upper }}',
}
SAFE = {"layout", "plain", "includes_plain", "translated"}


def i18n(env: Environment) -> Environment:
    """As the renderer sets it up: newstyle gettext, which formats named values in."""
    env.add_extension("jinja2.ext.i18n")
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return env


@pytest.fixture
def env() -> Environment:
    return i18n(Environment(loader=DictLoader(TEMPLATES), autoescape=True))


@pytest.mark.parametrize("name", sorted(SAFE))
def test_values_used_as_plain_output_or_if_tests_are_safe(env: Environment, name: str) -> None:
    assert substitution_safe(env, [name])


@pytest.mark.parametrize(
    "name",
    sorted(set(TEMPLATES) - SAFE),
)
def test_any_other_use_of_a_personal_value_is_unsafe(env: Environment, name: str) -> None:
    assert not substitution_safe(env, [name])


def test_one_unsafe_part_makes_the_set_unsafe(env: Environment) -> None:
    assert not substitution_safe(env, ["plain", "filter"])


def test_every_shipped_email_template_is_safe() -> None:
    """So a round through SendGrid renders once per group, not once per customer."""
    env = i18n(Environment(loader=FileSystemLoader(REPO_TEMPLATES)))
    names = [f"email/{p.name}" for p in (REPO_TEMPLATES / "email").iterdir()]
    assert len(names) >= 7  # one template per message and part, every language in it
    for name in names:
        assert substitution_safe(env, [name]), name


def test_an_environment_without_a_loader_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="no loader"):
        substitution_safe(Environment(), ["plain"])
