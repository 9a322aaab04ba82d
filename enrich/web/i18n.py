"""Landing-page text in every supported language, from the gettext catalogues.

The page templates mark their own text (``_()``, ``{% trans %}``); the texts chosen in Python
(page titles, validation messages, consent channel names) are marked here with ``N_`` and
translated when shown (:class:`PageText`). The catalogues are ``templates/locales/`` (see
:mod:`outreach.i18n`): ``make messages-extract`` reads this module as well as the templates.

The page's language is ``?lang=`` (or the form's) when that is a page language, else the locale
of the message the customer came from, else the default. Validation reasons are mapped to human
text here; they never quote input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from gettext import NullTranslations

from models.consent.record import NOT_OFFERED, NOTICE_CHANGED
from models.contact_data.validation import (
    TEXT_CONTROL,
    TEXT_DIRECTION,
    TEXT_NO_LETTER,
    TEXT_UNREADABLE,
)
from models.incentives.entries import CLOSED as INCENTIVE_CLOSED
from models.incentives.entries import NOT_OFFERED as INCENTIVE_NOT_OFFERED
from models.incentives.entries import TERMS_CHANGED as INCENTIVE_CHANGED
from outreach.i18n import LANGUAGE_NAMES, choose_locale

__all__ = ["LANGUAGES", "LANGUAGE_NAMES", "PageText", "choose_language", "error_text"]

# The languages shipped with catalogues; an installation's are its supported locales that have
# one (Settings.supported_locales, checked by `enrich check`).
LANGUAGES = tuple(LANGUAGE_NAMES)


def N_(message: str) -> str:  # the marker name gettext tools look for
    """Marks ``message`` for extraction; it is translated when shown."""
    return message


# Text the Python side picks by key; every value is an English msgid.
TEXT = {
    "objected_title": N_("We will not contact you again"),
    "objected_text": N_(
        "We have recorded your objection. You will receive no further messages from us to "
        "check your details. You can close this page."
    ),
    "code_locked": N_(
        "Too many wrong codes. Please request a new code through the link in our message."
    ),
    "code_expired": N_(
        "This code has expired. Please request a new code through the link in our message."
    ),
    "mobile_verified_title": N_("Your mobile number is confirmed"),
    "mobile_verified_text": N_("Thank you. You can close this page."),
    "email_verified_title": N_("Your email address is confirmed"),
    "email_verified_text": N_("Thank you. You can close this page."),
    "invalid_title": N_("This link does not work (any more)"),
    "invalid_text": N_(
        "The link is unknown, has expired or has already been used. If you recently received "
        "a new message from us, please use the link in it, or contact us."
    ),
    "forbidden_title": N_("Form expired"),
    "forbidden_text": N_(
        "The form could not be verified. Please open the link again and retry. Nothing was changed."
    ),
    "too_many_title": N_("Please wait"),
    "too_many_text": N_("Too many requests. Please try again in a minute."),
    "unsubscribed_title": N_("You are unsubscribed"),
    "unsubscribed_text": N_(
        "We will not email this address again. You can change this at any time through the "
        "link in a letter or text message from us."
    ),
    "err_objection": N_("Please tick the box or leave it empty."),
    "err_nothing_to_contest": N_("There is nothing on file here to mark as wrong."),
    "err_email": N_("This email address is not valid."),
    "err_email_empty": N_("Please enter an email address."),
    "err_mobile": N_("This is not a valid mobile number."),
    "err_mobile_empty": N_("Please enter a mobile number."),
    "err_postal": N_("This address is incomplete or not valid."),
    "err_street": N_("Please enter a valid street."),
    "err_house_number": N_("Please enter a valid house number."),
    "err_postal_code": N_("This postal code is not valid."),
    "err_city": N_("Please enter a valid city."),
    "err_country": N_("We do not know this country."),
    "err_nothing_to_confirm": N_("There is nothing to confirm yet; choose Change or add."),
    "err_action": N_("Please choose one of the options."),
    "err_none_and_value": N_(
        "You chose that you do not have one, but also typed one. Please choose one of the two."
    ),
    "link_limit_title": N_("This link has been used many times"),
    "link_limit_text": N_(
        "To protect your details, this link cannot be used for more changes. Please contact us "
        "if something still needs to change."
    ),
    "err_consents": N_("Please choose one of the options for each consent."),
    "err_consents_changed": N_(
        "The consent questions changed since you opened this page. Nothing was saved; please "
        "check them again and send the form once more."
    ),
    "err_text_control": N_(
        "This contains an invisible control character. Please type it again, preferably "
        "without copying and pasting."
    ),
    "err_text_direction": N_(
        "This contains an invisible character that reverses the direction of the text. Please "
        "type it again, preferably without copying and pasting."
    ),
    "err_text_unreadable": N_(
        "This contains a character that cannot be read (\ufffd). Please type it again."
    ),
    "err_text_no_letter": N_(
        "Please enter at least one letter or digit; emoji, symbols or punctuation alone are "
        "not enough."
    ),
    "err_incentive": N_("Please tick the box or leave it empty."),
    "err_incentive_changed": N_(
        "The terms of this offer changed since you opened this page. Nothing was saved; please "
        "read them again and send the form once more."
    ),
    "err_incentive_closed": N_("This offer is no longer open to you through this link."),
    "consent_email": N_("By email"),
    "consent_sms": N_("By text message"),
    "consent_letter": N_("By post"),
}
# Refused characters get their own text, whatever the field: the customer must learn what to fix.
_TEXT_REASONS = (
    (TEXT_CONTROL, "err_text_control"),
    (TEXT_DIRECTION, "err_text_direction"),
    (TEXT_UNREADABLE, "err_text_unreadable"),
    (TEXT_NO_LETTER, "err_text_no_letter"),
    ("email syntax: no letter or digit", "err_text_no_letter"),
)


@dataclass(frozen=True)
class PageText:
    """The Python side's text in one language: ``text[key]`` is :data:`TEXT` translated."""

    language: str
    translations: NullTranslations

    def __getitem__(self, key: str) -> str:
        return self.translations.gettext(TEXT[key])

    def __contains__(self, key: object) -> bool:
        return key in TEXT

    def attempts_left(self, n: int) -> str:
        return self.translations.ngettext(
            "This code is not correct. You can try %(num)d more time.",
            "This code is not correct. You can try %(num)d more times.",
            n,
        ) % {"num": n}


