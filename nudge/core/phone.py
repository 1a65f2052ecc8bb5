"""What a call or a text from the phone's log means for touches (pure).

The rules of issue #16, and the decisions the samples left open:

- Answered and placed calls of `min_call_seconds` (30) or more are `call` touches; shorter
  ones are a dropped line or a wrong number. A call answered on a linked device (Android's
  type 7) was answered: it counts like one answered here.
- Texts received or sent are `message` touches; drafts, failed and queued ones reached nobody.
  A group text is a touch for its sender when received (not for the other recipients: being
  copied is no conversation), and for each recipient when sent, the weight shared as for mail.
- A missed, rejected or voicemail call is no touch, but it is unanswered: the person tried
  and got no conversation. Like an unanswered email it is a moment for a tiered person, until
  the user calls or writes back, however soon (a callback four minutes later answers it).
  A blocked caller is nothing.

Touch keys are the minute of the call (or text) in UTC and its direction, per contact: the
same call read from two overlapping backups, or from the backup and a call-log CSV (which
may have only minutes), is one touch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from nudge.core.records import PhoneEvent, PhoneRecord, TouchKind

CALLS_IN: frozenset[PhoneEvent] = frozenset({"answered", "answered_elsewhere"})
UNANSWERED: frozenset[PhoneEvent] = frozenset({"missed", "rejected", "voicemail"})
MIN_WEIGHT = 0.05


@dataclass(frozen=True)
class PhoneRules:
    call_weight: float = 0.8
    message_weight: float = 0.4
    min_call_seconds: int = 30
    history_days: int = 730


@dataclass(frozen=True)
class PhoneTouch:
    number: str  # as the phone stored it: ingest reads it in the user's region
    kind: TouchKind
    external_id: str
    at: datetime
    weight: float
    direction: str  # out | in
    summary: str


def phone_key(kind: str, at: datetime, direction: str) -> str:
    """`phone:call:2026-06-02T11:10Z:in`: one per contact, call (or text) minute and direction."""
    return f"phone:{kind}:{at:%Y-%m-%dT%H:%MZ}:{direction}"


def phone_touches(rec: PhoneRecord, rules: PhoneRules, now: datetime) -> list[PhoneTouch]:
    """The touches one entry of the phone's log gives, one per counterpart number."""
    if rec.at > now or rec.at < now - timedelta(days=rules.history_days) or not rec.numbers:
        return []
    if rec.kind == "call":
        if rec.duration < rules.min_call_seconds:
            return []
        if rec.event in CALLS_IN:
            direction = "in"
        elif rec.event == "placed":
            direction = "out"
        else:
            return []
        minutes = max(1, round(rec.duration / 60))
        kind: TouchKind = "call"
        weight, summary = rules.call_weight, f"call ({minutes} min)"
    else:
        if rec.event not in ("received", "sent"):
            return []
        direction = "in" if rec.event == "received" else "out"
        kind = "message"
        weight = max(rules.message_weight / len(rec.numbers), min(rules.message_weight, MIN_WEIGHT))
        summary = "text message"
    key = phone_key(kind, rec.at, direction)
    return [PhoneTouch(n, kind, key, rec.at, weight, direction, summary) for n in rec.numbers]


def unanswered_call(rec: PhoneRecord) -> bool:
    """A call the person made that got no conversation (missed, rejected, to voicemail)."""
    return rec.kind == "call" and rec.event in UNANSWERED and bool(rec.numbers)
