"""What an event occurrence means for each attendee: touch, planned meeting, or nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nudge.core.records import Attendee, EventRecord, Occurrence
from nudge.core.touches import (
    MIN_WEIGHT,
    Effect,
    Rules,
    event_effects,
    external_id,
    match,
    occurrence_effects,
    recheck_at,
    same_meeting,
)
from nudge.parse.ical import parse_ical
from tests.builders import ME, vcalendar, vevent
from tests.profiles import scaled

RULES = Rules(me=frozenset({ME}), meeting_weight=1.0, max_attendees=8, history_days=730, planned_days=14)
ANA, BEN, CEM = "ana@example.com", "ben@example.com", "cem@example.com"
ALT = "me@work.example"  # a second address of the user's
TWO_ADDRESSES = Rules(
    me=frozenset({ME, ALT}), meeting_weight=1.0, max_attendees=8, history_days=730, planned_days=14
)


def occ(
    start: datetime,
    *others: str,
    organizer: str | None = ME,
    declined: frozenset[str] = frozenset(),
    me_declined: bool = False,
    cancelled: bool = False,
    rid: str | None = None,
    summary: str = "Coffee",
) -> Occurrence:
    """An occurrence the user attends with `others`; `declined` lists who said no."""
    attendees = (Attendee(ME, declined=me_declined), *(Attendee(a, declined=a in declined) for a in others))
    return Occurrence(
        recurrence_id=rid or start.strftime("%Y%m%dT%H%M%SZ"),
        start=start,
        summary=summary,
        cancelled=cancelled,
        organizer=organizer,
        attendees=attendees,
    )


def people(n: int) -> list[str]:
    return [f"p{i}@example.com" for i in range(n)]


def by_email(effects: list[Effect]) -> dict[str, Effect]:
    return {e.email: e for e in effects}


# --- weight -------------------------------------------------------------------


def test_one_to_one_past_meeting_is_one_full_touch(now: datetime) -> None:
    start = now - timedelta(days=3)
    [effect] = occurrence_effects("u1", occ(start, ANA), RULES, now)
    assert effect == Effect(
        email=ANA,
        external_id=f"u1|{start:%Y%m%dT%H%M%SZ}",
        at=start,
        weight=1.0,
        direction="out",
        summary="Coffee",
        planned=False,
    )


def test_three_others_share_the_weight(now: datetime) -> None:
    effects = occurrence_effects("u1", occ(now - timedelta(days=3), ANA, BEN, CEM), RULES, now)
    assert sorted(e.email for e in effects) == [ANA, BEN, CEM]
    assert all(e.weight == pytest.approx(1 / 3) for e in effects)


def test_weight_follows_meeting_weight(now: datetime) -> None:
    rules = Rules(me=RULES.me, meeting_weight=0.6, max_attendees=8, history_days=730, planned_days=14)
    effects = occurrence_effects("u1", occ(now - timedelta(days=3), ANA, BEN), rules, now)
    assert [e.weight for e in effects] == [pytest.approx(0.3)] * 2


def test_large_meeting_weight_has_a_floor(now: datetime) -> None:
    rules = Rules(me=RULES.me, meeting_weight=1.0, max_attendees=30, history_days=730, planned_days=14)
    effects = occurrence_effects("u1", occ(now - timedelta(days=3), *people(20)), rules, now)
    assert len(effects) == 20
    assert {e.weight for e in effects} == {MIN_WEIGHT}
    assert MIN_WEIGHT == 0.1


def test_exactly_max_attendees_others_still_counts(now: datetime) -> None:
    effects = occurrence_effects("u1", occ(now - timedelta(days=3), *people(8)), RULES, now)
    assert len(effects) == 8
    assert [e.weight for e in effects] == [pytest.approx(1 / 8)] * 8


def test_more_than_max_attendees_others_is_no_touch(now: datetime) -> None:
    assert occurrence_effects("u1", occ(now - timedelta(days=3), *people(9)), RULES, now) == []


def test_organizer_counts_toward_max_attendees(now: datetime) -> None:
    """8 listed others plus an unlisted organizer are 9 others: too big."""
    o = occ(now - timedelta(days=3), *people(8), organizer="boss@example.com")
    assert occurrence_effects("u1", o, RULES, now) == []


# --- no touch -------------------------------------------------------------------


def test_cancelled_meeting_is_no_touch(now: datetime) -> None:
    assert occurrence_effects("u1", occ(now - timedelta(days=3), ANA, cancelled=True), RULES, now) == []


def test_cancelled_upcoming_meeting_is_not_planned(now: datetime) -> None:
    assert occurrence_effects("u1", occ(now + timedelta(days=3), ANA, cancelled=True), RULES, now) == []


def test_meeting_the_user_declined_is_no_touch(now: datetime) -> None:
    o = occ(now - timedelta(days=3), ANA, BEN, organizer=ANA, me_declined=True)
    assert occurrence_effects("u1", o, RULES, now) == []


def test_meeting_declined_from_another_address_of_the_user_is_no_touch(now: datetime) -> None:
    rules = TWO_ADDRESSES
    o = Occurrence("r", now - timedelta(days=3), organizer=ANA, attendees=(Attendee(ALT, declined=True),))
    assert occurrence_effects("u1", o, rules, now) == []


def test_contact_who_declined_gets_nothing_and_the_others_still_do(now: datetime) -> None:
    o = occ(now - timedelta(days=3), ANA, BEN, CEM, declined=frozenset({BEN}))
    effects = by_email(occurrence_effects("u1", o, RULES, now))
    assert set(effects) == {ANA, CEM}


def test_contact_who_declined_does_not_dilute_the_weight(now: datetime) -> None:
    """The weight divides by who was there: Ana and Cem share it, 1/2 each, not 1/3."""
    o = occ(now - timedelta(days=3), ANA, BEN, CEM, declined=frozenset({BEN}))
    effects = occurrence_effects("u1", o, RULES, now)
    assert [e.weight for e in effects] == [pytest.approx(1 / 2)] * 2


def test_rooms_and_resources_are_not_attendees(now: datetime) -> None:
    o = Occurrence(
        "r",
        now - timedelta(days=3),
        organizer=ME,
        attendees=(
            Attendee(ME),
            Attendee(ANA),
            Attendee("room4@example.com", name="Room 4", person=False),
            Attendee(None, name="Projector", person=False),
        ),
    )
    [effect] = occurrence_effects("u1", o, RULES, now)
    assert (effect.email, effect.weight) == (ANA, pytest.approx(1.0))


def test_one_to_one_the_contact_declined_is_no_touch(now: datetime) -> None:
    o = occ(now - timedelta(days=3), ANA, declined=frozenset({ANA}))
    assert occurrence_effects("u1", o, RULES, now) == []


def test_meeting_alone_is_no_touch(now: datetime) -> None:
    assert occurrence_effects("u1", occ(now - timedelta(days=3)), RULES, now) == []


def test_attendee_without_email_gets_nothing_but_counts_in_the_weight(now: datetime) -> None:
    """A person without an address is one more attendee, so Ana's touch is 1/2."""
    o = Occurrence(
        "r",
        now - timedelta(days=3),
        organizer=ME,
        attendees=(Attendee(ME), Attendee(ANA), Attendee(None, name="Room 4")),
    )
    [effect] = occurrence_effects("u1", o, RULES, now)
    assert (effect.email, effect.weight) == (ANA, pytest.approx(0.5))


