"""The forward plan: what the coming days look like if the user follows it."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time

from nudge.core.planner import Person, Rules, forecast

START = date(2026, 11, 23)  # a Monday


def fresh(n: int, cadence: int = 30) -> list[Person]:
    joined = datetime(2026, 11, 20, tzinfo=UTC)
    return [Person(i, f"P{i}", "top100", cadence, "call", joined) for i in range(1, n + 1)]


def test_every_top100_contact_comes_once_per_cadence_and_no_day_overflows() -> None:
    rules = Rules(daily_size=5)
    plans = forecast(fresh(100), START, 60, rules, time(7, 30), UTC)
    seen: dict[int, list[date]] = {}
    for plan in plans:
        assert len(plan.calls) <= 5
        for pick in plan.calls:
            seen.setdefault(pick.person.id, []).append(plan.day)
    assert set(seen) == set(range(1, 101))
    for days in seen.values():
        gaps = [(b - a).days for a, b in itertools.pairwise(days)]
        assert all(g >= 28 for g in gaps), gaps  # not before the cadence comes round again
    firsts = sorted(days[0] for days in seen.values())
    assert (firsts[-1] - START).days < 30  # all reached within the first cadence


def test_weekends_are_empty_and_partners_have_their_slot() -> None:
    people = [*fresh(10), Person(99, "Partner", "partner", 21, "partner", datetime(2026, 11, 1, tzinfo=UTC))]
    plans = forecast(people, START, 7, Rules(daily_size=3, partner_count=1), time(7, 30), UTC)
    assert [p.workday for p in plans] == [True] * 5 + [False] * 2
    assert [k.person.id for k in plans[0].partners] == [99]
    assert all(not p.partners for p in plans[1:5])  # called on Monday, not due again this week
