"""How a customer checks that a request is genuine: every message and the landing page name the
organisation's published phone number and a page on its public website, to call or to type in
by hand (never a link from the message), with the message's reference
(:mod:`outreach.reference`). The wording is ``templates/asks/genuine.txt``.

The rules here check the settings (``ENRICH_TRUST_PHONE``, ``ENRICH_ORGANISATION_WEBSITE``,
``ENRICH_TRUST_WEB_PATH``): the values go into every message, so nothing but a phone number, an
https address and a plain path gets in.
"""

from __future__ import annotations

import re
from typing import Annotated, Final
from urllib.parse import urlsplit

from pydantic import AfterValidator

_PHONE: Final = re.compile(r"[0-9 +()\-]{3,30}")
_PATH: Final = re.compile(r"/[A-Za-z0-9._~/\-]{0,200}")
_HOST: Final = re.compile(r"[A-Za-z0-9.\-]{1,253}")


def published_phone(value: str) -> str:
    """A phone number as it is printed: digits, spaces, ``+``, ``-`` and parentheses."""
    value = " ".join(value.split())
    if not _PHONE.fullmatch(value) or sum(c.isdigit() for c in value) < 3:
        raise ValueError("must be a phone number: digits, spaces, +, - and parentheses only")
    return value


def website(value: str) -> str:
    """An https address of a site, without a path: ``https://www.example.org``."""
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if (
        parts.scheme != "https"
        or not _HOST.fullmatch(parts.netloc)
        or "." not in parts.netloc
        or parts.path
        or parts.query
        or parts.fragment
    ):
        raise ValueError("must be an https address without a path, like https://www.example.org")
    return value


def web_path(value: str) -> str:
    """A path on the website: ``/contact-check`` (letters, digits, ``/ . _ ~ -``)."""
    value = value.strip()
    if not _PATH.fullmatch(value) or value.startswith("//"):
        raise ValueError("must be a path starting with /, like /contact-check")
    return value


PublishedPhone = Annotated[str, AfterValidator(published_phone)]
WebsiteUrl = Annotated[str, AfterValidator(website)]
WebPath = Annotated[str, AfterValidator(web_path)]


def trust_values(organisation: str, phone: str, site: str, path: str) -> dict[str, str]:
    """What the templates see as ``trust``: ``organisation``, ``phone``, ``website``, ``path``,
    ``url`` (website and path) and ``address`` (the url as a person types it, no https://)."""
    url = site.rstrip("/") + path
    return {
        "organisation": organisation,
        "phone": phone,
        "website": site,
        "path": path,
        "url": url,
        "address": url.removeprefix("https://"),
    }
