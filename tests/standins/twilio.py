"""A local stand-in for Twilio's Messages API, its status callbacks and inbound messages.

Requests are checked against the official document (``specs/twilio_messages_only.json``) and
answered the way the real API does, including the rules the document leaves out (Basic auth,
``To`` and a sender required, the test-credential numbers, the error shape). Tests reach into
:class:`TwilioState` to inject failures, read what was accepted and send the webhooks back.

Run it on its own with ``python -m tests.standins.twilio --port N``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from email.utils import format_datetime, parsedate
from typing import Any
from urllib.parse import parse_qsl, urlencode

import uvicorn
from openapi_core import Config as OpenAPIConfig
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins.common import SpecValidator
from tests.standins.twilio_state import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    Failure,
    Received,
    StoredMessage,
    TwilioState,
    Webhook,
    WebhookReceiver,
)

__all__ = [
    "ACCOUNT_SID",
    "AUTH_TOKEN",
    "Failure",
    "Received",
    "StoredMessage",
    "TwilioSpec",
    "TwilioState",
    "Webhook",
    "WebhookReceiver",
    "create_app",
    "message_json",
]

API = "/2010-04-01/Accounts/{account_sid}"
SPEC_FILE = "twilio_messages_only.json"
SPEC_BASE = "http://twilio.standin"
MAX_PAGE_SIZE = 1000

# Twilio's test-credential numbers: sending to them fails with these codes.
TEST_NUMBER_ERRORS: dict[str, tuple[int, str]] = {
    "+15005550001": (21211, "The 'To' number is not a valid phone number."),
    "+15005550002": (21612, "The 'To' phone number is not currently reachable via SMS."),
    "+15005550003": (21408, "Permission to send an SMS has not been enabled for the region."),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}
STATUS_ERRORS: dict[int, tuple[int, str]] = {
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


# The document's own formats, unknown to openapi-core.
_PHONE = re.compile(r"\+[1-9]\d{1,14}|[a-z]+:\S+")
_FORMATS: dict[str, Callable[[Any], bool]] = {
    "phone-number": lambda v: isinstance(v, str) and bool(_PHONE.fullmatch(v)),
    "date-time-rfc-2822": lambda v: isinstance(v, str) and parsedate(v) is not None,
    "currency": lambda v: isinstance(v, str) and len(v) == 3 and v.isalpha(),
    "uri-map": lambda v: isinstance(v, dict),
}


class TwilioSpec(SpecValidator):
    """The Messages document, with its own formats (``phone-number``...) taught to openapi-core."""

    def __init__(self, base_url: str = SPEC_BASE) -> None:
        super().__init__(SPEC_FILE, base_url)
        self.openapi = OpenAPI(
            self.openapi.spec,
            config=OpenAPIConfig(
                extra_format_validators=_FORMATS,
                extra_format_unmarshallers={name: lambda v: v for name in _FORMATS},
            ),
        )

    def response_errors(
        self,
        *,
        method: str,
        path: str,
        status: int,
        body: bytes,
        query: Mapping[str, Any] | None = None,
    ) -> list[str]:
        """Every way an answer breaks the document; empty when it is valid."""
        request = MockRequest(self.base_url, method.lower(), path, args=dict(query or {}))
        response = MockResponse(body, status_code=status)
        result = self.openapi.unmarshal_response(request, response)
        return [str(error) for error in result.errors]


def _rfc2822(value: datetime | None) -> str | None:
    return format_datetime(value) if value is not None else None


def message_json(message: StoredMessage, account_sid: str) -> dict[str, Any]:
    """A message in the document's ``api.v2010.account.message`` shape."""
    uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{message.sid}"
    return {
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": message.body,
        "date_created": _rfc2822(message.date_created),
        "date_sent": _rfc2822(message.date_sent),
        "date_updated": _rfc2822(message.date_updated),
        "direction": "outbound-api",
        "error_code": message.error_code,
        "error_message": None,
        "from": message.from_,
        "messaging_service_sid": message.messaging_service_sid,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": message.sid,
        "status": message.status,
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": message.to,
        "uri": f"{uri}.json",
    }


def twilio_error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


