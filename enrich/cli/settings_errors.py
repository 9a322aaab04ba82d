"""Invalid settings as one line per environment variable: the variable and the rule it breaks.

pydantic reports field names and its own wording; a steward sets ``ENRICH_*`` variables (or a
``.env`` file), so each line names the variable and says the rule in plain words. Values are
never shown: a setting may be a secret.
"""

from __future__ import annotations

import re
from typing import Any, Final

from pydantic import ValidationError
from pydantic_settings import SettingsError

from enrich.settings import Settings

# pydantic error type -> the rule in plain words (``ctx`` holds the limits).
_RULES: Final = {
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_type": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "literal_error": "must be {expected}",
    "list_type": 'must be a JSON list, e.g. ["nl", "en"]',
}
# SettingsError carries no structure, only this sentence (pydantic-settings' sources).
_SOURCE_FIELD: Final = re.compile(r'value for field "(\w+)"')
_NAMED: Final = re.compile(r"(ENRICH_[A-Z0-9_]+): ")


def variable(field: str) -> str:
    """The environment variable of a settings field: ``sweep_idle_days`` -> ``ENRICH_…``."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    return f"{prefix}{field}".upper()


def _rule(error: Any, name: str) -> str:
    template = _RULES.get(error["type"])
    if template is not None:
        # A float field's limit reads 0.0; a person writes 0.
        ctx = {
            key: int(v) if isinstance(v, float) and v.is_integer() else v
            for key, v in error.get("ctx", {}).items()
        }
        return template.format(**ctx)
    message = str(error["msg"]).removeprefix("Value error, ")
    # Our own validators already name the variable ("ENRICH_EMAIL_WINDOW: expected ...").
    message = message.removeprefix(f"{name}: ")
    return message.replace("Input should be", "must be")


def describe(err: ValidationError | SettingsError) -> list[str]:
    """One line per invalid variable, in the order of the settings; never the value itself."""
    if isinstance(err, SettingsError):
        found = _SOURCE_FIELD.search(str(err))
        name = variable(found.group(1)) if found else "a setting"
        return [f"invalid setting {name}: {_RULES['list_type']}"]
    rules: dict[str, list[str]] = {}
    for error in err.errors(include_url=False, include_input=False):
        # A rule across settings names its variable itself: "ENRICH_SECRET_KEY: ...".
        named = _NAMED.match(str(error["msg"]).removeprefix("Value error, "))
        if error["loc"]:
            name = variable(str(error["loc"][0]))
        else:
            name = named.group(1) if named else "a setting"
        rule = _rule(error, name)
        if rule not in rules.setdefault(name, []):
            rules[name].append(rule)
    return [f"invalid setting {name}: {'; '.join(broken)}" for name, broken in rules.items()]
