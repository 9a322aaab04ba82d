"""The landing page's "stop contacting me" and "this is wrong" over HTTP: the page in both
languages, and hostile or forged forms that get a clear answer and change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from enrich.settings import Settings
from enrich.web.csrf import COOKIE
from models.tables import PROFILE
from tests.enrich.landing_helpers import client_for, csrf_of, point, submit
from tests.models.answers.personal_link_data import (
    EMAIL_OK,
    MOBILE_OK,
    POSTAL_OK,
    counts,
    make_case,
)
from tests.models.answers.test_rights import another_link

FULL: list[dict[str, Any]] = [EMAIL_OK, MOBILE_OK, POSTAL_OK]
SCRIPT = '<script>alert("x")</script>'
STOP = {"stop_contacting": "yes"}


def objected(engine: Engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(PROFILE.c.objected_at)).scalar() is not None


@pytest.mark.parametrize(
    ("lang", "heading"),
    [("nl", "Wij nemen geen contact meer met u op"), ("en", "We will not contact you again")],
)
def test_stop_contacting_me_confirms_in_the_page_language(
    settings: Settings, engine: Engine, lang: str, heading: str
) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    with client_for(settings) as client:
        form = client.get(f"/c/{case.token}?lang={lang}")
        assert 'id="stop_contacting"' in form.text and 'for="stop_contacting"' in form.text
        assert '<fieldset id="group-objection">' in form.text
        # The rest of the form is not applied: a bad email next to the tick blocks nothing.
        data = {**STOP, "lang": lang, "email_action": "change", "email": "not an email"}
        page = client.post(f"/c/{case.token}", data={"csrf_token": csrf_of(form), **data})
    assert page.status_code == 200 and f'<html lang="{lang}">' in page.text
    assert 'id="objected"' in page.text and heading in page.text
    assert objected(engine)
    assert point(engine, case.points["email"]).status == "valid"


def test_a_forged_objection_changes_nothing(settings: Settings, engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    before = counts(engine)
    tampered = case.token[:-1] + ("A" if case.token[-1] != "A" else "B")
    with client_for(settings) as client:
        token = csrf_of(client.get(f"/c/{case.token}"))
        no_csrf = client.post(f"/c/{case.token}", data=STOP)
        wrong_csrf = client.post(f"/c/{case.token}", data={**STOP, "csrf_token": "0" * 64})
        bad_link = client.post(f"/c/{tampered}", data={**STOP, "csrf_token": token})
        client.cookies.delete(COOKIE)
        no_cookie = client.post(f"/c/{case.token}", data={**STOP, "csrf_token": token})
    for response in (no_csrf, wrong_csrf, no_cookie):
        assert response.status_code == 403 and 'id="forbidden"' in response.text
    assert bad_link.status_code == 404 and 'id="link-invalid"' in bad_link.text
    assert counts(engine) == before and not objected(engine)


def test_an_expired_link_cannot_object(settings: Settings, engine: Engine) -> None:
    expired = make_case(engine, FULL, gaps=["missing_mobile"], ttl_days=1)
    with client_for(settings) as client:
        page = client.post(f"/c/{expired.token}", data=STOP)
    assert page.status_code == 404 and not objected(engine)


def test_a_used_link_can_still_object(settings: Settings, engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    with client_for(settings) as client:
        form = client.get(f"/c/{case.token}")
        first = client.post(f"/c/{case.token}", data={"csrf_token": csrf_of(form)})
        assert first.status_code == 200
        after = counts(engine)
        again = client.post(f"/c/{case.token}", data={**STOP, "csrf_token": csrf_of(form)})
    assert again.status_code == 200 and 'id="objected"' in again.text and objected(engine)
    assert counts(engine)["submission"] == after["submission"] + 1


def test_odd_objection_values_are_a_form_error(settings: Settings, engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    before = counts(engine)
    with client_for(settings) as client:
        for value in (SCRIPT, "no", "YES", "y" * 5000):
            page = submit(client, case.token, {"stop_contacting": value})
            assert page.status_code == 422, value
            assert 'id="error-objection"' in page.text and "<script>" not in page.text
            assert 'aria-describedby="error-objection"' in page.text
    assert counts(engine) == before and not objected(engine)


def test_wrong_is_offered_only_for_values_on_file(settings: Settings, engine: Engine) -> None:
    case = make_case(engine, [EMAIL_OK, POSTAL_OK], gaps=["missing_mobile"])
    before = counts(engine)
    with client_for(settings) as client:
        form = client.get(f"/c/{case.token}?lang=en").text
        assert 'id="mobile_action_wrong" value="wrong" disabled' in form
        assert 'id="email_action_wrong" value="wrong">' in form
        forced = submit(client, case.token, {"mobile_action": "wrong", "lang": "en"})
    assert forced.status_code == 422 and 'id="error-mobile"' in forced.text
    assert "nothing on file here to mark as wrong" in forced.text
    assert counts(engine) == before


def test_wrong_makes_the_value_contested_and_the_page_says_so(
    settings: Settings, engine: Engine
) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    with client_for(settings) as client:
        thanks = submit(client, case.token, {"email_action": "wrong", "email": ""})
    assert thanks.status_code == 200 and 'id="thanks"' in thanks.text
    assert point(engine, case.points["email"]).status == "contested"
    assert 'id="email-sent"' not in thanks.text  # nothing to prove: no message was sent
    with client_for(settings) as client:  # the next link shows it marked
        page = client.get(f"/c/{another_link(engine, case)}?lang=en").text
    assert 'id="contested-email"' in page and "marked as wrong by you" in page
    assert 'id="contested-mobile"' not in page
