"""Today's meetings, prepared, and the questions after: what the digest opens with (pure).

For each of today's meetings with people nudge knows: their last touch, last
note, open follow-ups, a job change or birthday, and one curiosity prompt no one
else in the digest gets. After a meeting with someone in a tier, it asks how it
went; after a touch that led to a meeting or a referral, it offers a follow-up.
facts.py gathers the values; this turns them into words.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo

from nudge.core import prompts
from nudge.core.planner import FollowUp, Person, Pick
from nudge.digest.render import (
    WEEKDAY,
    Briefing,
    Facts,
    MeetingView,
    View,
    follow_up_line,
    prompt_for,
    quoted_note,
    short_date,
)

OUTCOME_WORDS = ("meeting", "referral", "opportunity")  # offered after "conversation"


@dataclass(frozen=True)
class Attendee:
    """Someone nudge knows at one of today's meetings, with what the store says about them."""

    person: Person
    facts: Facts
    follow_ups: tuple[FollowUp, ...] = ()  # open ones, any day
    birthday_in: int | None = None  # within a week


@dataclass(frozen=True)
class TodayMeeting:
    """One of today's meetings with the known people at it."""

    at: datetime
    title: str
    attendees: tuple[Attendee, ...]


@dataclass(frozen=True)
class OutcomeAsk:
    """A meeting with someone in a tier since the last digest, with no outcome yet."""

    name: str
    title: str
    day: date


@dataclass(frozen=True)
class FollowOffer:
    """A touch that led to a meeting or a referral: offer to set a follow-up."""

    name: str
    kind: str
    outcome: str
    day: date


def _briefing(a: Attendee, day: date, tz: tzinfo, library: prompts.Library, taken: set[str]) -> Briefing:
    p, f = a.person, a.facts
    if f.last_touch_at is not None:
        local = f.last_touch_at.astimezone(tz).date()
        what = f.last_touch_summary or f.last_touch_kind or "contact"
        days = (day - local).days
        ago = f"{days} day{'s' if days != 1 else ''} ago" if days > 0 else "today"
        last = f"last: {what} on {short_date(local, day)} ({ago})"
    else:
        last = "no contact logged yet"
    news = []
    reasons: list[str] = []
    if f.job_change:
        news.append(f"changed jobs: {f.job_change}")
        reasons.append("job_change")
    if a.birthday_in is not None:
        n = a.birthday_in
        news.append(
            "birthday " + ("today" if n == 0 else "tomorrow" if n == 1 else WEEKDAY[(day.weekday() + n) % 7])
        )
        reasons.append("birthday_soon" if n <= 1 else "birthday")
    pick = Pick(person=p, due=0.0, priority=0.0, reasons=tuple(reasons), birthday_in=a.birthday_in)
    prompt = prompt_for(pick, f, day, library, taken)
    taken.add(prompt)
    return Briefing(
        name=p.name,
        last_touch=last,
        last_note=quoted_note(f, tz, day),
        follow_ups=tuple(follow_up_line(x.text, x.due, day) for x in a.follow_ups),
        news=tuple(news),
        prompt=prompt,
    )


def meeting_views(
    meetings: tuple[TodayMeeting, ...], day: date, tz: tzinfo, library: prompts.Library, taken: set[str]
) -> tuple[MeetingView, ...]:
    """Today's meetings in time order, each person briefed; prompts join `taken`."""
    return tuple(
        MeetingView(
            time=f"{m.at.astimezone(tz):%H:%M}",
            title=m.title,
            people=tuple(_briefing(a, day, tz, library, taken) for a in m.attendees),
        )
        for m in sorted(meetings, key=lambda m: (m.at, m.title))
    )


def _reply_name(name: str) -> str:
    return " ".join(name.split()) or name


def ask_line(ask: OutcomeAsk, day: date, replies: bool) -> str:
    """'How did Coffee with Ana Ruiz on Fri 20 Nov go? Reply `outcome Ana Ruiz meeting` ...'."""
    when = "yesterday" if (day - ask.day).days == 1 else f"on {ask.day:%a} {short_date(ask.day, day)}"
    words = ", ".join(OUTCOME_WORDS)
    name = _reply_name(ask.name)
    how = (
        f"Reply `outcome {name} conversation` (or {words})"
        if replies
        else f'Run `nudge outcome "{name}" conversation` (or {words})'
    )
    return f"How did {ask.title or 'the meeting'} with {ask.name} {when} go? {how}."


def offer_line(offer: FollowOffer, day: date, replies: bool) -> str:
    """'Your call with Ana Ruiz on Mon 23 Nov led to a referral: ...set a follow-up'."""
    article = "an" if offer.outcome[0] in "aeiou" else "a"
    name = _reply_name(offer.name)
    how = (
        f"reply `follow {name} 2w: what you promised`"
        if replies
        else f'run `nudge follow-up "{name}" 2w "what you promised"`'
    )
    when = f"{offer.day:%a} {short_date(offer.day, day)}"
    return (
        f"Your {offer.kind} with {offer.name} on {when} led to {article} {offer.outcome}: "
        f"to come back to it on a day, {how}."
    )


def add_briefs(
    view: View,
    meetings: tuple[TodayMeeting, ...],
    asks: tuple[OutcomeAsk, ...],
    offers: tuple[FollowOffer, ...],
    tz: tzinfo,
    library: prompts.Library,
) -> View:
    """The view with today's meetings, the outcome questions and the follow-up offers; a meeting's
    prompt is one nobody on the list got, so no prompt is repeated in one digest."""
    taken = {e.prompt for e in (*view.entries, *view.partners)}
    replies = bool(view.reply_help)
    return replace(
        view,
        meetings=meeting_views(meetings, view.day, tz, library, taken),
        asks=tuple(ask_line(a, view.day, replies) for a in asks),
        offers=tuple(offer_line(o, view.day, replies) for o in offers),
    )