def choose_language(
    requested: object, message_locale: str | None, languages: Iterable[str], default: str
) -> str:
    """``requested`` when it is one of ``languages`` (anything else is ignored), else the
    locale of the customer's message (its language), else ``default``."""
    languages = tuple(languages)
    if isinstance(requested, str) and requested in languages:
        return requested
    return choose_locale(message_locale, languages, default).locale.split("-")[0]


def error_text(field: str, reason: str, text: PageText) -> str:
    """Human text for one validation reason of ``field`` (email, mobile, street, ...)."""
    if reason == "unknown action":
        return text["err_action"]
    if "nothing to confirm" in reason:
        return text["err_nothing_to_confirm"]
    if "nothing to mark wrong" in reason:
        return text["err_nothing_to_contest"]
    if reason.endswith(": none and a value"):
        return text["err_none_and_value"]
    if reason.endswith(": cannot be declined"):
        return text["err_action"]
    if reason in (NOT_OFFERED, NOTICE_CHANGED):  # a stale or altered form: it says what happened
        return text["err_consents_changed"]
    if reason in (INCENTIVE_NOT_OFFERED, INCENTIVE_CHANGED):  # the incentive's, likewise
        return text["err_incentive_changed"]
    if reason == INCENTIVE_CLOSED:
        return text["err_incentive_closed"]
    for prefix, key in _TEXT_REASONS:
        if reason.startswith(prefix):
            return text[key]
    if reason.endswith(": empty") and f"err_{field}_empty" in text:
        return text[f"err_{field}_empty"]
    return text[f"err_{field}"] if f"err_{field}" in text else text["err_postal"]
