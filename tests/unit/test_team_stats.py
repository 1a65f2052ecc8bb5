"""The manager's view, pure parts: curious calls, referrals given, streaks, top-100 health, the layout."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from nudge.core import metrics, planner
from nudge.core.teamstats import (
    Behaviour,
    Call,
    Prompted,
    Streak,
    TopHealth,
    behaviour,
    days_late,
    is_curious,
    streak,
    top_health,
)
from nudge.reports.method import Health
from nudge.reports.team import Rep, Team, as_dict, text, totals

BERLIN = ZoneInfo("Europe/Berlin")
MON = date(2026, 11, 9)
WORKDAYS = frozenset(range(5))
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # a Friday


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_a_call_is_curious_with_a_note_or_after_a_prompt_within_a_week() -> None:
    prompted = [Prompted(7, MON)]
    assert is_curious(Call(1, at(MON), noted=True), [], BERLIN)
    assert not is_curious(Call(1, at(MON), noted=False), prompted, BERLIN)  # someone else was prompted
    assert is_curious(Call(7, at(MON + timedelta(days=6)), noted=False), prompted, BERLIN)
    assert not is_curious(Call(7, at(MON + timedelta(days=7)), noted=False), prompted, BERLIN)
    assert not is_curious(Call(7, at(MON - timedelta(days=1)), noted=False), prompted, BERLIN)


def test_behaviour_is_counted_per_local_week() -> None:
    sunday_night = datetime(2026, 11, 15, 23, 30, tzinfo=UTC)  # Monday 00:30 in Berlin: week two
    calls = [
        Call(1, at(MON), noted=True),
        Call(2, at(MON + timedelta(days=1)), noted=False),  # plain call: not counted
        Call(3, sunday_night, noted=True),
        Call(4, at(MON - timedelta(days=3)), noted=True),  # before the weeks asked for
    ]
    given = [at(MON + timedelta(days=2)), at(MON + timedelta(days=8)), at(MON + timedelta(days=9))]
    weeks = [MON, MON + timedelta(days=7)]
    rows = behaviour(calls, [], given, BERLIN, weeks)
    assert [r.counts for r in rows] == [
        {"curious_calls": 1, "referrals_given": 1},
        {"curious_calls": 1, "referrals_given": 2},
    ]


def test_streak_counts_workdays_running_and_weekends_neither_break_nor_owe() -> None:
    fri = MON + timedelta(days=4)
    active = {MON, MON + timedelta(days=1), MON + timedelta(days=3), fri, fri + timedelta(days=3)}
    # Wednesday missed: the run restarts on Thursday; Thu, Fri, (weekend), Mon = 3.
    assert streak(active, fri + timedelta(days=3), MON, WORKDAYS) == Streak(current=3, longest=3)
    # Today (Tuesday) has no outreach yet: the run still stands.
    assert streak(active, fri + timedelta(days=4), MON, WORKDAYS).current == 3
    # A workday missed yesterday breaks it.
    assert streak(active, fri + timedelta(days=5), MON, WORKDAYS) == Streak(current=0, longest=3)
    # A Saturday call adds to the run.
    assert streak(active | {fri + timedelta(days=1)}, fri + timedelta(days=3), MON, WORKDAYS).current == 4
    assert streak(set(), MON, MON, WORKDAYS) == Streak(0, 0)


def person(pid: int, tier: str, days_ago: float | None, cadence: int = 30) -> planner.Person:
    return planner.Person(
        id=pid,
        name=f"Person {pid}",
        tier=tier,
        cadence_days=cadence,
        slot="call",
        joined_at=None,
        last_touch_at=None if days_ago is None else NOW - timedelta(days=days_ago),
        first_seen=NOW - timedelta(days=100),
    )


def test_top_health_counts_overdue_and_the_median_days_late() -> None:
    people = [
        person(1, "top100", 10),  # within
        person(2, "top100", 34),  # 4 days late
        person(3, "top100", 40),  # 10 days late
        person(4, "top100", 50),  # 20 days late
        person(5, "top100", None),  # never touched: new, not late
        person(6, "partner", 90),  # another tier: not counted
    ]
    health = top_health(people, NOW)
    assert health == TopHealth(people=5, within=1, overdue=3, new=1, median_days_late=10.0)
    assert health.overdue_share == 3 / 5
    assert days_late(people[0], NOW) is None
    assert days_late(people[4], NOW) is None
    assert top_health([], NOW).overdue_share is None
    assert top_health([], NOW).median_days_late is None


def a_rep(name: str, curious: int, given: int, meetings: int) -> Rep:
    week = metrics.Week(MON)
    week.counts.update(suggested=10, contacted=6, conversation=4, meeting=meetings, referral=1)
    done = Behaviour(MON)
    done.counts.update(curious_calls=curious, referrals_given=given)
    return Rep(
        name=name,
        weeks=[week],
        behaviour=[done],
        trend=None,
        health=[Health("top100", 80, 15, 5)],
        top100=TopHealth(people=100, within=80, overdue=15, new=5, median_days_late=6.0),
        streak=Streak(current=4, longest=9),
    )


def test_the_report_puts_behaviour_before_results_and_counts_who_does_not_share() -> None:
    team = Team([a_rep("ana", 7, 2, 3), a_rep("ben", 1, 0, 2)], not_sharing=1)
    lines = text(team, 1)
    assert lines[0] == (
        "Team, last 1 week, 2 sharing: 8 curious calls, 2 referrals given, 5 meetings, "
        "2 referrals and opportunities"
    )
    header = next(line for line in lines if "curious" in line and "sugg" in line)
    assert header.index("curious") < header.index("given") < header.index("meet")
    assert "ana: 7 curious calls, 2 referrals given, 3 meetings" in lines
    assert "  top 100: 100 people, 15% overdue (median 6 days late), 5 not contacted since joining" in lines
    assert "  streak: 4 workdays running (longest 9)" in lines
    assert lines[-1] == "Not sharing: 1 rep does not share their figures."

    data = as_dict(team, 1, NOW)
    assert data["not_sharing"] == 1
    week = data["reps"][0]["weeks"][0]
    assert list(week)[:3] == ["week", "curious_calls", "referrals_given"]
    assert week["contacted_ratio"] == 0.6
    assert week["conversation_ratio"] == 4 / 6
    assert week["meeting_ratio"] == 0.75
    assert data["reps"][0]["top100"]["overdue_share"] == 0.15
    assert list(totals(team.reps[0]))[:2] == ["curious_calls", "referrals_given"]


def test_nobody_sharing_prints_only_the_count() -> None:
    assert text(Team([], not_sharing=2), 4) == ["Not sharing: 2 reps do not share their figures."]
