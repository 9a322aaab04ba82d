"""Hostile inputs for the web fuzz tests: special text, raw bodies, and Hypothesis strategies for
each provider's webhook fields, the landing form and the contact-moment API."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from models.contact_moments.recording import CONTEXTS
from models.vocabulary import CHANNELS
from outreach.providers.sendgrid.events import SENDGRID_EVENT_TYPES
from outreach.providers.twilio.events import TWILIO_STATUS_TYPES

# Values that broke or nearly broke something once: ids past every integer type, digits that
# int() refuses, NUL, bidi controls, huge and deeply nested text.
SPECIAL_TEXT = [
    "",
    " ",
    "\x00",
    "STOP\x00",
    "²",
    "٣",
    "-1",
    "0",
    str(2**31),
    str(2**63),
    "9" * 5000,
    "S" * 3000,
    "\u202e",
    "\ufffd",
    "a@example.com",
    "<script>alert(1)</script>",
    "%00",
    "../../etc/passwd",
    "STOP",
    "START",
    "delivered",
    "bounce",
    "30006",
    "One-Click",
]

# Text a form or query string can carry (no unpaired surrogates: they cannot be sent).
form_text = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    st.sampled_from(SPECIAL_TEXT),
)

json_text = st.one_of(st.text(max_size=40), st.sampled_from([*SPECIAL_TEXT, "\ud800", "\udfff x"]))

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**31, 2**63, -(2**63) - 1, 10**20, 10**400]),
    st.floats(allow_nan=False, allow_infinity=False),
    json_text,
)

json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(json_text, inner, max_size=4),
    max_leaves=12,
)

# Bodies no JSON library writes but a hostile sender can.
RAW_BODIES = [
    b"",
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b"[NaN]",
    b'[{"timestamp": Infinity}]',
    b"\xff\xfe[]",
    b"[1" + b"0" * 5000 + b"]",
    b'["\\ud800"]',
    b"null",
]

raw_bodies = st.sampled_from(RAW_BODIES) | st.binary(max_size=200)


def json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()


SENDGRID_FIELDS = (
    "event",
    "sg_event_id",
    "sg_message_id",
    "email",
    "timestamp",
    "outreach_id",
    "type",
    "reason",
    "response",
    "status",
    "category",
    "url",
    "pool",
)

sendgrid_event = st.fixed_dictionaries(
    {},
    optional={
        "event": st.sampled_from([*SENDGRID_EVENT_TYPES, "weird"]) | json_values,
        **{name: json_values for name in SENDGRID_FIELDS[1:]},
    },
)

sendgrid_bodies = st.one_of(
    st.lists(sendgrid_event | json_values, max_size=5).map(json_bytes),
    json_values.map(json_bytes),
    raw_bodies,
)

TWILIO_FIELDS = [
    "MessageSid",
    "SmsSid",
    "MessageStatus",
    "SmsStatus",
    "ErrorCode",
    "To",
    "From",
    "Body",
    "OptOutType",
    "AccountSid",
]

twilio_values = form_text | st.sampled_from([*TWILIO_STATUS_TYPES, "SM" + "f" * 32])

twilio_forms = st.one_of(
    # Mostly with a message id, so the fuzz reaches the fields behind it.
    st.fixed_dictionaries(
        {"MessageSid": st.sampled_from(["SM" + "f" * 32, "SM1", "MM2"]) | form_text},
        optional={name: twilio_values for name in TWILIO_FIELDS[1:]},
    ),
    st.dictionaries(st.sampled_from(TWILIO_FIELDS) | form_text, twilio_values, max_size=8),
)

outreach_ids = st.none() | st.integers(min_value=1, max_value=10**6).map(str) | form_text

LANDING_FIELDS = [
    "email",
    "mobile",
    "street",
    "house_number",
    "postal_code",
    "city",
    "country",
    "email_action",
    "mobile_action",
    "postal_action",
    "stop_contacting",
    "consent_service_email",
    "consent_newsletter_sms",
    "notice_service",
    "lang",
    "code",
    "challenge",
    "List-Unsubscribe",
]

landing_forms = st.dictionaries(
    st.sampled_from(LANDING_FIELDS) | form_text,
    form_text
    | st.sampled_from(["keep", "confirm", "change", "wrong", "granted", "withdrawn", "yes"]),
    max_size=10,
)

CUSTOMER = "CRM-FUZZ-1"
MOMENT_CHANNELS = st.sampled_from([*CHANNELS, "fax"])
MOMENT_CONTEXTS = st.sampled_from([*CONTEXTS, "order"])

moment_bodies = st.one_of(
    # Well-formed but for the customer's id, so the fuzz reaches the database.
    st.fixed_dictionaries(
        {
            "external_id": st.just(CUSTOMER) | json_text,
            "channel": MOMENT_CHANNELS,
            "context": MOMENT_CONTEXTS,
        }
    ).map(json_bytes),
    st.fixed_dictionaries(
        {},
        optional={
            "external_id": json_values | st.just(CUSTOMER),
            "channel": json_values | MOMENT_CHANNELS,
            "context": json_values | MOMENT_CONTEXTS,
        },
    ).map(json_bytes),
    json_values.map(json_bytes),
    raw_bodies,
)

path_tokens = form_text.map(lambda t: quote(t, safe=""))

CONTENT_TYPES = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "multipart/form-data",
    "text/plain",
    "application/json; charset=utf-16",
    "\x7f",
]