class _Api:
    """The request handlers, bound to one state."""

    def __init__(self, state: TwilioState) -> None:
        self.state = state
        self._validator: TwilioSpec | None = None

    def _spec_errors(self, request: Request, body: bytes | None, content_type: str) -> list[str]:
        if not self.state.validate:
            return []
        if self._validator is None:
            self._validator = TwilioSpec()
        errors = self._validator.errors(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            headers=dict(request.headers),
            body=body,
            content_type=content_type,
        )
        if errors:
            with self.state.lock:
                self.state.spec_errors.extend(errors)
        return errors

    async def _enter(self, request: Request, *, create: bool) -> Failure | None:
        now = time.monotonic()
        state = self.state
        with state.lock:
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
            state.request_times.append(now)
            if create:
                state.create_times.append(now)
        if state.latency:
            await asyncio.sleep(state.latency)
        return state.take_failure(request.method)

    def _leave(self) -> None:
        with self.state.lock:
            self.state.in_flight -= 1
            self.state.answered += 1

    async def create(self, request: Request) -> Response:
        failure = await self._enter(request, create=True)
        try:
            response = await self._create(request, failure)
            if failure is not None and failure.delay:
                await asyncio.sleep(failure.delay)
            return response
        finally:
            self._leave()

    async def _create(self, request: Request, failure: Failure | None) -> Response:
        state = self.state
        if failure is not None and failure.status is not None:
            code, text = STATUS_ERRORS.get(failure.status, (20500, "Internal Server Error"))
            return twilio_error(failure.status, code, text)
        if not state.authorized(request.headers.get("authorization"), _sid(request)):
            return twilio_error(401, 20003, "Authenticate")
        raw = await request.body()
        form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        if not form.get("To"):
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return twilio_error(
                400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required."
            )
        errors = self._spec_errors(request, raw, "application/x-www-form-urlencoded")
        if errors:
            return twilio_error(400, 20001, "Invalid request: " + errors[0][:200])
        if form["To"] in TEST_NUMBER_ERRORS:
            code, text = TEST_NUMBER_ERRORS[form["To"]]
            return twilio_error(400, code, text)
        if failure is not None and failure.delay and not failure.accept:
            return twilio_error(503, 20503, "Service Unavailable")  # nobody reads it: timed out
        if state.over_rate(time.monotonic()):
            return twilio_error(429, 20429, "Too Many Requests")
        message = state.store(form)
        return JSONResponse(message_json(message, state.account_sid), status_code=201)

    async def list_messages(self, request: Request) -> Response:
        failure = await self._enter(request, create=False)
        try:
            if failure is not None and failure.delay:
                await asyncio.sleep(failure.delay)
            if failure is not None and failure.status is not None:
                code, text = STATUS_ERRORS.get(failure.status, (20500, "Internal Server Error"))
                return twilio_error(failure.status, code, text)
            if not self.state.authorized(request.headers.get("authorization"), _sid(request)):
                return twilio_error(401, 20003, "Authenticate")
            errors = self._spec_errors(request, None, "application/json")
            if errors:
                return twilio_error(400, 20001, "Invalid request: " + errors[0][:200])
            return JSONResponse(self._page(request))
        finally:
            self._leave()

    def _page(self, request: Request) -> dict[str, Any]:
        query = dict(request.query_params)
        size = min(int(query.get("PageSize", "50")), MAX_PAGE_SIZE)
        page = int(query.get("Page", "0"))
        found = self.state.listed(query)
        chunk = found[page * size : (page + 1) * size]
        filters = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}
        path = request.url.path

        def uri(number: int) -> str:
            params = {**filters, "PageSize": str(size), "Page": str(number)}
            if number:
                params["PageToken"] = f"PASM{number}"
            return f"{path}?{urlencode(params)}"

        more = len(found) > (page + 1) * size
        return {
            "messages": [message_json(m, self.state.account_sid) for m in chunk],
            "page": page,
            "page_size": size,
            "start": page * size,
            "end": page * size + max(len(chunk) - 1, 0),
            "uri": uri(page),
            "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1) if more else None,
            "previous_page_uri": uri(page - 1) if page > 0 else None,
        }

    async def fetch(self, request: Request) -> Response:
        await self._enter(request, create=False)
        try:
            if not self.state.authorized(request.headers.get("authorization"), _sid(request)):
                return twilio_error(401, 20003, "Authenticate")
            message = self.state.find(request.path_params["sid"])
            if message is None:
                return twilio_error(404, 20404, "The requested resource was not found")
            return JSONResponse(message_json(message, self.state.account_sid))
        finally:
            self._leave()


def _sid(request: Request) -> str:
    return str(request.path_params["account_sid"])


def create_app(state: TwilioState) -> Starlette:
    """The ASGI app answering Twilio's Messages endpoints from ``state``."""
    api = _Api(state)
    return Starlette(
        routes=[
            Route(f"{API}/Messages.json", api.create, methods=["POST"]),
            Route(f"{API}/Messages.json", api.list_messages, methods=["GET"]),
            Route(f"{API}/Messages/{{sid}}.json", api.fetch, methods=["GET"]),
        ]
    )


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Twilio Messages API stand-in")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--account-sid", default=ACCOUNT_SID)
    parser.add_argument("--auth-token", default=AUTH_TOKEN)
    parser.add_argument("--messages-per-second", type=float, default=None)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--no-validate", action="store_true", help="skip the document check")
    parser.add_argument(
        "--deliver-webhooks", action="store_true", help="send status callbacks as they fall due"
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    state = TwilioState(
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        messages_per_second=args.messages_per_second,
        latency=args.latency,
        validate=not args.no_validate,
    )
    if args.deliver_webhooks:
        state.deliver_automatically()
    uvicorn.run(
        create_app(state), host="127.0.0.1", port=args.port, log_level="error", access_log=False
    )


if __name__ == "__main__":
    main()
