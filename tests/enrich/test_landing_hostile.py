"""Hostile input on the landing page: each gets a clear 4xx or a form error, and changes nothing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from enrich.settings import Settings, get_settings
from enrich.web.csrf import COOKIE
from tests.enrich.landing_helpers import NOTICE, client_for, csrf_of, email_text, emails, submit
from tests.models.answers.personal_link_data import (
    EMAIL_OK,
    MOBILE_OK,
    POSTAL_OK,
    counts,
    make_case,
)

FULL: list[dict[str, Any]] = [EMAIL_OK, MOBILE_OK, POSTAL_OK]
SCRIPT = '<script>alert("x")</script><b onmouseover=alert(1)>'
FIELDS = ("email", "mobile", "street", "house_number", "postal_code", "city", "country")


def test_script_in_every_field_is_escaped_and_changes_nothing(
    settings: Settings, engine: Engine
) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    before = counts(engine)
    data = {name: SCRIPT for name in FIELDS}
    data |= {"email_action": "change", "mobile_action": "change", "postal_action": "change"}
    data |= {"consent_service": SCRIPT, "lang": SCRIPT}
    with client_for(settings) as client:
        page = submit(client, case.token, data)
        assert page.status_code == 422
        assert "<script>" not in page.text and "<b onmouseover" not in page.text
        assert "&lt;script&gt;" in page.text  # the typed value is kept, escaped
        assert 'id="error-consents"' in page.text
        # Without the bad consent the fields themselves are refused, each next to its input.
        del data["consent_service"]
        page = submit(client, case.token, data)
        assert page.status_code == 422 and "<script>" not in page.text
        for name in ("email", "mobile"):
            assert f'id="error-{name}"' in page.text
            assert f'aria-describedby="error-{name}"' in page.text
        assert 'id="error-street"' in page.text
    assert counts(engine) == before


def test_unknown_action_and_oversized_field_are_form_errors(
    settings: Settings, engine: Engine
) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    before = counts(engine)
    with client_for(settings) as client:
        odd = submit(client, case.token, {"email_action": "delete"})
        big = submit(client, case.token, {"email_action": "change", "email": "a" * 10_000})
        empty = submit(client, case.token, {"email_action": "change"})
    assert odd.status_code == 422 and 'id="error-email"' in odd.text and "delete" not in odd.text
    assert big.status_code == 422 and 'id="error-email"' in big.text
    assert empty.status_code == 422 and 'id="error-email"' in empty.text
    assert counts(engine) == before


def test_missing_or_wrong_csrf_is_403_and_changes_nothing(
    settings: Settings, engine: Engine
) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    before = counts(engine)
    form = {"postal_action": "confirm"}
    with client_for(settings) as client:
        page = client.get(f"/c/{case.token}")
        token = csrf_of(page)
        missing = client.post(f"/c/{case.token}", data=form)
        wrong = client.post(f"/c/{case.token}", data={**form, "csrf_token": "0" * 64})
        client.cookies.delete(COOKIE)
        no_cookie = client.post(f"/c/{case.token}", data={**form, "csrf_token": token})
    with client_for(settings) as other:  # another browser's cookie does not fit this token
        other.get(f"/c/{case.token}")
        foreign = other.post(f"/c/{case.token}", data={**form, "csrf_token": token})
    for response in (missing, wrong, no_cookie, foreign):
        assert response.status_code == 403 and 'id="forbidden"' in response.text
    assert counts(engine) == before


def test_tampered_tokens_are_404_and_a_used_link_takes_more(
    settings: Settings, engine: Engine
) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    tampered = case.token[:-1] + ("A" if case.token[-1] != "A" else "B")
    with client_for(settings) as client:
        page = client.get(f"/c/{case.token}")
        form = {"csrf_token": csrf_of(page), "postal_action": "confirm"}
        assert client.get(f"/c/{tampered}").status_code == 404
        assert client.post(f"/c/{tampered}", data=form).status_code == 404
        assert client.get("/c/" + "x" * 500).status_code == 404
        assert client.get("/c/%C3%A9%00").status_code == 404
        assert client.post(f"/c/{case.token}", data=form).status_code == 200
        after = counts(engine)
        replay = client.post(f"/c/{case.token}", data=form)  # the same form, sent again
        changed = client.post(
            f"/c/{case.token}", data={**form, "email_action": "change", "email": "x@example.nl"}
        )
    # The link stays usable until it expires: the same form again, and then a new address.
    assert replay.status_code == 200 and changed.status_code == 200
    assert 'id="state-email" class="state state-pending"' in changed.text
    now = counts(engine)
    assert now["submission"] == after["submission"] + 2
    assert now["contact_point"] == after["contact_point"] + 1


def test_a_link_used_up_asks_to_contact_us_and_changes_nothing(
    settings: Settings, engine: Engine
) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    limited = settings.model_copy(update={"link_max_submissions": 2})
    with client_for(limited) as client:
        for _ in range(2):
            assert submit(client, case.token, {"postal_action": "confirm"}).status_code == 200
        before = counts(engine)
        more = submit(client, case.token, {"email_action": "change", "email": "x@example.nl"})
    assert more.status_code == 429 and 'id="link-limit"' in more.text
    assert "x@example.nl" not in more.text
    assert counts(engine) == before  # no new value, no confirmation sent, no submission


def test_expired_token_is_404(settings: Settings, engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"], ttl_days=1)
    with client_for(settings) as client:
        page = client.get(f"/c/{case.token}")
    assert page.status_code == 404 and 'id="link-invalid"' in page.text


@pytest.fixture
def small(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("ENRICH_MAX_BODY_BYTES", "4096")
    monkeypatch.setenv("ENRICH_LANDING_RATE_LIMIT", "5")
    # Long windows (aligned on the epoch): the test's requests never straddle two of them.
    monkeypatch.setenv("ENRICH_LANDING_RATE_WINDOW_SECONDS", str(10**8))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_oversized_body_is_413(small: Settings, engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    before = counts(engine)
    with client_for(small) as client:
        page = client.get(f"/c/{case.token}")
        response = client.post(
            f"/c/{case.token}",
            data={"csrf_token": csrf_of(page), "email_action": "change", "email": "a" * 8000},
        )
    assert response.status_code == 413
    assert counts(engine) == before


def test_rate_limit_answers_429_with_retry_after(small: Settings, engine: Engine) -> None:
    with client_for(small) as client:
        answers = [client.get("/c/unknown-token").status_code for _ in range(5)]
        limited = client.get("/c/unknown-token")
        code = client.post("/code", data={})
    assert answers == [404] * 5
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert code.status_code == 429


def test_two_parallel_submissions_apply_one_after_the_other(
    settings: Settings, engine: Engine
) -> None:
    case = make_case(engine, FULL, gaps=["missing_mobile"])
    clients = [client_for(settings) for _ in range(2)]
    forms = []
    for client in clients:
        client.__enter__()
        page = client.get(f"/c/{case.token}")
        forms.append({"csrf_token": csrf_of(page), "postal_action": "confirm",
                      **dict(NOTICE.findall(page.text)),
                      "consent_service_email": "granted"})  # fmt: skip
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def post(index: int) -> None:
        barrier.wait()
        statuses.append(clients[index].post(f"/c/{case.token}", data=forms[index]).status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for client in clients:
        client.__exit__(None, None, None)
    assert sorted(statuses) == [200, 200]
    assert counts(engine)["submission"] == 2
    assert counts(engine)["consent"] == 2  # each answer is kept, with its own submission


def test_forged_challenge_on_code_is_refused(settings: Settings, engine: Engine) -> None:
    case = make_case(engine, [EMAIL_OK, POSTAL_OK], gaps=["missing_mobile"])
    with client_for(settings) as client:
        thanks = submit(client, case.token, {"mobile_action": "change", "mobile": "0687654321"})
        token = csrf_of(thanks)
        before = counts(engine)
        for challenge in ("1.1.00", f"{case.profile_id}.1", "x" * 200, ""):
            response = client.post(
                "/code", data={"csrf_token": token, "challenge": challenge, "code": "123456"}
            )
            assert response.status_code == 404, challenge
        no_csrf = client.post("/code", data={"challenge": "1.1.00", "code": "123456"})
        assert no_csrf.status_code == 403
    assert counts(engine) == before  # no attempt was counted on any challenge


def test_email_confirmation_needs_csrf(settings: Settings, engine: Engine) -> None:
    case = make_case(engine, FULL, gaps=["bounced_email"])
    with client_for(settings) as client:
        submit(client, case.token, {"email_action": "change", "email": "nieuw@example.nl"})
        link = email_text(emails(settings)[0]).split("https://enrich.example.org", 2)[1].split()[0]
        before = counts(engine)
        refused = client.post(link, data={"csrf_token": "0" * 64})
    assert refused.status_code == 403
    assert counts(engine) == before