def test_attendee_listed_twice_is_one_person(now: datetime) -> None:
    o = occ(now - timedelta(days=3), ANA, ANA)
    [effect] = occurrence_effects("u1", o, RULES, now)
    assert effect.weight == 1.0


# --- who gets an effect, and which direction --------------------------------------


def test_organizer_not_in_the_attendee_list_is_counted(now: datetime) -> None:
    o = occ(now - timedelta(days=3), BEN, organizer=ANA)
    effects = by_email(occurrence_effects("u1", o, RULES, now))
    assert set(effects) == {ANA, BEN}
    assert [e.weight for e in effects.values()] == [pytest.approx(0.5)] * 2


def test_organizer_also_in_the_attendee_list_is_counted_once(now: datetime) -> None:
    o = occ(now - timedelta(days=3), ANA, BEN, organizer=ANA)
    effects = occurrence_effects("u1", o, RULES, now)
    assert sorted(e.email for e in effects) == [ANA, BEN]
    assert [e.weight for e in effects] == [pytest.approx(0.5)] * 2


def test_direction_is_out_when_the_user_organised(now: datetime) -> None:
    effects = occurrence_effects("u1", occ(now - timedelta(days=3), ANA, BEN, organizer=ME), RULES, now)
    assert {e.direction for e in effects} == {"out"}


