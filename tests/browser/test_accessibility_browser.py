"""Accessibility of every customer page in every language, in a real browser.

axe-core (pinned by ``tests/browser/package-lock.json``, installed by ``make setup``) checks each
page a customer can reach against WCAG 2.1 A and AA; a customer completes the whole form with the
keyboard alone, seeing where the focus is; and the form still works at 200 % zoom (640 CSS px of
a 1280 px window) and reflowed to 320 CSS px (WCAG 1.4.10) without scrolling sideways.

A failure names the page, the rule and the element's selector: never the page's text, which
holds the customer's (masked) data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page
from sqlalchemy.engine import Engine

from enrich.settings import Settings
from enrich.web.i18n import LANGUAGES
from tests.browser.test_landing_browser import (
    BOUNCED_EMAIL,
    INVALID_MOBILE,
    NEW_EMAIL,
    NEW_MOBILE,
    NEW_MOBILE_TYPED,
    fresh_case,
    link,
    newest_email_to,
    newest_sms_to,
)
from tests.conftest import IN_CI
from tests.models.answers.personal_link_data import POSTAL_OK
from tests.paths import REPO

pytestmark = pytest.mark.browser

AXE_JS = REPO / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
CODE = re.compile(r"(?<![\w-])\d{6}(?![\w-])")
CONFIRM_LINK = re.compile(r"https?://\S+/e/[A-Za-z0-9_\-]+")
# What axe reports of each violation: the rule and where, never the element's HTML or text.
RUN_AXE = """async (tags) => {
  if (typeof axe === 'undefined') throw new Error('axe-core was not loaded into the page');
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact,
    targets: v.nodes.map(n => n.target.map(String).join(' >> ')),
  }));
}"""
FOCUS = """() => {
  const el = document.activeElement, style = getComputedStyle(el);
  return {id: el.id, name: el.getAttribute('name') || '', tag: el.tagName.toLowerCase(),
          type: el.type || '', checked: !!el.checked, visible: el.matches(':focus-visible'),
          outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0};
}"""
# Every control a customer can use, with where it is on the screen.
CONTROLS = """() => [...document.querySelectorAll('input, button, select, textarea, a[href]')]
  .filter(el => el.type !== 'hidden')
  .map(el => { const r = el.getBoundingClientRect();
    return {id: el.id || el.name || el.tagName.toLowerCase() + ':' + (el.hreflang || ''),
            left: r.left, right: r.right, width: r.width, height: r.height}; })"""

# How wide the page is, and the innermost elements that stick out or overflow (named by tag, id
# and class: a failure quotes no text).
SIDEWAYS = """() => {
  const width = window.innerWidth;
  const wide = [...document.body.querySelectorAll('*')].filter(el =>
    el.getBoundingClientRect().right > width
    || (el.clientWidth > 0 && el.scrollWidth > el.clientWidth && !el.matches('input')));
  const innermost = wide.filter(el => !wide.some(other => other !== el && el.contains(other)));
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + [...el.classList].map(c => '.' + c).join('');
  return [document.scrollingElement.scrollWidth, width, innermost.slice(0, 5).map(name)];
}"""


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """One database engine is enough here: what is checked is the page, not the storage."""
    return sqlite_url


@pytest.fixture(scope="session")
def axe_script() -> Path:
    if not AXE_JS.exists():
        message = f"axe-core not installed at {AXE_JS.relative_to(REPO)}; run `make setup`"
        if IN_CI:
            pytest.fail(f"The accessibility tests must run in CI: {message}", pytrace=False)
        pytest.skip(message)
    return AXE_JS


def _without_values(selector: str) -> str:
    """A selector with attribute values dropped: ``input[value="..."]`` becomes ``input[value]``."""
    return re.sub(r"""\[([\w:-]+)[~|^$*]?=(?:"[^"]*"|'[^']*'|[^\]]*)\]""", r"[\1]", selector)


class Audit:
    """Runs axe on each page reached and collects the violations, by page."""

    def __init__(self) -> None:
        self.found: dict[str, list[str]] = {}

    def check(self, page: Page, name: str) -> None:
        violations: list[dict[str, Any]] = page.evaluate(RUN_AXE, WCAG_21_AA)
        for v in violations:
            targets = ", ".join(_without_values(t) for t in v["targets"][:5])
            self.found.setdefault(name, []).append(f"{v['id']} ({v['impact']}): {targets}")

    def report(self) -> str:
        return "\n".join(
            f"{page}:\n  " + "\n  ".join(rules) for page, rules in sorted(self.found.items())
        )


@pytest.fixture
def audit() -> Audit:
    return Audit()


@pytest.fixture
def axe_page(new_context: Callable[..., BrowserContext], axe_script: Path) -> Page:
    """A page that loads axe into every document it opens. The pages' policy allows no script;
    axe is the test's own, let in past it."""
    context = new_context(bypass_csp=True)
    context.add_init_script(path=axe_script)
    return context.new_page()


