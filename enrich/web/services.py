"""What every request of the web app shares, built once per process by the app factory.

One Jinja2 environment (the renderer's) for the landing pages, the contact-moment blocks and
the confirmation messages; the channels the confirmations go out on, with the short timeout
of ``ENRICH_CONFIRMATION_*`` because a customer waits for the page; and the rate limiter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from enrich.runtime import confirmation_config, get_engine, outreach_config
from enrich.settings import Settings
from enrich.web.pages import Pages
from enrich.web.ratelimit import SharedFixedWindow
from outreach.channels import Channel, build_channels
from outreach.render import Renderer


@dataclass(frozen=True)
class WebServices:
    renderer: Renderer
    pages: Pages
    channels: Mapping[str, Channel]  # for confirmation links and codes
    limiter: SharedFixedWindow


def build_services(settings: Settings) -> WebServices:
    """Raises :class:`~outreach.errors.ConfigurationError` naming the variable when a chosen
    provider lacks its credentials, so a misconfigured server refuses to start."""
    renderer = Renderer(outreach_config(settings))
    return WebServices(
        renderer=renderer,
        pages=Pages(settings, renderer),
        channels=build_channels(confirmation_config(settings), renderer),
        limiter=SharedFixedWindow(
            get_engine(settings),
            limit=settings.landing_rate_limit,
            window=settings.landing_rate_window_seconds,
            secret=settings.secret_key.get_secret_value().encode(),
        ),
    )
