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
import copy
import json
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import fastjsonschema
import httpx
import uvicorn
from cryptography.hazmat.primitives import serialization
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
from tests.standins.sendgrid_state import (
    DEFAULT_PAGE_SIZE,
    MAIL_SPEC,
    MAX_CUSTOM_ARGS_BYTES,
    MAX_PERSONALIZATIONS,
    MAX_RECIPIENTS,
    MAX_SUBSTITUTION_BYTES,
    STANDIN_API_KEY,
    SUPPRESSION_LISTS,
    SUPPRESSION_SPEC,
    Delivered,
    Outcome,
    SendGridState,
)

BODY_SCHEMA = "#/components/requestBodies/PostMailSend/content/application~1json/schema"

_FIELD = re.compile(r"(?:^|; )([\w/.-]+): ")


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
        try:
            return await _scripted_mail_send(request)
        finally:
            with state.lock:
                state.requests_answered += 1

    async def _scripted_mail_send(request: Request) -> Response:
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
