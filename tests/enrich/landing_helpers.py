"""Shared helpers for the landing-page tests: a client, the CSRF field, the outboxes."""

from __future__ import annotations

import json
import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.engine import Engine
from sqlmodel import Session

from enrich.settings import Settings
from enrich.web.app import create_app
from models.tables import ContactPoint, Enrollment

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
CHALLENGE = re.compile(r'name="challenge" value="([^"]+)"')
NOTICE = re.compile(r'name="(notice_[a-z0-9_-]+)" value="([^"]*)"')


def client_for(settings: Settings) -> TestClient:
    # https: the CSRF cookie is Secure because the test base URL is https.
    return TestClient(create_app(settings), base_url="https://testserver")


def csrf_of(response: Response) -> str:
    match = CSRF.search(response.text)
    assert match, response.text
    return match.group(1)


def submit(client: TestClient, token: str, data: dict[str, Any]) -> Response:
    """Open the page (cookie + form token), then post ``data`` with the form's CSRF token and
    the notices it showed, as a browser posts its hidden fields."""
    page = client.get(f"/c/{token}")
    assert page.status_code == 200
    shown = dict(NOTICE.findall(page.text))
    return client.post(f"/c/{token}", data={"csrf_token": csrf_of(page), **shown, **data})


def emails(settings: Settings) -> list[EmailMessage]:
    folder = settings.resolved_outbox_dir / "email"
    return [
        message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in sorted(folder.glob("*.eml"))
    ]


def email_text(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def sms_bodies(settings: Settings) -> list[dict[str, Any]]:
    folder: Path = settings.resolved_outbox_dir / "sms"
    return [
        json.loads(line)
        for p in sorted(folder.glob("batch-*.jsonl"))
        for line in p.read_text().splitlines()
    ]


def point(engine: Engine, cp_id: int) -> ContactPoint:
    with Session(engine) as session:
        cp = session.get(ContactPoint, cp_id)
        assert cp is not None
        return cp


def enrollment_state(engine: Engine, enrollment_id: int) -> str:
    with Session(engine) as session:
        row = session.get(Enrollment, enrollment_id)
        assert row is not None
        return row.state
