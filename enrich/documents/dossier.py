"""The dossier of one profile as JSON, as plain text, and as one self-contained HTML page.

The facts come from :func:`models.dossier.collect_dossier`; this module only lays them out. The
HTML page (``templates/documents/dossier.html``) is autoescaped, styled inline, with no script
and no reference outside itself, so a data-protection officer can file it as it is.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from models.dossier.facts import ContactPointFacts, Dossier, Entry, MessageFacts

FORMAT: Final = "enrich.dossier/1"
TEMPLATE: Final = "documents/dossier.html"
# What each ``update_rule`` of a contact point means for the reader.
UPDATE_RULES: Final[dict[str, str]] = {
    "verified": "verified; counts as stale (asked again) from the date shown",
    "verified_undated": "verified without a date: counts as stale now",
    "unverified": "never proven: the next round that targets it asks the customer to confirm it",
    "broken": "marked wrong (bounced or invalid) and kept as such; a round asks for a new value",
    "opted_out": "the customer left this route: never asked about again",
    "contested": "the customer said it is wrong: not used until corrected or confirmed",
    "erased": "deleted by an erasure: only the pseudonymous trail below remains",
}
CHALLENGE_KINDS: Final[dict[str, str]] = {
    "bounce": "the message bounced",
    "invalid": "the provider said the value does not exist",
    "returned_letter": "the letter came back undelivered",
    "contested": "the customer said the value is wrong",
}
NOTICE_CHECK: Final[dict[bool | None, str]] = {
    True: "the file of that version still holds this exact text",
    False: "the file of that version is missing or differs from the text shown",
    None: "no text hash recorded to check",
}
# Terminal control characters (and escape sequences) in stored text must not reach a terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def dossier_data(dossier: Dossier) -> dict[str, Any]:
    """The dossier as JSON-ready data: every field of every record, times in ISO 8601."""
    data = _plain(dataclasses.asdict(dossier))
    data["format"] = FORMAT
    data["update_rules"] = UPDATE_RULES
    return {"format": data.pop("format"), **data}


def render_json(dossier: Dossier) -> str:
    return json.dumps(dossier_data(dossier), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def show(value: Any) -> str:
    """One value as the text and HTML forms print it."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(_plain(value), ensure_ascii=False, sort_keys=True)
    return str(value)


def _safe(text: str) -> str:
    return _CONTROL.sub("?", text)


# ------------------------------------------------------------------------------ plain text


def _entry_line(e: Entry) -> str:
    parts = [show(e.at), e.action, f"by {e.actor}"]
    if e.before is not None:
        parts.append(f"before {show(e.before)}")
    if e.after is not None:
        parts.append(f"after {show(e.after)}")
    if e.reason:
        parts.append(f"reason: {e.reason}")
    if e.evidence:
        parts.append(f"evidence {show(e.evidence)}")
    if e.sealed:
        parts.append("sealed")
    return "  ".join(parts)


def _source_text(cp: ContactPointFacts) -> str:
    s = cp.source
    where = f"{s.file}, line {s.line}" if s.file else s.stored or "-"
    via = f" (message {s.outreach_id})" if s.outreach_id else ""
    return f"{s.kind}: {where}{via}, {show(s.at)}"


def _point_lines(cp: ContactPointFacts) -> list[str]:
    value = cp.value if cp.value is not None else "[erased]"
    lines = [
        f"Contact point {cp.id} ({cp.kind or '?'}): {value}",
        f"  status: {show(cp.status)}"
        + (f" ({cp.invalid_reason})" if cp.invalid_reason else "")
        + (", primary" if cp.is_primary else ""),
        f"  source: {_source_text(cp)}",
    ]
    if cp.origin is not None:
        o = cp.origin
        where = f"{o.file}, line {o.line}" if o.file else o.kind
        lines.append(f"  first written: {where}, {show(o.at)} by {o.actor}")
    lines.append(f"  last verified: {show(cp.verified_at)} method {show(cp.verification_method)}")
    for v in cp.verifications:
        via = f"answering message {v.outreach_id} ({v.channel})" if v.outreach_id else "-"
        carried = f", {v.token_kind} sent in message {v.carried_by}" if v.carried_by else ""
        lines.append(f"    proof {show(v.at)}: {v.method}, {via}{carried}")
    due = f" ({show(cp.update_due)})" if cp.update_due else ""
    lines.append(f"  needs updating: {UPDATE_RULES[cp.update_rule]}{due}")
    for c in cp.challenges:
        lines.append(
            f"  CHALLENGE {show(c.at)}: {CHALLENGE_KINDS.get(c.kind, c.kind)} [{c.action}]"
            f" by {c.actor}; {show(c.reason)}; message {show(c.outreach_id)}"
        )
    lines += [f"  change {_entry_line(e)}" for e in cp.changes]
    return lines