def test_direction_is_out_when_another_address_of_the_user_organised(now: datetime) -> None:
    rules = TWO_ADDRESSES
    [effect] = occurrence_effects("u1", occ(now - timedelta(days=3), ANA, organizer=ALT), rules, now)
    assert (effect.email, effect.direction, effect.weight) == (ANA, "out", 1.0)


def test_direction_is_in_for_the_organizer_and_both_for_the_rest(now: datetime) -> None:
    effects = by_email(
        occurrence_effects("u1", occ(now - timedelta(days=3), ANA, BEN, organizer=ANA), RULES, now)
    )
    assert effects[ANA].direction == "in"
    assert effects[BEN].direction == "both"


def test_direction_is_both_without_an_organizer(now: datetime) -> None:
    [effect] = occurrence_effects("u1", occ(now - timedelta(days=3), ANA, organizer=None), RULES, now)
    assert effect.direction == "both"


def test_the_users_own_addresses_never_get_an_effect(now: datetime) -> None:
    rules = TWO_ADDRESSES
    for organizer in (ME, ALT, ANA, None):
        o = Occurrence(
            "r",
            now - timedelta(days=3),
            organizer=organizer,
            attendees=(Attendee(ME), Attendee(ALT), Attendee(ANA)),
        )
        effects = occurrence_effects("u1", o, rules, now)
        assert [e.email for e in effects] == [ANA], organizer
        assert effects[0].weight == 1.0


# --- time: history, now, planned ---------------------------------------------------


def test_upcoming_meeting_within_planned_days_is_planned(now: datetime) -> None:
    start = now + timedelta(days=13)
    [effect] = occurrence_effects("u1", occ(start, ANA), RULES, now)
    assert effect.planned
    assert effect.at == start


def test_meeting_exactly_now_is_a_touch_not_planned(now: datetime) -> None:
    [effect] = occurrence_effects("u1", occ(now, ANA), RULES, now)
    assert not effect.planned


def test_meeting_a_second_from_now_is_planned(now: datetime) -> None:
    [effect] = occurrence_effects("u1", occ(now + timedelta(seconds=1), ANA), RULES, now)
    assert effect.planned


@pytest.mark.parametrize("days", [14.001, 15, 400])
def test_meeting_beyond_planned_days_is_nothing(now: datetime, days: float) -> None:
    assert occurrence_effects("u1", occ(now + timedelta(days=days), ANA), RULES, now) == []


def test_meeting_at_the_end_of_planned_days_is_planned(now: datetime) -> None:
    [effect] = occurrence_effects("u1", occ(now + timedelta(days=14), ANA), RULES, now)
    assert effect.planned


@pytest.mark.parametrize("days", [730.001, 731, 5000])
def test_meeting_older_than_history_days_is_nothing(now: datetime, days: float) -> None:
    assert occurrence_effects("u1", occ(now - timedelta(days=days), ANA), RULES, now) == []


def test_meeting_at_the_edge_of_history_is_a_touch(now: datetime) -> None:
    [effect] = occurrence_effects("u1", occ(now - timedelta(days=730), ANA), RULES, now)
    assert not effect.planned


