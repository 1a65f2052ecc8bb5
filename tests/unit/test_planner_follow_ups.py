"""Follow-ups in the planner: a due promise is on the list first, whatever else would keep the
person off it, and the list grows by at most the people with one due."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as st

from nudge.core.planner import FollowUp, Person, Rules, forecast, plan_day
from tests.profiles import scaled
from tests.unit.test_planner import MONDAY, TUESDAY, at, people_and_day, person, plan

UTC_ZONE = at(MONDAY).tzinfo


def promise(fid: int, who: Person, due: date, text: str = "") -> FollowUp:
    return FollowUp(id=fid, person=who, due=due, text=text)


def test_a_due_follow_up_comes_first_with_its_text() -> None:
    people = [person(i, touched_days_ago=40 + i) for i in range(1, 8)]
    ana = person(20, touched_days_ago=3)  # touched lately: no suggestion would name her today
    p = plan_day([*people, ana], MONDAY, at(MONDAY), Rules(daily_size=5), [promise(1, ana, MONDAY, "deck")])
    assert p.calls[0].person.id == 20
    first = p.calls[0]
    assert first.reasons[0] == "follow_up"
    assert [f.text for f in first.follow_ups] == ["deck"]
    assert len(p.calls) == 5  # it takes one of the five places while there is room


def test_follow_ups_go_above_the_daily_size_when_they_must() -> None:
    people = [person(i) for i in range(1, 10)]
    due = [promise(i, people[i], MONDAY - timedelta(days=i)) for i in range(3)]
    p = plan_day(people, MONDAY, at(MONDAY), Rules(daily_size=2), due)
    assert [k.person.id for k in p.calls] == [3, 2, 1]  # every one of them, the latest first
    assert all(k.follow_ups for k in p.calls)


def test_a_snooze_does_not_hide_a_promise_but_a_future_one_waits() -> None:
    ben = person(5, snoozed_until=MONDAY + timedelta(days=30))
    p = plan([ben])
    assert p.calls == ()
    p = plan_day([ben], MONDAY, at(MONDAY), Rules(), [promise(1, ben, MONDAY)])
    assert [k.person.id for k in p.calls] == [5]
    p = plan_day([ben], MONDAY, at(MONDAY), Rules(), [promise(1, ben, TUESDAY)])
    assert p.calls == ()


def test_someone_outside_the_tiers_is_listed_for_a_promise() -> None:
    stranger = Person(id=99, name="Lee", tier="", cadence_days=0, slot="call", joined_at=None)
    p = plan_day([person(1)], MONDAY, at(MONDAY), Rules(), [promise(1, stranger, MONDAY, "intro")])
    assert [k.person.id for k in p.calls] == [99, 1]
    assert p.calls[0].reasons == ("follow_up",)


def test_a_tiered_partner_with_a_promise_is_not_listed_twice() -> None:
    partner = person(7, slot="partner")
    p = plan_day([partner], MONDAY, at(MONDAY), Rules(), [promise(1, partner, MONDAY)])
    assert [k.person.id for k in p.calls] == [7]
    assert p.partners == ()


def test_the_forecast_shows_a_promise_on_its_day_and_not_after() -> None:
    ana = person(1, touched_days_ago=2)
    plans = forecast(
        [ana],
        MONDAY,
        5,
        Rules(),
        time(7),
        UTC_ZONE,
        [promise(1, ana, MONDAY + timedelta(days=2))],  # type: ignore[arg-type]
    )
    named = [[k.person.id for k in p.calls if k.follow_ups] for p in plans]
    assert named == [[], [], [1], [], []]


@st.composite
def with_follow_ups(draw: st.DrawFn) -> tuple[list[Person], date, datetime, Rules, list[FollowUp]]:
    people, today, now, rules = draw(people_and_day())
    strangers = [
        Person(id=1000 + i, name=f"S{i}", tier="", cadence_days=0, slot="call", joined_at=None)
        for i in range(draw(st.integers(0, 3)))
    ]
    everyone = people + strangers
    follow_ups: list[FollowUp] = []
    if everyone:
        for fid in range(draw(st.integers(0, 8))):
            who = draw(st.sampled_from(everyone))
            due = today + timedelta(days=draw(st.integers(-20, 10)))
            follow_ups.append(promise(fid, who, due))
    return people, today, now, rules, follow_ups


@scaled(2 / 5)
@given(case=with_follow_ups())
def test_property_a_due_follow_up_is_never_dropped_and_the_list_stays_bounded(
    case: tuple[list[Person], date, datetime, Rules, list[FollowUp]],
) -> None:
    people, today, now, rules, follow_ups = case
    p = plan_day(people, today, now, rules, follow_ups)
    promised = {f.person.id for f in follow_ups if f.due <= today}
    if today.weekday() not in rules.workdays:
        assert (p.calls, p.partners) == ((), ())
        return
    ids = [k.person.id for k in p.calls]
    assert set(ids[: len(promised)]) == promised  # every one, and first
    assert len(p.calls) <= rules.daily_size + len(promised)
    assert len(p.calls) <= max(rules.daily_size, len(promised))
    assert len(p.partners) <= rules.partner_count
    everyone = ids + [k.person.id for k in p.partners]
    assert len(everyone) == len(set(everyone))  # one list per person per day
    for k in p.calls:
        assert bool(k.follow_ups) == (k.person.id in promised)
        assert all(f.due <= today for f in k.follow_ups)
