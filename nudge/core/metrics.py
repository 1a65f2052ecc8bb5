"""The outreach funnel, step by step (pure).

suggested -> contacted within 7 days of the suggestion -> conversation ->
meeting -> referral or opportunity. A later step counts only for people who
reached the one before, so each ratio says where the method leaks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

OUTCOMES = ("conversation", "meeting", "referral", "opportunity")
STEPS = ("suggested", "contacted", "conversation", "meeting", "referral")
WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Suggested:
    day: date
    contact_id: int


@dataclass(frozen=True)
class Act:
    contact_id: int
    at: datetime
    kind: str
    outcome: str | None


@dataclass
class Week:
    start: date  # a Monday
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STEPS, 0))

    def ratio(self, step: str) -> float | None:
        """Share of the previous step that reached this one."""
        i = STEPS.index(step)
        before = self.counts[STEPS[i - 1]] if i else 0
        return self.counts[step] / before if before else None


def reached(acts: list[Act]) -> set[str]:
    """Steps one suggestion reached, from what happened in the week after it."""
    steps: set[str] = set()
    if not acts:
        return steps
    steps.add("contacted")
    outcomes = {a.outcome for a in acts if a.outcome}
    if outcomes or any(a.kind in ("call", "meeting") for a in acts):
        steps.add("conversation")
    if outcomes & {"meeting", "referral", "opportunity"} or any(a.kind == "meeting" for a in acts):
        steps.add("meeting")
    if outcomes & {"referral", "opportunity"}:
        steps.add("referral")
    return steps


def funnel(suggested: Iterable[Suggested], acts: Iterable[Act], tz: tzinfo, weeks: list[date]) -> list[Week]:
    """One Week per Monday in `weeks`, counting the suggestions made that week."""
    by_contact: dict[int, list[Act]] = {}
    for a in acts:
        by_contact.setdefault(a.contact_id, []).append(a)
    table = {start: Week(start) for start in weeks}
    for s in suggested:
        week = table.get(s.day - timedelta(days=s.day.weekday()))
        if week is None:
            continue
        begin = datetime.combine(s.day, datetime.min.time(), tzinfo=tz)
        after = [a for a in by_contact.get(s.contact_id, []) if begin <= a.at < begin + WINDOW]
        week.counts["suggested"] += 1
        for step in reached(after):
            week.counts[step] += 1
    return [table[w] for w in weeks]


def trend(weeks: list[Week], step: str = "contacted") -> float | None:
    """Change in the step's ratio: the later half of the weeks against the earlier half."""
    half = len(weeks) // 2
    if half == 0:
        return None

    def pooled(part: list[Week]) -> float | None:
        before = sum(w.counts[STEPS[STEPS.index(step) - 1]] for w in part)
        return sum(w.counts[step] for w in part) / before if before else None

    early, late = pooled(weeks[:half]), pooled(weeks[half:])
    return None if early is None or late is None else late - early