# --- external id ------------------------------------------------------------------


def test_external_id_is_uid_and_recurrence_id(now: datetime) -> None:
    o = occ(now - timedelta(days=3), ANA, BEN, rid="20261120T060000Z")
    effects = occurrence_effects("series-1", o, RULES, now)
    assert {e.external_id for e in effects} == {"series-1|20261120T060000Z"}
    assert external_id("series-1", o) == "series-1|20261120T060000Z"


def test_external_id_is_stable_across_parses_and_distinct_per_occurrence(now: datetime) -> None:
    text = vcalendar(
        vevent("s1", now - timedelta(days=21), attendees=(ANA,), extra=("RRULE:FREQ=WEEKLY;COUNT=4",))
    )
    tz = ZoneInfo("Europe/Berlin")

    def ids() -> list[str]:
        rec = parse_ical(text, tz, now - timedelta(days=730), now + timedelta(days=14))
        return [e.external_id for e in event_effects(rec, RULES, now)]

    first = ids()
    assert first == ids()
    assert len(first) == 4 == len(set(first))
    assert all(i.startswith("s1|") for i in first)


def test_external_id_of_a_moved_occurrence_keeps_its_original_slot(now: datetime) -> None:
    series = vevent("s1", now - timedelta(days=21), attendees=(ANA,), extra=("RRULE:FREQ=WEEKLY;COUNT=3",))
    original = now - timedelta(days=14)
    moved = vevent(
        "s1",
        original + timedelta(days=1, hours=5),
        attendees=(ANA,),
        extra=(f"RECURRENCE-ID:{original:%Y%m%dT%H%M%SZ}",),
    )
    tz = ZoneInfo("Europe/Berlin")
    rec = parse_ical(vcalendar(series, moved), tz, now - timedelta(days=730), now + timedelta(days=14))
    effects = {e.at: e for e in event_effects(rec, RULES, now)}
    assert effects[original + timedelta(days=1, hours=5)].external_id == f"s1|{original:%Y%m%dT%H%M%SZ}"


def test_a_one_off_event_keeps_its_external_id_when_it_moves(now: datetime) -> None:
    """Moving a one-off moves its touch: the key holds no start time (it did: `e1|<start>`)."""
    tz = ZoneInfo("Europe/Berlin")

    def key(start: datetime) -> str:
        rec = parse_ical(vcalendar(vevent("e1", start, (ANA,))), tz, now - timedelta(days=730), now)
        [effect] = event_effects(rec, RULES, now)
        return effect.external_id

    assert key(now - timedelta(days=3)) == key(now - timedelta(days=2, minutes=30)) == "e1|"


def test_same_meeting_pairs_a_one_off_key_with_any_occurrence_but_not_two_occurrences() -> None:
    assert same_meeting("e1|", "e1|")
    assert same_meeting("e1|", "e1|20261120T060000Z")  # turned recurring, or a key stored the old way
    assert same_meeting("e1|20261120T060000Z", "e1|")
    assert same_meeting("e1|20261120T060000Z", "e1|20261120T060000Z")
    assert not same_meeting("e1|20261120T060000Z", "e1|20261127T060000Z")  # two slots of a series


class _Row:
    def __init__(self, external_id: str | None, at: datetime) -> None:
        self.external_id, self.at = external_id, at


def test_match_prefers_the_same_key_then_the_nearest_meeting(now: datetime) -> None:
    old = _Row(f"e1|{now - timedelta(days=9):%Y%m%dT%H%M%SZ}", now - timedelta(days=9))
    near = _Row(f"e1|{now - timedelta(days=2):%Y%m%dT%H%M%SZ}", now - timedelta(days=2))
    one_off = _Row("e1|", now - timedelta(days=20))
    logged = _Row(None, now - timedelta(days=3))
    assert match([old, near, one_off, logged], "e1|", now - timedelta(days=3)) is one_off
    assert match([old, near, logged], "e1|", now - timedelta(days=3)) is near
    assert match([old, logged], near.external_id or "", now) is None  # another slot of the series


