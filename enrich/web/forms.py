"""The forms the landing pages post, as Pydantic models FastAPI fills from the request.

Every field is text and optional: a missing field is the empty string, and the routes (not the
parser) decide what an empty or odd value means, so a hostile form gets the page's own error.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _PageForm(BaseModel):
    model_config = ConfigDict(extra="ignore")

    lang: str = ""
    csrf_token: str = ""


class LinkForm(_PageForm):
    """``POST /c/{token}``; the ``consent_<purpose>_<channel>`` answers and ``notice_<purpose>``
    fields come from the campaign's purposes, so they are kept as extra fields and read with
    :meth:`consent` and :meth:`notice`."""

    model_config = ConfigDict(extra="allow")

    email: str = ""
    mobile: str = ""
    street: str = ""
    house_number: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = ""
    email_action: str = ""
    mobile_action: str = ""
    postal_action: str = ""
    stop_contacting: str = ""  # the "stop contacting me" checkbox: "yes" when ticked
    incentive: str = ""  # the incentive's "take part" checkbox: "yes" when ticked
    incentive_terms: str = ""  # "<version>:<sha256>" of the incentive terms the page showed

    def consent(self, name: str) -> str:
        """The answer posted as ``consent_<name>`` ("" when none; ``<name>`` is
        ``<purpose>_<channel>``); a repeated field counts by its last value."""
        return self._extra(f"consent_{name}")

    def notice(self, purpose: str) -> str:
        """The ``<version>:<sha256>`` of the notice the page showed for ``purpose``."""
        return self._extra(f"notice_{purpose}")

    def consent_fields(self) -> set[str]:
        """The names of every ``consent_*`` field posted, asked or not."""
        return {name for name in self.model_extra or {} if name.startswith("consent_")}

    def _extra(self, name: str) -> str:
        value = (self.model_extra or {}).get(name)
        if isinstance(value, list):
            value = value[-1] if value else None
        return value if isinstance(value, str) else ""


class CodeForm(_PageForm):
    """``POST /code``: the one-time SMS code and the signed challenge it answers."""

    challenge: str = ""
    code: str = ""


class ConfirmForm(_PageForm):
    """``POST /e/{token}``: the button that confirms an email address."""


class UnsubscribeForm(BaseModel):
    """``POST /u/{token}``: the page's button, or a mail client's RFC 8058 one-click POST."""

    model_config = ConfigDict(extra="ignore")

    lang: str = ""
    list_unsubscribe: str = Field(default="", alias="List-Unsubscribe")
