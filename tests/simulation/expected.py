"""What each customer should have received, worked out from the rules alone.

A small, separate model of the rules the product implements, written the plain way: walk the
clock tick by tick and, at each tick, ask "may this step go out now?" by looking at the local
wall clock and counting recent messages. It shares no code with the product (not its window
arithmetic, not its cap release times, not its holiday calendar), so an error in either shows
up as a difference between the two histories.

The rules, as the brief and README state them:
- ladder email, wait 5 days; SMS, wait 5 days; letter, wait 21 days; then exhausted. A step
  without a usable contact point is skipped at once (recorded when the next step is written).
- email 08:00-21:00 Mon-Sat and SMS 09:00-20:00 Mon-Fri, in the customer's time zone (theirs if
  set, else Amsterdam for NL); letters Mon-Fri in Amsterdam, not on Dutch public holidays,
  before 15:00. A held step waits (with a reason) and goes out at the first allowed instant.
- caps: at most 4 messages, 3 emails, 2 SMS, 1 letter per profile in any 30 days, counting
  every message sent (ladder steps and contact-moment asks; a bounced one was not delivered).
- a hard bounce or a dead number makes the next step due at once; STOP opts the number out,
  a one-click unsubscribe the email address; the ladder goes on by the other channels.
- a confirmed address plus an answer to the required question completes the enrollment; an
  answer without it leaves the enrollment to run out, its end reason naming what stayed open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tests.simulation.population import END, START, TICK, Customer, Moment

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
# Dutch public holidays within the simulated weeks (Christmas, Boxing Day, New Year's Day).
NL_HOLIDAYS = frozenset({date(2026, 12, 25), date(2026, 12, 26), date(2027, 1, 1)})
LADDER = (("email", 5), ("sms", 5), ("letter", 21))
KIND = {"email": "email", "sms": "mobile", "letter": "address"}
PERIOD = timedelta(days=30)
MAX_MESSAGES = 4
PER_CHANNEL = {"email": 3, "sms": 2, "letter": 1}
NOUNS = {"email": "emails", "sms": "sms", "letter": "letter"}
WINDOWS = {  # channel: (first hour, end hour, weekdays), local to the customer
    "email": (8, 21, range(6), "08:00–21:00 Mon–Sat"),
    "sms": (9, 20, range(5), "09:00–20:00 Mon–Fri"),
}
CUTOFF = time(15)
NO_USABLE = {"email": "no usable email", "sms": "no usable mobile", "letter": "no usable address"}

# One line of a history: (instant, channel, template, context, status).
Line = tuple[datetime, str, str, str | None, str]


@dataclass
class Expected:
    history: list[Line] = field(default_factory=list)
    state: str = "active"
    ended_at: datetime | None = None
    end_reason: str | None = None
    wait_reasons: set[str] = field(default_factory=set)
    moments: list[str] = field(default_factory=list)  # "asked" or why not
    answer: str | None = None  # "completed", "not completed"


def zone_of(customer: Customer) -> ZoneInfo:
    return ZoneInfo(customer.script.time_zone or "Europe/Amsterdam")


def window_reason(channel: str, t: datetime, zone: ZoneInfo) -> str | None:
    """Why ``channel`` may not send at ``t``, or None when it may."""
    if channel == "letter":
        local = t.astimezone(AMSTERDAM)
        if local.weekday() >= 5 or local.date() in NL_HOLIDAYS:
            return "letters go out on working days"
        if local.time() >= CUTOFF:
            return "after the print cut-off (15:00 Europe/Amsterdam)"
        return None
    first, end, days, text = WINDOWS[channel]
    local = t.astimezone(zone)
    if local.weekday() in days and first <= local.hour < end:
        return None
    return f"quiet hours ({channel} {text}, {zone.key})"


def cap_reason(channel: str, t: datetime, counted: list[Line]) -> str | None:
    """Why one more message on ``channel`` exceeds a cap at ``t``, or None; of two caps, the
    one that lasts longer."""
    recent = sorted(line[0] for line in counted if line[0] + PERIOD > t)
    same = sorted(line[0] for line in counted if line[1] == channel and line[0] + PERIOD > t)
    limit = PER_CHANNEL[channel]
    holds: list[tuple[datetime, str]] = []
    if len(recent) >= MAX_MESSAGES:
        holds.append(
            (recent[-MAX_MESSAGES] + PERIOD, f"frequency cap: {MAX_MESSAGES} messages in 30 days")
        )
    if len(same) >= limit:
        noun = NOUNS[channel] if limit > 1 else channel
        holds.append((same[-limit] + PERIOD, f"frequency cap: {limit} {noun} in 30 days"))
    if not holds:
        return None
    return max(holds, key=lambda hold: hold[0])[1]


class _Walk:
    """One customer's enrollment, advanced tick by tick."""

    def __init__(self, customer: Customer) -> None:
        self.customer = customer
        self.script = customer.script
        self.zone = zone_of(customer)
        self.out = Expected()
        self.usable = {ch: KIND[ch] not in self.script.lacks for ch, _ in LADDER}
        self.opted_out: set[str] = set()
        self.step = -1
        self.due: datetime | None = START
        self.waiting = False
        self.ladder_line: dict[int, int] = {}  # step -> index in history
        self.completed_gaps = False

    def counted(self) -> list[Line]:
        return [line for line in self.out.history if line[4] == "sent"]

    def end(self, t: datetime, state: str, reason: str) -> None:
        self.out.state, self.out.ended_at, self.out.end_reason = state, t, reason
        self.due = None

    def on_answer(self, t: datetime) -> None:
        answer = self.script.answer
        assert answer is not None
        assert any(line[1] == answer.via and line[4] == "sent" for line in self.out.history), (
            f"{self.customer.external_id}: script answers through a message not yet sent"
        )
        self.completed_gaps = True  # the address is confirmed either way
        if answer.consent and self.out.state == "active":
            self.end(t, "completed", "goal met")
            self.out.answer = "completed"
        else:
            self.out.answer = "not completed"

    def on_failure(self, t: datetime, step: int) -> None:
        """A hard bounce (email) or dead number (SMS) of the ladder message of ``step``."""
        index = self.ladder_line[step]
        self.out.history[index] = (*self.out.history[index][:4], "failed")
        self.usable[LADDER[step][0]] = False
        if self.out.state == "active" and self.step == step and self.due and self.due > t:
            self.due = t

    def on_moment(self, t: datetime, moment: Moment) -> None:
        assert self.out.state in ("active", "completed"), "a moment after exhaustion: unscripted"
        if moment.channel in self.opted_out:
            self.out.moments.append("opted_out")
        elif self.completed_gaps and self.out.state == "completed":
            self.out.moments.append("complete")
        elif cap_reason(moment.channel, t, self.counted()) is not None:
            self.out.moments.append("capped")
        else:
            self.out.moments.append("asked")
            self.out.history.append((t, moment.channel, "moment", moment.context, "sent"))

    def events(self, t: datetime) -> None:
        s = self.script
        if s.answer is not None and s.answer.at == t:
            self.on_answer(t)
        if s.bounce_at == t:
            self.on_failure(t, 0)
        if s.dead_number_at == t:
            self.on_failure(t, 1)
        if s.stop_at == t:
            self.usable["sms"] = False
            self.opted_out.add("sms")
        if s.unsubscribe_at == t:
            self.usable["email"] = False
            self.opted_out.add("email")
        for moment in s.moments:
            if moment.at == t:
                self.on_moment(t, moment)

    def dispatch(self, t: datetime) -> None:
        if self.out.state != "active" or self.due is None or self.due > t:
            return
        following = range(self.step + 1, len(LADDER))
        index = next((i for i in following if self.usable[LADDER[i][0]]), None)
        skipped = [i for i in following if index is None or i < index]
        if index is not None:
            channel = LADDER[index][0]
            why = cap_reason(channel, t, self.counted()) or window_reason(channel, t, self.zone)
            if why is not None:
                if not self.waiting:  # the reason is written when the wait starts
                    self.out.wait_reasons.add(why)
                self.waiting = True
                return
        self.waiting = False
        for i in skipped:
            self.out.history.append((t, LADDER[i][0], "ask", None, "skipped"))
        if index is None:
            reason = "ladder exhausted" if self.step >= 0 else "no usable contact point"
            if self.out.answer is not None:
                # Answering customers lack only the address, which they confirmed: what stayed
                # open is the required question.
                reason += "; answered, still open: consent for service"
            self.end(t, "exhausted", reason)
            return
        self.ladder_line[index] = len(self.out.history)
        self.out.history.append((t, LADDER[index][0], "ask", None, "sent"))
        self.step = index
        self.due = t + timedelta(days=LADDER[index][1])


def expected(customer: Customer) -> Expected:
    """The customer's whole history over the simulated weeks (scripted events first at a tick,
    then the ladder)."""
    walk = _Walk(customer)
    t = START
    while t <= END:
        walk.events(t)
        walk.dispatch(t)
        t += TICK
    walk.out.history.sort(key=lambda line: (line[0], line[3] or "", line[1]))
    return walk.out