# --- event_effects and recheck_at --------------------------------------------------


def test_event_effects_covers_every_occurrence(now: datetime) -> None:
    past, soon, far = now - timedelta(days=7), now + timedelta(days=2), now + timedelta(days=40)
    record = EventRecord(
        uid="s1",
        occurrences=(
            occ(past, ANA),
            occ(soon, ANA),
            occ(far, ANA),
            occ(past + timedelta(1), ANA, cancelled=True),
        ),
        recurring=True,
    )
    effects = event_effects(record, RULES, now)
    assert [(e.at, e.planned) for e in effects] == [(past, False), (soon, True)]
    assert all(e.external_id.startswith("s1|") for e in effects)


def test_event_effects_of_an_empty_record_is_nothing(now: datetime) -> None:
    assert event_effects(EventRecord(uid="s1"), RULES, now) == []


def test_recheck_at_is_none_for_a_past_finished_event(now: datetime) -> None:
    record = EventRecord(uid="e", occurrences=(occ(now - timedelta(days=2), ANA),))
    assert recheck_at(record, now, 14) is None


def test_recheck_at_is_the_next_upcoming_occurrence(now: datetime) -> None:
    soon, later = now + timedelta(days=2), now + timedelta(days=9)
    record = EventRecord(
        uid="e", occurrences=(occ(now - timedelta(days=2), ANA), occ(later, ANA), occ(soon, ANA))
    )
    assert recheck_at(record, now, 14) == soon


def test_recheck_at_is_when_a_far_occurrence_enters_the_planned_window(now: datetime) -> None:
    record = EventRecord(uid="e", next_after_window=now + timedelta(days=60), recurring=True)
    assert recheck_at(record, now, 14) == now + timedelta(days=46)


def test_recheck_at_is_never_in_the_past(now: datetime) -> None:
    record = EventRecord(uid="e", next_after_window=now + timedelta(days=3), recurring=True)
    assert recheck_at(record, now, 14) == now


def test_recheck_at_takes_the_earlier_of_occurrence_and_window(now: datetime) -> None:
    record = EventRecord(
        uid="e",
        occurrences=(occ(now + timedelta(days=10), ANA),),
        next_after_window=now + timedelta(days=20),
        recurring=True,
    )
    assert recheck_at(record, now, 14) == now + timedelta(days=6)


# --- invariants -----------------------------------------------------------------------

SIZES = st.integers(min_value=0, max_value=12)


@scaled(4 / 3)
@given(
    n=SIZES,
    days=st.floats(min_value=-800, max_value=30, allow_nan=False),
    organizer=st.sampled_from([ME, ANA, "boss@example.com", None]),
    declined=st.sets(st.integers(min_value=0, max_value=11), max_size=4),
    cancelled=st.booleans(),
    me_declined=st.booleans(),
)
def test_effect_invariants(
    n: int, days: float, organizer: str | None, declined: set[int], cancelled: bool, me_declined: bool
) -> None:
    now = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    others = people(n) + ([ANA] if organizer == ANA else [])
    start = now + timedelta(days=days)
    o = occ(
        start,
        *others,
        organizer=organizer,
        declined=frozenset(others[i] for i in declined if i < len(others)),
        cancelled=cancelled,
        me_declined=me_declined,
    )
    effects = occurrence_effects("u", o, RULES, now)
    emails = [e.email for e in effects]
    assert ME not in emails
    assert len(emails) == len(set(emails))
    assert len(effects) <= RULES.max_attendees
    for e in effects:
        assert MIN_WEIGHT <= e.weight <= RULES.meeting_weight
        assert e.planned == (start > now)
        assert e.at == start
        assert e.external_id == f"u|{o.recurrence_id}"
        attendee = next((a for a in o.attendees if a.email == e.email), None)
        assert attendee is None or not attendee.declined
    if cancelled or me_declined or days > 14 or days < -730:
        assert effects == []
