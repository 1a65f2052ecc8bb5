"""Top-100 ranking by relationship evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from nudge.core.ranking import Evidence, rank, reasons, score
from tests.profiles import scaled

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def ev(
    cid: int = 1,
    meetings: int = 0,
    calls: int = 0,
    days_ago: float | None = None,
    months: int = 0,
    inbound: int = 0,
    outbound: int = 0,
    referrals: int = 0,
) -> Evidence:
    counts = {k: n for k, n in (("meeting", meetings), ("call", calls)) if n}
    last = NOW - timedelta(days=days_ago) if days_ago is not None else None
    return Evidence(cid, f"P{cid}", None, counts, last, months, inbound, outbound, referrals)


def test_reasons_read_like_a_person_would_say_them() -> None:
    e = ev(meetings=11, calls=1, days_ago=21, months=7, inbound=3, outbound=9, referrals=2)
    assert reasons(e, NOW) == "11 meetings, 1 call, last 3 weeks ago, in 7 months, both ways, 2 referrals"
    assert reasons(ev(meetings=1, days_ago=0.2, months=1, outbound=1), NOW) == "1 meeting, last today"
    assert reasons(ev(referrals=1), NOW) == "1 referral"


def test_each_kind_of_evidence_raises_the_score() -> None:
    base = ev(meetings=3, days_ago=60, months=2, outbound=3)
    for better in (
        ev(meetings=4, days_ago=60, months=2, outbound=3),
        ev(meetings=3, calls=1, days_ago=60, months=2, outbound=4),
        ev(meetings=3, days_ago=10, months=2, outbound=3),
        ev(meetings=3, days_ago=60, months=3, outbound=3),
        ev(meetings=3, days_ago=60, months=2, inbound=1, outbound=3),
        ev(meetings=3, days_ago=60, months=2, outbound=3, referrals=1),
    ):
        assert score(better, NOW) > score(base, NOW)


meeting_days = st.lists(st.integers(min_value=0, max_value=729), max_size=30)


@scaled(4 / 3)
@given(
    days=meeting_days,
    extra=st.integers(min_value=0, max_value=729),
    newer=st.integers(min_value=0, max_value=729),
)
def test_strictly_more_and_more_recent_meetings_never_rank_lower(
    days: list[int], extra: int, newer: int
) -> None:
    """A has B's meetings plus one more, and its latest is at least as recent: A ranks above B."""

    def evidence(cid: int, ages: list[int]) -> Evidence:
        months = len({(NOW - timedelta(days=a)).strftime("%Y-%m") for a in ages})
        last = min(ages) if ages else None
        return ev(cid, meetings=len(ages), days_ago=last, months=months, outbound=len(ages))

    b = evidence(2, days)
    a_ages = [*days, min([extra, newer, *days])]
    a = evidence(1, a_ages)
    assert score(a, NOW) > score(b, NOW)
    assert rank([b, a], NOW, 2)[0].evidence.id == 1


def test_rank_limits_and_orders() -> None:
    people = [ev(i, meetings=i, days_ago=30, months=1, outbound=i) for i in range(1, 8)]
    assert [r.evidence.id for r in rank(people, NOW, 3)] == [7, 6, 5]