def code_from_outbox(settings: Settings) -> str:
    codes = CODE.findall(newest_sms_to(settings.resolved_outbox_dir, NEW_MOBILE))
    assert len(codes) == 1, "the SMS holds one 6-digit code"
    return str(codes[0])


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def grant_required_consents(page: Page) -> None:
    for box in page.locator("input[type=radio][id^=consent_service_][id$=_granted]").all():
        box.check()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_answer_pages_pass_axe(
    axe_page: Page, audit: Audit, live_server: str, settings: Settings, engine: Engine, lang: str
) -> None:
    """The form, its errors, thanks with the code form, a wrong code, the verified pages, the
    email confirmation and the page of a used link."""
    page = axe_page
    case = fresh_case(engine, [BOUNCED_EMAIL, INVALID_MOBILE, POSTAL_OK], gaps=["bounced_email"])
    page.goto(f"{link(live_server, case)}?lang={lang}")
    assert page.evaluate("document.documentElement.lang") == lang
    audit.check(page, "form")

    page.check("#email_action_change")
    page.fill("#email", "not-an-address")
    page.fill("#postal_code", "?")
    page.click("#submit")
    page.locator("#error-email").wait_for()
    audit.check(page, "form with errors")

    page.fill("#email", NEW_EMAIL)
    page.fill("#postal_code", "")
    page.check("#postal_action_confirm")
    page.check("#mobile_action_change")
    page.fill("#mobile", NEW_MOBILE_TYPED)
    grant_required_consents(page)
    page.click("#submit")
    page.locator("#thanks").wait_for()
    assert page.locator("#email-sent").is_visible() and page.locator("#code-form").is_visible()
    audit.check(page, "thanks, with the code form")

    code = code_from_outbox(settings)
    page.fill("#code", wrong(code))
    page.click("#code-submit")
    page.locator("#error-code").wait_for()
    audit.check(page, "wrong code")
    page.fill("#code", code)
    page.click("#code-submit")
    page.locator("#mobile-verified").wait_for()
    audit.check(page, "mobile verified")

    found = CONFIRM_LINK.search(newest_email_to(settings.resolved_outbox_dir, NEW_EMAIL))
    assert found, "the confirmation email holds an /e/ link"
    page.goto(f"{found.group(0)}?lang={lang}")
    page.locator("#email-confirm").wait_for()
    audit.check(page, "email confirmation")
    page.click("#confirm")
    page.locator("#email-verified").wait_for()
    audit.check(page, "email verified")

    page.goto(f"{found.group(0)}?lang={lang}")  # used: the one page for any dead link
    page.locator("#link-invalid").wait_for()
    audit.check(page, "used or unknown link")

    assert audit.found == {}, f"WCAG 2.1 AA violations ({lang}):\n{audit.report()}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_rights_pages_pass_axe(
    axe_page: Page, audit: Audit, live_server: str, engine: Engine, lang: str
) -> None:
    """Unsubscribe and its answer, a tampered form (refused) and "stop contacting me"."""
    page = axe_page
    case = fresh_case(engine, [BOUNCED_EMAIL, INVALID_MOBILE, POSTAL_OK], gaps=["bounced_email"])
    page.goto(f"{live_server}/u/{case.token}?lang={lang}")
    page.locator("#unsubscribe").wait_for()
    audit.check(page, "unsubscribe")
    page.click("#unsubscribe-button")
    page.locator("#unsubscribed").wait_for()
    audit.check(page, "unsubscribed")

    page.goto(f"{link(live_server, case)}?lang={lang}")
    page.context.clear_cookies()  # the form's anti-forgery cookie is gone
    page.click("#submit")
    page.locator("#forbidden").wait_for()
    audit.check(page, "refused form")

    page.goto(f"{link(live_server, case)}?lang={lang}")
    page.check("#stop_contacting")
    page.click("#submit")
    page.locator("#objected").wait_for()
    audit.check(page, "objected")

    assert audit.found == {}, f"WCAG 2.1 AA violations ({lang}):\n{audit.report()}"


# -- the keyboard alone -----------------------------------------------------------------------

# What the keyboard customer chooses in each radio group (a consent: grant it).
CHOICES = {"email_action": "change", "mobile_action": "change", "postal_action": "confirm"}
TYPED = {"email": NEW_EMAIL, "mobile": NEW_MOBILE_TYPED}


def focused(page: Page) -> dict[str, Any]:
    """The focused element; it must show that it has the focus."""
    info: dict[str, Any] = page.evaluate(FOCUS)
    where = info["id"] or info["name"] or info["tag"]
    assert info["visible"] and info["outline"], f"no visible focus on {where}"
    return info


def choose_by_arrows(page: Page, name: str, value: str) -> None:
    """Arrow keys move through a radio group and select as they go (disabled ones skipped)."""
    for _ in range(8):
        info = focused(page)
        if info["id"] == f"{name}_{value}" and info["checked"]:
            return
        page.keyboard.press("ArrowDown")
    pytest.fail(f"the arrow keys never reached {name}_{value}")


