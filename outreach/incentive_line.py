"""The headline of a campaign's incentive that a message carries (``Message.incentive``), in the
language the message is written in: the renderer's choice of locale (:func:`choose_locale`
among the languages with a catalogue), then that language's terms file, else the default's.

An SMS carries it only when it is in the GSM-7 alphabet (one other character would make every
part of the text shorter): else the SMS does not mention the incentive. Terms that cannot be
read (``enrich check`` names them) leave the message without a mention rather than stopping it.
"""

from __future__ import annotations

from models.campaigns.spec import CampaignSpec
from models.incentives.terms import TermsError, terms_for
from outreach.config import OutreachConfig
from outreach.i18n import choose_locale, renderable_languages
from outreach.segments import encoding


class IncentiveLines:
    """Headlines by (locale, channel) for one campaign version, each terms file read once."""

    def __init__(
        self,
        config: OutreachConfig,
        spec: CampaignSpec,
        languages: tuple[str, ...] | None = None,
    ) -> None:
        self.config = config
        self.spec = spec
        # A renderer's languages when the caller has one; else looked up, only if needed.
        self._languages = languages
        self._by_language: dict[str, str | None] = {}

    @property
    def languages(self) -> tuple[str, ...]:
        if self._languages is None:
            cfg = self.config
            self._languages = renderable_languages(
                cfg.templates_dir, cfg.supported_locales, cfg.default_locale
            )
        return self._languages

    def headline(self, locale: str | None, channel: str) -> str | None:
        incentive = self.spec.incentive
        if incentive is None:
            return None
        default = self.config.default_locale
        language = choose_locale(locale, self.languages, default).locale
        if language not in self._by_language:
            try:
                terms = terms_for(self.config.templates_dir, incentive, language, default)
                self._by_language[language] = terms.headline
            except TermsError:
                self._by_language[language] = None
        found = self._by_language[language]
        if found is not None and channel == "sms" and encoding(found) != "GSM-7":
            return None
        return found
