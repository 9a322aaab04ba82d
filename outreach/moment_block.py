"""The re-ask block another system embeds at a contact moment: text, an HTML fragment safe to put
in its email or letter (inline styles, no scripts, every value escaped) and the QR code as SVG.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

from models.campaigns.asks import Ask
from outreach.qr import qr_svg
from outreach.render import Renderer

TEMPLATE = "ask"  # templates/moment/ask.{txt,html}, in the language of the catalogues
QR_SIZE = "30mm"  # the smallest size phone cameras read reliably from paper at arm's length


@dataclass(frozen=True)
class MomentBlock:
    locale: str  # the locale the block was written in (after fallback)
    text: str
    html: str
    qr_svg: str  # a standalone SVG document encoding ``link``


def render_moment_block(
    renderer: Renderer,
    *,
    locale: str,
    channel: str,
    context: str,
    link: str,
    expires_at: datetime,
    asks: tuple[Ask, ...] = (),
    outreach_id: int | None = None,
    incentive: str | None = None,
) -> MomentBlock:
    """The block in the customer's language, naming what ``asks`` asks of them (none: generic
    wording); the HTML shows the QR code only for letters (most email clients do not display
    inline SVG, and a reader of an email clicks the link). With ``outreach_id`` the block
    quotes its reference (``M-000123-0``, :mod:`outreach.reference`)."""
    svg = qr_svg(link, size=QR_SIZE)
    rendered = renderer.moment(
        TEMPLATE,
        locale,
        # qr_svg is our own markup (numbers only); everything else is escaped by the template.
        {
            "channel": channel,
            "context": context,
            "link": link,
            "qr_svg": Markup(svg),
            "asks": list(asks),
            # The campaign's incentive headline (outreach.incentive_line), None without one.
            "incentive": incentive,
        },
        valid_until=expires_at.date(),
        outreach_id=outreach_id,
    )
    return MomentBlock(locale=rendered.locale, text=rendered.text, html=rendered.html, qr_svg=svg)
