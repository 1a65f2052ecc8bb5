"""Warmth: the decayed touch sum, its score and labels, and how due a contact is."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nudge.core import warmth
from nudge.core.warmth import due, label, roll_forward, score, touch_sum

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
HALF_LIFE = 90.0

# A touch as (age in days before NOW, weight); ages are whole seconds so datetimes are exact.
ages = st.integers(min_value=0, max_value=5 * 365 * 86400).map(lambda s: s / 86400)
later_days = st.integers(min_value=0, max_value=3 * 365 * 86400).map(lambda s: s / 86400)
weights = st.floats(min_value=0.0, max_value=3.0, allow_nan=False)
touch_lists = st.lists(st.tuples(ages, weights), max_size=30)


def touches_at(spec: list[tuple[float, float]], now: datetime = NOW) -> list[tuple[datetime, float]]:
    return [(now - timedelta(days=age), w) for age, w in spec]


def warmth_of(
    touches: list[tuple[datetime, float]], now: datetime = NOW, half_life: float = HALF_LIFE
) -> float:
    return score(touch_sum(touches, now, half_life))


# --- the formula, against numbers worked out by hand -------------------------------------------


def test_no_touches_is_zero_warmth() -> None:
    assert touch_sum([], NOW, HALF_LIFE) == 0.0
    assert warmth_of([]) == 0.0


def test_single_meeting_today_gives_s_one_and_warmth_63() -> None:
    # S = 1.0 * 2^0 = 1; warmth = 100 * (1 - e^-1) = 63.2120558...
    touches = [(NOW, 1.0)]
    assert touch_sum(touches, NOW, HALF_LIFE) == pytest.approx(1.0)
    assert warmth_of(touches) == pytest.approx(63.21205588285577)


def test_mixed_touches_sum_decayed_weights() -> None:
    # meeting today 1.0, call 90 days ago 0.8 -> 0.4, message 180 days ago 0.4 -> 0.1,
    # email 270 days ago 0.3 -> 0.0375: S = 1.5375, warmth = 100 * (1 - e^-1.5375) = 78.5082...
    touches = touches_at([(0, 1.0), (90, 0.8), (180, 0.4), (270, 0.3)])
    assert touch_sum(touches, NOW, HALF_LIFE) == pytest.approx(1.5375)
    assert warmth_of(touches) == pytest.approx(78.50823, abs=1e-4)


def test_touch_one_half_life_old_counts_half() -> None:
    assert touch_sum(touches_at([(90, 1.0)]), NOW, 90) == pytest.approx(0.5)
    assert touch_sum(touches_at([(30, 0.8)]), NOW, 30) == pytest.approx(0.4)
    # two half-lives: a quarter
    assert touch_sum(touches_at([(60, 1.0)]), NOW, 30) == pytest.approx(0.25)


def test_half_life_is_a_parameter() -> None:
    touches = touches_at([(45, 1.0)])
    assert touch_sum(touches, NOW, 45) == pytest.approx(0.5)
    assert touch_sum(touches, NOW, 90) == pytest.approx(2**-0.5)


def test_future_touches_do_not_count_yet() -> None:
    later = [(NOW + timedelta(seconds=1), 1.0), (NOW + timedelta(days=10), 0.8)]
    assert touch_sum(later, NOW, HALF_LIFE) == 0.0
    assert touch_sum([*later, (NOW - timedelta(days=90), 1.0)], NOW, HALF_LIFE) == pytest.approx(0.5)
    # the same touches count fully once their time has come
    assert touch_sum(later, NOW + timedelta(days=10), HALF_LIFE) == pytest.approx(0.8 + 2 ** (-10 / 90))


def test_touch_exactly_now_counts_fully() -> None:
    assert touch_sum([(NOW, 0.4)], NOW, HALF_LIFE) == pytest.approx(0.4)


def test_score_is_100_times_one_minus_exp_minus_s() -> None:
    assert score(0.0) == 0.0
    assert score(math.log(2)) == pytest.approx(50.0)
    assert score(math.log(10)) == pytest.approx(90.0)
    assert score(-1.0) == 0.0  # a negative sum is clamped, never below zero
    assert score(1000.0) == 100.0


def test_roll_forward_by_one_half_life_halves_s() -> None:
    assert roll_forward(1.2, NOW, NOW + timedelta(days=90), 90) == pytest.approx(0.6)
    assert roll_forward(1.2, NOW, NOW, 90) == pytest.approx(1.2)


# --- labels and due ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (100.0, "hot"),
        (70.0, "hot"),
        (69.99, "warm"),
        (40.0, "warm"),
        (39.99, "cooling"),
        (15.0, "cooling"),
        (14.99, "cold"),
        (0.0, "cold"),
    ],
)
def test_labels_at_thresholds_70_40_15(value: float, expected: str) -> None:
    assert label(value) == expected


def test_due_is_days_since_last_touch_over_cadence() -> None:
    assert due(NOW - timedelta(days=45), NOW, 30) == pytest.approx(1.5)
    assert due(NOW - timedelta(days=30), NOW, 30) == pytest.approx(1.0)
    assert due(NOW - timedelta(hours=36), NOW, 21) == pytest.approx(1.5 / 21)
    assert due(NOW, NOW, 30) == 0.0


def test_due_is_none_without_a_touch() -> None:
    assert due(None, NOW, 30) is None


def test_due_of_a_future_touch_is_zero_not_negative() -> None:
    assert due(NOW + timedelta(days=3), NOW, 30) == 0.0


# --- naive datetimes are rejected ------------------------------------------------------------------


def test_naive_now_raises_value_error() -> None:
    naive = datetime(2026, 11, 23, 7, 0)
    touches = [(NOW - timedelta(days=1), 1.0)]
    with pytest.raises(ValueError, match="timezone-aware"):
        touch_sum(touches, naive, HALF_LIFE)
    with pytest.raises(ValueError, match="timezone-aware"):
        roll_forward(1.0, NOW, naive, HALF_LIFE)
    with pytest.raises(ValueError, match="timezone-aware"):
        due(NOW - timedelta(days=1), naive, 30)
    with pytest.raises(ValueError, match="timezone-aware"):
        warmth.require_aware(naive)


def test_require_aware_returns_aware_value_unchanged() -> None:
    assert warmth.require_aware(NOW) is NOW


# --- properties ------------------------------------------------------------------------------------
@given(spec=touch_lists, half_life=st.floats(min_value=1.0, max_value=1000.0))
def test_warmth_always_between_0_and_100(spec: list[tuple[float, float]], half_life: float) -> None:
    assert 0.0 <= warmth_of(touches_at(spec), half_life=half_life) <= 100.0


@given(s=st.floats(allow_nan=False))
def test_score_of_any_sum_is_between_0_and_100(s: float) -> None:
    assert 0.0 <= score(s) <= 100.0


@given(spec=touch_lists, extra=st.tuples(ages, weights), position=st.integers(min_value=0, max_value=30))
def test_adding_a_touch_never_lowers_warmth(
    spec: list[tuple[float, float]], extra: tuple[float, float], position: int
) -> None:
    before = warmth_of(touches_at(spec))
    with_extra = list(spec)
    with_extra.insert(min(position, len(spec)), extra)
    assert warmth_of(touches_at(with_extra)) >= before


@given(spec=touch_lists, days_later=later_days)
def test_warmth_never_rises_without_new_touches(spec: list[tuple[float, float]], days_later: float) -> None:
    later = NOW + timedelta(days=days_later)
    touches = touches_at(spec)
    assert warmth_of(touches, later) <= warmth_of(touches) + 1e-9


@given(
    spec=touch_lists,
    days_later=later_days,
    half_life=st.floats(min_value=1.0, max_value=1000.0),
)
def test_roll_forward_equals_recomputing_from_touches(
    spec: list[tuple[float, float]], days_later: float, half_life: float
) -> None:
    t0 = NOW
    t1 = NOW + timedelta(days=days_later)
    touches = touches_at(spec, t0)
    stored = touch_sum(touches, t0, half_life)
    assert roll_forward(stored, t0, t1, half_life) == pytest.approx(
        touch_sum(touches, t1, half_life), rel=1e-9, abs=1e-12
    )