def _message_lines(m: MessageFacts) -> list[str]:
    why = f"round {show(m.round_id)} ({show(m.campaign)}), step {show(m.step)}"
    lines = [
        f"Message {m.id}: {m.channel} {m.template} ({show(m.locale)}), {m.status},"
        f" created {show(m.created_at)}, sent {show(m.sent_at)}",
        f"  why: {why}; gaps {', '.join(m.gaps) or '-'}; {show(m.reason)}"
        + (f"; contact moment {m.context}" if m.context else ""),
        f"  to contact point {show(m.contact_point_id)} via {show(m.provider)}"
        f" id {show(m.provider_message_id)}" + (f"; error {m.error}" if m.error else ""),
    ]
    lines += [
        f"  event {show(e.occurred_at)} {e.provider} {e.event_type} {show(e.detail)}"
        f" (event {e.provider_event_id})"
        for e in m.events
    ]
    lines += [
        f"  {t.kind} {t.id} issued {show(t.created_at)}, used {show(t.used_at)}" for t in m.links
    ]
    lines += [f"  answer {a.id} {show(a.received_at)}: {show(a.data)}" for a in m.answers]
    return lines


def render_text(dossier: Dossier) -> str:
    p = dossier.profile
    out = [
        f"Dossier of {p.external_id} (profile {p.id}), generated {show(dossier.generated_at)}",
        f"Name: {show(p.given_name)} {show(p.family_name)}; locale {p.locale};"
        f" country {show(p.country)}; time zone {show(p.time_zone)}",
        f"Source: {p.source.kind} {show(p.source.stored)}, {show(p.source.at)}",
        f"Created {show(p.created_at)}; last contacted {show(p.last_contacted_at)};"
        f" last interaction {show(p.last_interaction_at)}; sweep review {show(p.review_due)}",
        "States: " + ", ".join(f"{k} {show(v)}" for k, v in p.states.items()),
    ]
    if dossier.erased:
        out.append("ERASED: personal data deleted; the pseudonymous proof below remains.")
    out += [f"  profile {_entry_line(e)}" for e in p.changes]
    out.append("")
    for cp in dossier.contact_points:
        out += [*_point_lines(cp), ""]
    for m in dossier.messages:
        out += [*_message_lines(m), ""]
    out.append("Rounds:" if dossier.enrollments else "Rounds: none")
    out += [
        f"  round {e.round_id} ({show(e.campaign)}): {e.state}, gaps {', '.join(e.gaps) or '-'},"
        f" step {show(e.step)}, {show(e.created_at)} to {show(e.ended_at)} {show(e.end_reason)}"
        for e in dossier.enrollments
    ]
    out.append("Consents:" if dossier.consents else "Consents: none")
    for c in dossier.consents:
        out.append(
            f"  {show(c.recorded_at)} {c.purpose} ({show(c.channel)}):"
            f" {'granted' if c.granted else 'withdrawn'} via {c.source}; notice"
            f" {show(c.text_version)} ({show(c.text_locale)}) sha256 {show(c.text_sha256)},"
            f" {NOTICE_CHECK[c.text_matches]}; evidence {show(c.evidence)}"
        )
        if c.text_shown is not None:
            out += [f"    | {line}" for line in c.text_shown.splitlines()]
    out.append("Incentives:" if dossier.incentives else "Incentives: none")
    out += [
        f"  {show(i.entered_at)} {i.incentive_key} terms {i.terms_version} sha256"
        f" {i.terms_sha256} (round {i.round_id}): earned {show(i.earned_at)}"
        for i in dossier.incentives
    ]
    out.append("Objection, restriction, archiving, erasure:" if dossier.rights else
               "Objection, restriction, archiving, erasure: none")  # fmt: skip
    out += [f"  {_entry_line(e)}" for e in dossier.rights]
    out.append(f"Audit trail ({len(dossier.trail)} rows):")
    out += [f"  {e.id} {e.entity_type} {show(e.entity_id)} {_entry_line(e)}" for e in dossier.trail]
    return _safe("\n".join(out)) + "\n"


# ------------------------------------------------------------------------------------ HTML


@lru_cache(maxsize=4)
def _environment(templates_dir: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=select_autoescape(enabled_extensions=("html",), default=True),
        undefined=StrictUndefined,
        auto_reload=False,
    )
    env.filters["show"] = show
    return env


def render_html(dossier: Dossier, *, templates_dir: Path) -> str:
    template = _environment(str(templates_dir)).get_template(TEMPLATE)
    return template.render(
        d=dossier,
        update_rules=UPDATE_RULES,
        challenge_kinds=CHALLENGE_KINDS,
        notice_check=NOTICE_CHECK,
        format=FORMAT,
    )


def render(dossier: Dossier, fmt: str, *, templates_dir: Path) -> str:
    """The dossier in ``fmt`` (``text``, ``json`` or ``html``)."""
    if fmt == "json":
        return render_json(dossier)
    if fmt == "html":
        return render_html(dossier, templates_dir=templates_dir)
    if fmt == "text":
        return render_text(dossier)
    raise ValueError(f"unknown dossier format {fmt!r}: expected text, json or html")
