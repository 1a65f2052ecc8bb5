"""The planner on the first sync of an old address book: everyone's tier is as old as their history.

After the first sync everyone's `joined_at` is None (they were in the tier before their
history began): nobody is a newcomer except people never touched at all, so the most overdue
come first, nobody met within the cadence is picked while someone overdue waits, and the picks
do not change with the minute the digest is planned (no per-person hash decides among people
with a history).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as st

from nudge.core.planner import Person, Plan, Rules, due_of, has_moment, is_newcomer, plan_day, standing

TIERS = (("top100", "call", 30), ("partner", "partner", 21))


@st.composite
def old_address_book(draw: st.DrawFn) -> tuple[list[Person], date, datetime, Rules]:
    """People as `service.load_people` gives them right after the first sync."""
    today = draw(st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31)))
    workdays = frozenset(range(7))
    now = datetime.combine(today, time(7, 30), tzinfo=UTC)
    rules = Rules(
        daily_size=draw(st.integers(1, 8)), partner_count=draw(st.integers(1, 3)), workdays=workdays
    )
    people = []
    for pid in range(1, draw(st.integers(1, 40)) + 1):
        tier, slot, cadence = draw(st.sampled_from(TIERS))
        # half-day ages keep every rule's boundary (7 quiet days, due 0.5) out of a 3-hour window
        age = draw(st.none() | st.integers(0, 730).map(lambda d: timedelta(days=d, hours=12)))
        bday = draw(st.none() | st.dates(min_value=date(1950, 1, 1), max_value=date(2000, 12, 31)))
        people.append(
            Person(
                id=pid,
                name=f"P{pid}",
                tier=tier,
                cadence_days=cadence,
                slot=slot,
                joined_at=None,  # in the tier since before their history (touched or not)
                last_touch_at=None if age is None else now - age,
                first_seen=now - timedelta(days=draw(st.integers(0, 3))),  # the first sync
                birthday=None if bday is None else bday.strftime("--%m-%d"),
            )
        )
    return people, today, now, rules


def chosen(plan: Plan) -> list[tuple[int, ...]]:
    return [tuple(k.person.id for k in plan.calls), tuple(k.person.id for k in plan.partners)]


@given(case=old_address_book())
def test_property_nobody_within_the_cadence_is_picked_while_someone_overdue_waits(
    case: tuple[list[Person], date, datetime, Rules],
) -> None:
    people, today, now, rules = case
    assert not any(is_newcomer(p) for p in people if p.last_touch_at is not None)
    plan = plan_day(people, today, now, rules)
    for slot, picks in (("call", plan.calls), ("partner", plan.partners)):
        picked = {k.person.id for k in picks}
        waiting = [
            p
            for p in people
            if p.slot == slot
            and p.id not in picked
            and standing(p, now) == "overdue"
            and plan_day([p], today, now, rules).calls + plan_day([p], today, now, rules).partners
        ]
        early = [k for k in picks if not has_moment(k) and k.person.last_touch_at is not None and k.due < 1]
        assert not (waiting and early), (
            f"{[k.person.name for k in early]} picked within their cadence "
            f"while {[p.name for p in waiting]} are overdue"
        )
        # and among people with a history, the longer overdue comes first
        ranked = [k for k in picks if not has_moment(k) and not is_newcomer(k.person)]
        assert [k.due for k in ranked] == sorted((k.due for k in ranked), reverse=True)
        assert all(k.due >= due_of(p, now) for k in ranked for p in waiting)


@given(case=old_address_book(), seed=st.integers(0, 2**16), minutes=st.integers(1, 180))
def test_property_the_picks_are_the_same_on_every_run(
    case: tuple[list[Person], date, datetime, Rules], seed: int, minutes: int
) -> None:
    people, today, now, rules = case
    touched = [p for p in people if p.last_touch_at is not None]
    first = plan_day(touched, today, now, rules)
    shuffled = list(touched)
    random.Random(seed).shuffle(shuffled)
    later = now + timedelta(minutes=minutes)  # `nudge digest --dry-run` an hour later, same morning
    assert chosen(plan_day(shuffled, today, now, rules)) == chosen(first)
    assert chosen(plan_day(touched, today, later, rules)) == chosen(first)


def test_people_never_touched_at_the_first_sync_are_spread_not_rushed_ahead_of_the_overdue() -> None:
    now = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
    seen = now - timedelta(days=10)
    founder = Person(1, "Never", "top100", 30, "call", joined_at=None, first_seen=seen)
    joiner = Person(2, "Joined", "top100", 30, "call", joined_at=seen)  # added to the tier 10 days ago
    spread = due_of(founder, seen) - 1.0
    assert 0 <= spread < 0.5
    assert standing(founder, now) == standing(joiner, now) == "new"
    assert due_of(founder, now) == 1.0 + spread + 10 / 30  # rising like everyone's due
    assert due_of(joiner, now) > 1.0 + 20 / 30  # a newcomer's ramp: twice as fast for two weeks
    # on the first morning, everyone silent for 45 days or more comes first
    overdue = [
        Person(
            10 + d, f"Late {d}", "top100", 30, "call", joined_at=None, last_touch_at=now - timedelta(days=d)
        )
        for d in (45, 50, 60)
    ]
    fresh = [
        Person(20 + i, f"Never {i}", "top100", 30, "call", joined_at=None, first_seen=now) for i in range(9)
    ]
    plan = plan_day([*fresh, *overdue], now.date(), now, Rules())
    assert [k.person.name for k in plan.calls[:3]] == ["Late 60", "Late 50", "Late 45"]
