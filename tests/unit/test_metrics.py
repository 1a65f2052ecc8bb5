"""The funnel arithmetic on a hand-built history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from nudge.core.metrics import Act, Suggested, funnel, reached, trend

MON = date(2026, 11, 9)


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_steps_reached_by_what_happened() -> None:
    assert reached([]) == set()
    assert reached([Act(1, at(MON), "message", None)]) == {"contacted"}
    assert reached([Act(1, at(MON), "call", None)]) == {"contacted", "conversation"}
    assert reached([Act(1, at(MON), "call", "meeting")]) == {"contacted", "conversation", "meeting"}
    assert reached([Act(1, at(MON), "meeting", None)]) == {"contacted", "conversation", "meeting"}
    assert reached([Act(1, at(MON), "email", "opportunity")]) == {
        "contacted",
        "conversation",
        "meeting",
        "referral",
    }


def test_funnel_on_a_hand_built_week() -> None:
    suggested = [
        Suggested(MON + timedelta(days=d), cid) for d, cid in ((0, 1), (0, 2), (1, 3), (2, 4), (3, 5))
    ]
    acts = [
        Act(1, at(MON + timedelta(days=1)), "call", "conversation"),  # contacted, conversation
        Act(2, at(MON + timedelta(days=2)), "meeting", "referral"),  # all the way
        Act(3, at(MON + timedelta(days=9)), "call", None),  # too late: 8 days after the suggestion
        Act(4, at(MON + timedelta(days=3)), "message", None),  # contacted only
        Act(5, at(MON - timedelta(days=1)), "call", None),  # before the suggestion: not an answer to it
        Act(9, at(MON), "call", "meeting"),  # never suggested
    ]
    [week] = funnel(suggested, acts, UTC, [MON])
    assert week.counts == {"suggested": 5, "contacted": 3, "conversation": 2, "meeting": 1, "referral": 1}
    assert week.ratio("contacted") == pytest.approx(3 / 5)
    assert week.ratio("conversation") == pytest.approx(2 / 3)
    assert week.ratio("meeting") == pytest.approx(1 / 2)
    assert week.ratio("referral") == pytest.approx(1.0)


def test_weeks_are_separate_and_empty_weeks_have_no_ratio() -> None:
    later = MON + timedelta(days=7)
    suggested = [Suggested(MON, 1), Suggested(later, 1)]
    acts = [Act(1, at(later + timedelta(days=1)), "call", None)]
    first, second = funnel(suggested, acts, UTC, [MON, later])
    assert (first.counts["contacted"], second.counts["contacted"]) == (0, 1)
    [empty] = funnel([], [], UTC, [MON])
    assert empty.ratio("contacted") is None


def test_trend_compares_the_later_half_with_the_earlier() -> None:
    weeks = [MON + timedelta(days=7 * i) for i in range(4)]
    suggested = [Suggested(w, i * 10 + j) for i, w in enumerate(weeks) for j in range(4)]
    acts = [
        Act(i * 10 + j, at(w + timedelta(days=1)), "call", None)
        for i, w in enumerate(weeks)
        for j in range(i + 1)
    ]
    table = funnel(suggested, acts, UTC, weeks)
    # early weeks: 1/4 and 2/4 contacted (3/8); late weeks: 3/4 and 4/4 (7/8)
    assert trend(table) == pytest.approx(7 / 8 - 3 / 8)
    assert trend(table[:1]) is None
