"""What a calendar event means for each attendee (pure).

A past meeting is a touch, shared among the people in it; an upcoming one is
a planned meeting. Cancelled events, events the user declined and events too
big to be personal are neither.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from nudge.core.records import Attendee, EventRecord, MessageRecord, Occurrence

MIN_WEIGHT = 0.1
FUTURE_SLACK = timedelta(days=1)  # clocks and time zones are wrong this much at worst
# Local parts of addresses that send for machines, not people.
_MACHINE = re.compile(
    r"^(no-?reply|do-?not-?reply|donotreply|mailer-daemon|postmaster|bounces?|notifications?|"
    r"notify|alerts?|automated|auto-?confirm|newsletters?|news|marketing|info-?noreply)([+._-].*)?$"
)


@dataclass(frozen=True)
class Rules:
    me: frozenset[str]  # the user's normalised addresses
    meeting_weight: float
    max_attendees: int
    history_days: int
    planned_days: int


@dataclass(frozen=True)
class Effect:
    email: str
    external_id: (
        str  # "uid|recurrence-id" ("uid|" for a one-off): unique per contact, so re-sync never duplicates
    )
    at: datetime
    weight: float
    direction: str  # out | in | both
    summary: str
    planned: bool  # True: an upcoming meeting, not a touch


def external_id(uid: str, occurrence: Occurrence) -> str:
    """`UID|RECURRENCE-ID` of an occurrence of a series, `UID|` of a one-off: moving an event keeps it."""
    return f"{uid}|{occurrence.recurrence_id}"


def same_meeting(a: str, b: str) -> bool:
    """Whether two external ids of one UID may name the same meeting.

    Equal ids do. A one-off's id (`UID|`) may be any occurrence of its UID: the
    event turned into a series or back, or a row stored before one-off ids lost
    their start time (then `UID|<start>`).
    """
    return a == b or a.endswith("|") or b.endswith("|")


class Keyed(Protocol):
    @property
    def external_id(self) -> str | None: ...

    @property
    def at(self) -> datetime: ...


K = TypeVar("K", bound=Keyed)


def match(candidates: Iterable[K], key: str, at: datetime) -> K | None:
    """The candidate that is the meeting `key` at `at`: the same id, else the nearest `same_meeting`."""
    loose = []
    for c in candidates:
        if c.external_id == key:
            return c
        if c.external_id is not None and same_meeting(c.external_id, key):
            loose.append(c)
    return min(loose, key=lambda c: abs(c.at - at), default=None)


def occurrence_effects(uid: str, occ: Occurrence, rules: Rules, now: datetime) -> list[Effect]:
    if occ.cancelled:
        return []
    if occ.start < now - timedelta(days=rules.history_days):
        return []
    if occ.start > now + timedelta(days=rules.planned_days):
        return []
    if any(a.email in rules.me and a.declined for a in occ.attendees):
        return []
    invited = _unique(a for a in occ.attendees if a.email not in rules.me)
    listed = {a.email for a in invited}
    if occ.organizer and occ.organizer not in rules.me and occ.organizer not in listed:
        invited.append(Attendee(email=occ.organizer))
    # Who was really there: not rooms, not who declined. They share the meeting.
    others = [a for a in invited if a.person and not a.declined]
    if not others or len(others) > rules.max_attendees:
        return []
    weight = max(MIN_WEIGHT, rules.meeting_weight / len(others))
    planned = occ.start > now
    effects = []
    for person in others:
        if person.email is None:
            continue
        if occ.organizer in rules.me:
            direction = "out"
        elif occ.organizer == person.email:
            direction = "in"
        else:
            direction = "both"
        effects.append(
            Effect(
                email=person.email,
                external_id=external_id(uid, occ),
                at=occ.start,
                weight=weight,
                direction=direction,
                summary=occ.summary,
                planned=planned,
            )
        )
    return effects


def _unique(attendees: Iterable[Attendee]) -> list[Attendee]:
    """One entry per address: calendars list some people twice, in different case."""
    seen: set[str] = set()
    out = []
    for a in attendees:
        if a.email is not None:
            if a.email in seen:
                continue
            seen.add(a.email)
        out.append(a)
    return out


def event_effects(record: EventRecord, rules: Rules, now: datetime) -> list[Effect]:
    return [e for occ in record.occurrences for e in occurrence_effects(record.uid, occ, rules, now)]


def recheck_at(record: EventRecord, now: datetime, planned_days: int) -> datetime | None:
    """When this event must be looked at again without a change at the source.

    An upcoming meeting turns into a touch once it has happened, and a series
    or a far-off event enters the planned window later.
    """
    times = [o.start for o in record.occurrences if o.start > now]
    if record.next_after_window is not None:
        times.append(max(record.next_after_window - timedelta(days=planned_days), now))
    return min(times) if times else None


# --- email ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MailRules:
    me: frozenset[str]  # the user's normalised addresses
    weight: float
    max_recipients: int
    history_days: int


@dataclass(frozen=True)
class MailTouch:
    email: str
    external_id: str  # "mail:<message-id>": the same message from two folders or sources is one touch
    at: datetime
    weight: float
    direction: str  # out | in
    summary: str


def is_machine(address: str) -> bool:
    return bool(_MACHINE.match(address.partition("@")[0]))


def message_touches(rec: MessageRecord, rules: MailRules, now: datetime) -> list[MailTouch]:
    """A message the user sent touches each person it went to; one they got touches its sender.

    Lists, machines, broadcasts (more than `max_recipients` other people) and
    messages outside the history window are no touch. Like a meeting, the
    weight is shared among the people in the conversation.
    """
    if rec.automated or rec.sender is None:
        return []
    if rec.at < now - timedelta(days=rules.history_days) or rec.at > now + FUTURE_SLACK:
        return []
    at = min(rec.at, now)
    others = [a for a in rec.recipients if a not in rules.me]
    outbound = rec.sender in rules.me
    if outbound:
        people = [a for a in others if not is_machine(a)]
        crowd = len(others)
    else:
        people = [rec.sender]
        crowd = len({rec.sender, *others})
    if not people or crowd > rules.max_recipients:
        return []
    weight = max(rules.weight / crowd, min(rules.weight, MIN_WEIGHT))
    summary = f"email “{rec.subject}”" if rec.subject else "email"
    return [
        MailTouch(
            email=person,
            external_id=f"mail:{rec.message_id}",
            at=at,
            weight=weight,
            direction="out" if outbound else "in",
            summary=summary,
        )
        for person in people
    ]
