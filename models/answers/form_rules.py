"""The landing-page form as the rules see it, and its validation, field by field.

Each of the email, the mobile and the postal address gets one action: ``keep``, ``confirm``,
``change`` (a new value) or ``wrong`` (the value on file is wrong; a new value may come with it
but need not); the email and the mobile also ``none``: the customer has none
(:mod:`models.answers.declined`), with nothing typed. Values typed on the form go through the
import's text rule first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from models.answers.declined import DECLINABLE
from models.answers.personal_link import FIELDS, LinkContext
from models.consent.notices import ShownNotice
from models.consent.record import consent_error
from models.contact_data.validation import (
    TextResult,
    normalise_address,
    normalise_country,
    normalise_email,
    normalise_phone,
    normalise_text,
)
from models.incentives.terms import ShownTerms

ACTIONS = ("keep", "confirm", "change", "wrong", "none")
MAX_FIELD = 320  # longer than any valid email; everything longer is refused outright
_ADDRESS_LIMITS = {"street": 200, "house_number": 32, "postal_code": 32, "city": 200}


@dataclass(frozen=True)
class PostalInput:
    street: str = ""
    house_number: str = ""
    postal_code: str = ""
    city: str = ""
    country: str | None = None  # name or code; None means the profile's country


@dataclass(frozen=True)
class FieldAction:
    action: Literal["confirm", "change", "keep", "wrong", "none"] = "keep"
    value: str | None = None  # the new email or mobile for "change" (or with "wrong")
    address: PostalInput | None = None  # the new address for a postal "change" (or "wrong")

    def gives_value(self) -> bool:
        """Whether a new value comes with the action: always for ``change``, and for ``wrong``
        when something was typed."""
        if self.action == "change":
            return True
        if self.action != "wrong":
            return False
        typed = [self.value] if self.address is None else list(vars(self.address).values())
        return any(isinstance(v, str) and v.strip() for v in typed)


@dataclass(frozen=True)
class SubmissionForm:
    email: FieldAction = FieldAction()
    mobile: FieldAction = FieldAction()
    postal: FieldAction = FieldAction()
    # Per purpose and channel (models.consent.record), with the notice shown per purpose.
    consents: dict[str, dict[str, bool | None]] = field(default_factory=dict)
    notices: dict[str, ShownNotice] = field(default_factory=dict)
    # The campaign's incentive, when the customer ticked to take part (models.incentives).
    incentive: ShownTerms | None = None


def typed_text(
    text: Any, limit: int, invalid: str, *, needs_letter_or_digit: bool = False
) -> TextResult:
    """A form value through the import's text rule; too long or with markup it is ``invalid``."""
    if not isinstance(text, str) or len(text) > limit or "<" in text or ">" in text:
        return TextResult(reason=invalid)
    return normalise_text(text, needs_letter_or_digit=needs_letter_or_digit)


def validate_form(
    ctx: LinkContext, form: SubmissionForm, default_region: str, country: str | None
) -> tuple[dict[str, str], dict[str, Any]]:
    """Errors per field, and the normalised new values (field -> str or AddressResult)."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for kind in FIELDS:
        act: FieldAction = getattr(form, kind)
        on_file = ctx.fields[kind].contact_point_id is not None
        if act.action not in ACTIONS:
            errors[kind] = "unknown action"
        elif act.action == "confirm" and not on_file:
            errors[kind] = f"{kind}: nothing to confirm"
        elif act.action == "wrong" and not on_file:
            errors[kind] = f"{kind}: nothing to mark wrong"
        elif act.action == "none" and kind not in DECLINABLE:
            errors[kind] = f"{kind}: cannot be declined"
        elif act.action == "none" and isinstance(act.value, str) and act.value.strip():
            errors[kind] = f"{kind}: none and a value"
        elif act.gives_value() and kind == "email":
            text = typed_text(act.value, MAX_FIELD, "email: invalid")
            if text.value is None:
                errors[kind] = text.reason or "email: invalid"
            elif (email := normalise_email(text.value)).value is None:
                errors[kind] = email.reason or "email: invalid"
            else:
                values[kind] = email.value
        elif act.gives_value() and kind == "mobile":
            text = typed_text(act.value, 64, "phone: invalid")
            if text.value is None:
                errors[kind] = text.reason or "phone: invalid"
            elif (phone := normalise_phone(text.value, default_region=default_region)).ok:
                values[kind] = phone.value
            else:
                errors[kind] = phone.reason or "phone: invalid"
        elif act.gives_value():
            a = act.address  # None is reported by _validate_address
            errors.update(_validate_address(a, country or default_region))
            if a is not None and not any(k.startswith("postal") for k in errors):
                values[kind] = normalise_address(
                    street=a.street,
                    house_number=a.house_number,
                    postal_code=a.postal_code,
                    city=a.city,
                    country=normalise_country(a.country) if a.country else country,
                )
    if (consent := consent_error(ctx, form.consents, form.notices)) is not None:
        errors["consents"] = consent
    return errors, values


def _validate_address(address: PostalInput | None, country: str) -> dict[str, str]:
    if address is None:
        return {"postal": "address: missing"}
    for column, limit in _ADDRESS_LIMITS.items():
        invalid = f"address: invalid {column.replace('_', ' ')}"
        text = typed_text(getattr(address, column), limit, invalid, needs_letter_or_digit=True)
        if text.value is None:
            return {f"postal.{column}": text.reason or invalid}
    if address.country is not None:
        country_text = typed_text(address.country, 64, "address: unknown country")
        if country_text.value is None:
            return {"postal.country": country_text.reason or "address: unknown country"}
        if normalise_country(country_text.value) is None:
            return {"postal.country": "address: unknown country"}
    result = normalise_address(
        street=address.street,
        house_number=address.house_number,
        postal_code=address.postal_code,
        city=address.city,
        country=normalise_country(address.country) if address.country else country,
    )
    if not result.ok:
        return {f"postal.{result.column or 'street'}": result.reason or "address: invalid"}
    return {}