def tab_through_form(page: Page) -> list[str]:
    """Tab from the top to the submit button, choosing and typing on the way; returns the
    controls reached."""
    reached: list[str] = []
    for _ in range(120):
        page.keyboard.press("Tab")
        info = focused(page)
        name, key = info["name"], info["id"] or info["name"]
        reached.append(key)
        if info["type"] == "radio":
            if name in CHOICES:
                choose_by_arrows(page, name, CHOICES[name])
            elif name.startswith("consent_"):
                choose_by_arrows(page, name, "granted")
            reached[-1] = name
        elif info["id"] in TYPED:
            page.keyboard.type(TYPED[info["id"]])
        elif info["id"] == "submit":
            return reached
    pytest.fail(f"Tab never reached the submit button: {reached}")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_whole_form_with_the_keyboard_alone(
    page: Page, live_server: str, settings: Settings, engine: Engine, lang: str
) -> None:
    case = fresh_case(engine, [BOUNCED_EMAIL, INVALID_MOBILE, POSTAL_OK], gaps=["bounced_email"])
    page.goto(f"{link(live_server, case)}?lang={lang}")
    reached = tab_through_form(page)
    everything = page.evaluate(
        """() => [...document.querySelectorAll('#landing-form input, #landing-form button')]
            .filter(el => el.type !== 'hidden' && !el.disabled)
            .map(el => el.type === 'radio' ? el.name : el.id)"""
    )
    assert set(everything) <= set(reached), f"Tab skipped {sorted(set(everything) - set(reached))}"
    assert page.locator("#email").input_value() == NEW_EMAIL
    assert page.is_checked("#postal_action_confirm")
    # Shift+Tab goes back the same way.
    page.keyboard.press("Shift+Tab")
    assert focused(page)["id"] == "stop_contacting"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.locator("#thanks").wait_for()
    assert page.locator("#email-sent").is_visible(), "the new email address was taken"

    page.keyboard.press("Tab")
    for _ in range(10):
        if focused(page)["id"] == "code":
            break
        page.keyboard.press("Tab")
    assert focused(page)["id"] == "code", "Tab never reached the code field"
    page.keyboard.type(code_from_outbox(settings))
    page.keyboard.press("Enter")
    page.locator("#mobile-verified").wait_for()


# -- zoom and reflow ------------------------------------------------------------------------

# A 1280 px wide window at 200 % zoom lays the page out in 640 CSS px, each drawn with two
# device pixels; WCAG 1.4.10 reflow asks for 320 CSS px (1280 px at 400 %, or a small phone).
ZOOM_200 = {"width": 640, "height": 400}
REFLOW_320 = {"width": 320, "height": 640}


def assert_fits(page: Page, where: str) -> None:
    scroll_width, width, wide = page.evaluate(SIDEWAYS)
    assert scroll_width <= width, f"{where}: scrolls sideways ({scroll_width} > {width}): {wide}"
    for control in page.evaluate(CONTROLS):
        assert control["width"] > 0 and control["height"] > 0, f"{where}: {control['id']} hidden"
        assert control["left"] >= 0 and control["right"] <= width, (
            f"{where}: {control['id']} is cut off ({control['left']:.0f}-{control['right']:.0f}"
            f" of {width} CSS px)"
        )


def assert_fits_both(page: Page, where: str) -> None:
    """Fits at 200 % zoom and at 320 px; the page is left at 200 %."""
    page.set_viewport_size(REFLOW_320)
    assert_fits(page, f"{where}, 320 px")
    page.set_viewport_size(ZOOM_200)
    assert_fits(page, f"{where}, 200 % zoom")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_form_at_200_percent_zoom_and_320_px(
    new_context: Callable[..., BrowserContext], live_server: str, engine: Engine, lang: str
) -> None:
    page = new_context(viewport=ZOOM_200, device_scale_factor=2).new_page()
    case = fresh_case(engine, [BOUNCED_EMAIL, INVALID_MOBILE, POSTAL_OK], gaps=["bounced_email"])
    page.goto(f"{link(live_server, case)}?lang={lang}")
    assert_fits_both(page, "form")
    page.set_viewport_size(REFLOW_320)  # a refused answer, sent from the narrow screen
    page.check("#email_action_change")
    page.fill("#email", "not-an-address")
    page.click("#submit")  # Playwright clicks only what is visible, enabled and not covered
    page.locator("#error-email").wait_for()
    assert_fits_both(page, "form with errors")
    page.fill("#email", NEW_EMAIL)  # the answer, sent at 200 % zoom
    page.check("#postal_action_confirm")
    page.check("#mobile_action_change")
    page.fill("#mobile", NEW_MOBILE_TYPED)
    grant_required_consents(page)
    page.click("#submit")
    page.locator("#thanks").wait_for()
    assert_fits_both(page, "thanks, with the code form")
