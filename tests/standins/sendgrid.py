"""A local SendGrid: Mail Send, the four suppression lists, and a signed Event Webhook back.

Requests are checked against the official documents (``specs/``) plus the rules they leave
out (``specs/README.md``), answered in SendGrid's shapes, and every accepted personalization is
recorded as it would be delivered (substitutions applied). Tests script failures with
:class:`Outcome`; benchmarks run it in its own process::

    python -m tests.standins.sendgrid --port N [--webhook-url URL --webhook-key PEM_FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import json
import re
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import httpx
import uvicorn
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.standins.common import SpecValidator, spec_document

MAIL_SPEC = "tsg_mail_v3.json"
SUPPRESSION_SPEC = "tsg_suppressions_v3.json"
STANDIN_API_KEY = "SG.standin-api-key"
SUPPRESSION_LISTS = ("bounces", "blocks", "invalid_emails", "spam_reports")
MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_CUSTOM_ARGS_BYTES = 10_000
MAX_SUBSTITUTION_BYTES = 10_000
MAX_BODY_BYTES = 30 * 1024 * 1024
DEFAULT_PAGE_SIZE = 500
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
BODY_SCHEMA = "#/components/requestBodies/PostMailSend/content/application~1json/schema"
_FIELD = re.compile(r"(?:^|; )([\w/.-]+): ")


@dataclass(frozen=True)
class Outcome:
    """What the next request gets instead of normal handling.

    ``status`` set: wait ``delay`` seconds, answer that status, record nothing. ``status`` None:
    handle the request normally (it may be accepted and recorded), then wait ``delay`` seconds
    before answering: a client that times out meanwhile does not know it was accepted.
    ``release`` set: wait for it instead, ``delay`` seconds at most (a provider that answers
    when the test says so).
    """

    status: int | None = None
    delay: float = 0.0
    release: threading.Event | None = None
    errors: tuple[dict[str, Any], ...] | None = None  # the 4xx body's errors, else a default
    reset_at: int | None = None  # X-RateLimit-Reset of a scripted 429

    @classmethod
    def fail(cls, status: int, *, delay: float = 0.0, **kw: Any) -> Outcome:
        return cls(status=status, delay=delay, **kw)

    @classmethod
    def slow_accept(cls, delay: float) -> Outcome:
        return cls(status=None, delay=delay)

    @classmethod
    def held(cls, release: threading.Event, *, timeout: float = 30.0) -> Outcome:
        """Accept the request, then answer once ``release`` is set (``timeout`` at most)."""
        return cls(status=None, delay=timeout, release=release)

    @classmethod
    def hang(cls, delay: float) -> Outcome:
        """Answer nothing for ``delay`` seconds, then 503; the request is not accepted."""
        return cls(status=503, delay=delay)


@dataclass(frozen=True)
class Delivered:
    """One accepted personalization, as its recipient would get it."""

    message_id: str  # the request's X-Message-Id
    recipient: str
    to: tuple[dict[str, str], ...]
    subject: str
    text: str | None
    html: str | None
    custom_args: dict[str, str]
    headers: dict[str, str]
    categories: tuple[str, ...]
    asm: dict[str, Any] | None
    sender: dict[str, str]

    @property
    def outreach_id(self) -> str | None:
        return self.custom_args.get("outreach_id")


@dataclass
class SendGridState:
    """Configuration, scripted outcomes and everything the stand-in saw; safe across threads."""

    api_key: str = STANDIN_API_KEY
    max_body_bytes: int = MAX_BODY_BYTES
    invalid: set[str] = field(default_factory=set)  # addresses refused with a field-named 400
    unnamed_rejects: set[str] = field(default_factory=set)  # refused with a 400 naming no field
    bounce: set[str] = field(default_factory=set)  # accepted, then a "bounce" event
    drop: set[str] = field(default_factory=set)  # accepted, then a "dropped" event
    rate_limit: int | None = None  # requests per window; None: no limit
    rate_window_seconds: int = 1
    clock: Callable[[], float] = time.time
    webhook_url: str | None = None
    webhook_key: ec.EllipticCurvePrivateKey | None = None
    webhook_auto: bool = True  # post events after each response; False: queue for flush
    delivered: list[Delivered] = field(default_factory=list)
    sandboxed: list[dict[str, Any]] = field(default_factory=list)  # bodies of sandbox requests
    requests_seen: int = 0
    suppressions: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in SUPPRESSION_LISTS}
    )

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.script: deque[Outcome] = deque()
        self._windows: Counter[int] = Counter()
        self._webhooks: list[bytes] = []

    # -- test controls -----------------------------------------------------------------------

    def push(self, *outcomes: Outcome) -> None:
        """Script the outcomes of the next requests, in order."""
        with self.lock:
            self.script.extend(outcomes)

    def accepted_per_outreach(self) -> Counter[str]:
        """How many times each ``outreach_id`` custom arg was accepted (2+ is a duplicate)."""
        with self.lock:
            return Counter(d.outreach_id for d in self.delivered if d.outreach_id is not None)

    def delivered_to(self, outreach_id: int | str) -> list[Delivered]:
        with self.lock:
            return [d for d in self.delivered if d.outreach_id == str(outreach_id)]

    def seed(self, list_name: str, email: str, created: int, **fields: Any) -> None:
        """Add an entry to a suppression list (fields as the document shows, e.g. reason)."""
        defaults: dict[str, dict[str, Any]] = {
            "bounces": {"reason": "550 5.1.1 User unknown", "status": "5.1.1"},
            "blocks": {"reason": "550 5.7.1 Blocked by policy", "status": "5.7.1"},
            "invalid_emails": {"reason": "Mail domain mentioned in email address is unknown"},
            "spam_reports": {"ip": "10.63.202.100"},
        }
        with self.lock:
            self.suppressions[list_name].append(
                {"created": created, "email": email, **defaults[list_name], **fields}
            )

    def take_webhook_batches(self) -> list[tuple[bytes, dict[str, str]]]:
        """The queued event batches, signed now, as (raw body, headers); the queue empties."""
        with self.lock:
            bodies, self._webhooks = self._webhooks, []
        return [(body, self.sign(body)) for body in bodies]

    def flush_webhooks(self) -> list[int]:
        """POST the queued event batches to ``webhook_url``; the status codes answered."""
        if not self.webhook_url:
            raise RuntimeError("no webhook_url configured")
        with httpx.Client(timeout=30, trust_env=False) as client:
            return [
                client.post(self.webhook_url, content=body, headers=headers).status_code
                for body, headers in self.take_webhook_batches()
            ]

    def sign(self, body: bytes) -> dict[str, str]:
        if self.webhook_key is None:
            raise RuntimeError("no webhook_key configured")
        stamp = str(int(self.clock()))
        signature = self.webhook_key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: base64.b64encode(signature).decode(),
        }

    # -- request handling (called by the app) ------------------------------------------------

    def next_outcome(self) -> Outcome | None:
        with self.lock:
            self.requests_seen += 1
            return self.script.popleft() if self.script else None

    def over_rate_limit(self) -> int | None:
        """The window's reset time when this request is over the limit, else None."""
        if self.rate_limit is None:
            return None
        window = int(self.clock() // self.rate_window_seconds)
        with self.lock:
            self._windows[window] += 1
            over = self._windows[window] > self.rate_limit
        return (window + 1) * self.rate_window_seconds if over else None

    def record(self, items: list[Delivered], events: list[dict[str, Any]]) -> bytes | None:
        body = json.dumps(events).encode() if events and self.webhook_url else None
        with self.lock:
            self.delivered.extend(items)
            if body is not None and not self.webhook_auto:
                self._webhooks.append(body)
        return body if self.webhook_auto else None


# -- validation --------------------------------------------------------------------------------


@cache
def _body_validator() -> OAS30Validator:
    """The Mail Send body schema of the official document, checked with plain JSON Schema.

    openapi-core needs about four seconds to unmarshal 1,000 personalizations, so it checks the
    request (auth, headers, the body with one personalization) and this checks every one.
    """
    doc = spec_document(MAIL_SPEC)
    registry = Registry().with_resource("urn:mail", Resource.from_contents(doc, DRAFT4))
    return OAS30Validator(
        {"$ref": "urn:mail" + BODY_SCHEMA}, registry=registry, format_checker=oas30_format_checker
    )


@cache
def _fast_body_check() -> Callable[[Any], Any]:
    """The same schema compiled to Python (fastjsonschema), about seven times faster. On this
    document it is stricter than OpenAPI 3.0 in two places only (``nullable``, the email
    format), so a body it accepts is valid, and a body it refuses is judged, with every error
    listed, by the validator above."""
    doc = spec_document(MAIL_SPEC)
    return fastjsonschema.compile({**doc, "$ref": BODY_SCHEMA})  # type: ignore[no-any-return]


def _error(message: str, field_name: str | None = None) -> dict[str, Any]:
    return {"message": message, "field": field_name, "help": None}


def _errors(status: int, errors: Iterable[dict[str, Any]], **headers: str) -> JSONResponse:
    return JSONResponse({"errors": list(errors)}, status_code=status, headers=headers)


def _schema_errors(body: Any) -> list[dict[str, Any]]:
    try:
        _fast_body_check()(body)
        return []
    except fastjsonschema.JsonSchemaException:
        pass
    found = []
    for err in _body_validator().iter_errors(body):
        where = ".".join(str(p) for p in err.absolute_path) or None
        found.append(_error(err.message, where))
    return found


def _spec_request_errors(validator: SpecValidator, request: Request, body: Any) -> list[dict]:
    """The request checked by openapi-core, its body cut to one personalization."""
    sample = dict(body)
    if isinstance(sample.get("personalizations"), list):
        sample["personalizations"] = sample["personalizations"][:1]
    lines = validator.errors(
        method="post",
        path="/v3/mail/send",
        headers=dict(request.headers),
        body=json.dumps(sample).encode(),
        content_type=request.headers.get("content-type", "application/json"),
    )
    out = []
    for line in lines:
        fields = [m.replace("/", ".") for m in _FIELD.findall(line)]
        out.append(_error(line.split(";")[0][:200], fields[-1] if fields else None))
    return out


def _size(mapping: Mapping[str, Any] | None) -> int:
    return sum(len(str(k).encode()) + len(str(v).encode()) for k, v in (mapping or {}).items())


def _hand_rules(state: SendGridState, body: dict[str, Any]) -> tuple[int, list[dict]]:
    """What the document does not say: counts, sizes, and addresses SendGrid refuses."""
    ps = body["personalizations"]
    if len(ps) > MAX_PERSONALIZATIONS:
        return 400, [_error("Too many personalizations.", "personalizations")]
    recipients = sum(len(p.get(k) or []) for p in ps for k in ("to", "cc", "bcc"))
    if recipients > MAX_RECIPIENTS:
        return 400, [_error("Too many recipients.", "personalizations")]
    errors = []
    for i, p in enumerate(ps):
        if _size(body.get("custom_args")) + _size(p.get("custom_args")) >= MAX_CUSTOM_ARGS_BYTES:
            errors.append(_error("Custom args too large.", f"personalizations.{i}.custom_args"))
        if _size(p.get("substitutions")) > MAX_SUBSTITUTION_BYTES:
            errors.append(_error("Substitutions too large.", f"personalizations.{i}.substitutions"))
        for kind in ("to", "cc", "bcc"):
            for j, to in enumerate(p.get(kind) or []):
                if to["email"] in state.invalid:
                    errors.append(
                        _error(
                            "Does not contain a valid address.",
                            f"personalizations.{i}.{kind}.{j}.email",
                        )
                    )
                elif to["email"] in state.unnamed_rejects:
                    errors.append(_error("Bad Request"))
    return (400, errors) if errors else (0, [])


# -- delivery and events -----------------------------------------------------------------------


def _substitute(text: str | None, subs: Mapping[str, str]) -> str | None:
    if text is None:
        return None
    for tag, value in subs.items():
        text = text.replace(tag, value)
    return text


def _deliver(body: dict[str, Any], message_id: str) -> list[Delivered]:
    content = {c["type"]: c["value"] for c in body.get("content") or []}
    out = []
    for p in body["personalizations"]:
        subs = p.get("substitutions") or {}
        to = tuple(p["to"])
        out.append(
            Delivered(
                message_id=message_id,
                recipient=to[0]["email"],
                to=to,
                subject=_substitute(p.get("subject") or body.get("subject") or "", subs) or "",
                text=_substitute(content.get("text/plain"), subs),
                html=_substitute(content.get("text/html"), subs),
                custom_args={**(body.get("custom_args") or {}), **(p.get("custom_args") or {})},
                headers={**(body.get("headers") or {}), **(p.get("headers") or {})},
                categories=tuple(body.get("categories") or ()),
                asm=body.get("asm"),
                sender=body["from"],
            )
        )
    return out


def _events(state: SendGridState, items: list[Delivered]) -> list[dict[str, Any]]:
    now = int(state.clock())
    events: list[dict[str, Any]] = []
    for n, item in enumerate(items):
        base = {
            **item.custom_args,
            "email": item.recipient,
            "timestamp": now,
            "sg_message_id": f"{item.message_id}.filterdrecv-{n}-0",
            "smtp-id": f"<{item.message_id}.{n}@standin.sendgrid.net>",
            "category": list(item.categories),
        }
        events.append({**base, "event": "processed", "sg_event_id": secrets.token_urlsafe(16)})
        if item.recipient in state.drop:
            last = {"event": "dropped", "reason": "Bounced Address"}
        elif item.recipient in state.bounce:
            last = {
                "event": "bounce",
                "type": "bounce",
                "status": "5.1.1",
                "reason": f"550 5.1.1 <{item.recipient}>: Recipient address rejected",
            }
        else:
            last = {"event": "delivered", "response": "250 OK"}
        events.append({**base, **last, "sg_event_id": secrets.token_urlsafe(16)})
    return events


def _post_events(state: SendGridState, body: bytes) -> None:
    assert state.webhook_url is not None
    try:
        with httpx.Client(timeout=30, trust_env=False) as client:
            client.post(state.webhook_url, content=body, headers=state.sign(body))
    except httpx.HTTPError:
        pass  # SendGrid would retry later; the stand-in does not


# -- the app -----------------------------------------------------------------------------------


def _auth_error(state: SendGridState, request: Request) -> JSONResponse | None:
    if request.headers.get("authorization") != f"Bearer {state.api_key}":
        return _errors(
            401, [_error("The provided authorization grant is invalid, expired, or revoked")]
        )
    return None


def _scripted(state: SendGridState, outcome: Outcome) -> Response:
    assert outcome.status is not None
    if outcome.status == 429:
        reset = outcome.reset_at or int(state.clock()) + 1
        headers = {
            "X-RateLimit-Limit": str(state.rate_limit or 600),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(reset),
        }
        return _errors(429, outcome.errors or [_error("too many requests")], **headers)
    default = {401: "authorization required", 403: "access forbidden", 413: "content too large"}
    errors = outcome.errors or [_error(default.get(outcome.status, "internal error"))]
    return _errors(outcome.status, errors)


def create_app(state: SendGridState) -> Starlette:
    """The ASGI app serving ``state``; its base URL is learnt from the first request."""
    validators: dict[str, SpecValidator] = {}

    def validator(spec: str, request: Request) -> SpecValidator:
        base = str(request.base_url).rstrip("/")
        key = f"{spec} {base}"
        if key not in validators:
            validators[key] = SpecValidator(spec, base)
        return validators[key]

    async def mail_send(request: Request) -> Response:
        outcome = state.next_outcome()
        if outcome is not None and outcome.status is not None:
            await asyncio.sleep(outcome.delay)
            return _scripted(state, outcome)
        response = await _mail_send(request)
        if outcome is not None and outcome.release is not None:
            await asyncio.to_thread(outcome.release.wait, outcome.delay)
        elif outcome is not None:
            await asyncio.sleep(outcome.delay)
        return response

    async def _mail_send(request: Request) -> Response:
        if (refused := _auth_error(state, request)) is not None:
            return refused
        raw = await request.body()
        if len(raw) >= state.max_body_bytes:
            return _errors(413, [_error("content too large")])
        if (reset := state.over_rate_limit()) is not None:
            headers = {
                "X-RateLimit-Limit": str(state.rate_limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(reset),
            }
            return _errors(429, [_error("too many requests")], **headers)
        try:
            body = json.loads(raw)
        except ValueError:
            return _errors(400, [_error("Bad Request")])
        if not isinstance(body, dict):
            return _errors(400, [_error("Bad Request")])
        errors = _spec_request_errors(validator(MAIL_SPEC, request), request, body)
        errors += _schema_errors(body)
        if errors:
            return _errors(400, errors)
        status, errors = _hand_rules(state, body)
        if errors:
            return _errors(status, errors)
        if (body.get("mail_settings") or {}).get("sandbox_mode", {}).get("enable"):
            with state.lock:
                state.sandboxed.append(body)
            return Response(status_code=200)
        message_id = secrets.token_urlsafe(16)  # 22 characters, like SendGrid's
        items = _deliver(body, message_id)
        webhook = state.record(items, _events(state, items) if state.webhook_url else [])
        task = BackgroundTask(_post_events, state, webhook) if webhook is not None else None
        return Response(status_code=202, headers={"X-Message-Id": message_id}, background=task)

    async def suppression_list(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in SUPPRESSION_LISTS:
            return _errors(404, [_error("not found")])
        if (refused := _auth_error(state, request)) is not None:
            return refused
        outcome = state.next_outcome()
        if outcome is not None and outcome.status is not None:
            await asyncio.sleep(outcome.delay)
            return _scripted(state, outcome)
        lines = validator(SUPPRESSION_SPEC, request).errors(
            method="get",
            path=request.url.path,
            query=dict(request.query_params),
            headers=dict(request.headers),
        )
        if lines:
            return _errors(400, [_error(line[:200]) for line in lines])
        q = request.query_params
        start, end = int(q.get("start_time", 0)), int(q.get("end_time", 2**62))
        limit, offset = int(q.get("limit", DEFAULT_PAGE_SIZE)), int(q.get("offset", 0))
        prefix = q.get("email", "")
        with state.lock:
            rows = [
                copy.deepcopy(r)
                for r in state.suppressions[name]
                if start <= r["created"] <= end and r["email"].startswith(prefix)
            ]
        rows.sort(key=lambda r: r["created"], reverse=True)  # newest first, as SendGrid does
        return JSONResponse(rows[offset : offset + limit])

    return Starlette(
        routes=[
            Route("/v3/mail/send", mail_send, methods=["POST"]),
            Route("/v3/suppression/{name}", suppression_list, methods=["GET"]),
        ]
    )


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SystemExit(f"{path} is not an EC private key")
    return key


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local SendGrid stand-in.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", default=STANDIN_API_KEY)
    parser.add_argument("--webhook-url")
    parser.add_argument("--webhook-key", type=Path, help="PEM file of the EC P-256 private key")
    args = parser.parse_args(argv)
    if bool(args.webhook_url) != bool(args.webhook_key):
        parser.error("--webhook-url and --webhook-key go together")
    state = SendGridState(
        api_key=args.api_key,
        webhook_url=args.webhook_url,
        webhook_key=load_private_key(args.webhook_key) if args.webhook_key else None,
    )
    uvicorn.run(
        create_app(state),
        host="127.0.0.1",
        port=args.port,
        log_level="error",
        access_log=False,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
