"""What a call or a text from the phone's log means (core.phone), and cadences as typed (core.cadence)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nudge.core.cadence import book_cadence, parse_cadence
from nudge.core.phone import PhoneRules, phone_touches, unanswered_call
from nudge.core.records import PhoneEvent, PhoneKind, PhoneRecord

NOW = datetime(2026, 6, 16, 5, 30, tzinfo=UTC)
AT = datetime(2026, 6, 3, 7, 2, 4, 118000, tzinfo=UTC)
RULES = PhoneRules(call_weight=0.8, message_weight=0.4)


def entry(
    kind: PhoneKind, event: PhoneEvent, seconds: int = 0, numbers: tuple[str, ...] = ("+4930",)
) -> PhoneRecord:
    return PhoneRecord(kind, event, numbers, AT, seconds)


@pytest.mark.parametrize(
    ("record", "touches"),
    [
        (entry("call", "answered", 30), [("call", "in", 0.8)]),
        (entry("call", "placed", 30), [("call", "out", 0.8)]),
        (entry("call", "placed", 29), []),  # the boundary: 30 s
        (entry("call", "answered_elsewhere", 200), [("call", "in", 0.8)]),
        (entry("call", "missed", 0), []),
        (entry("call", "rejected", 0), []),
        (entry("call", "voicemail", 22), []),
        (entry("call", "blocked", 0), []),
        (entry("text", "received"), [("message", "in", 0.4)]),
        (entry("text", "sent"), [("message", "out", 0.4)]),
        (entry("text", "unsent"), []),
        (
            entry("text", "sent", numbers=("+4930", "+4940")),
            [("message", "out", 0.2), ("message", "out", 0.2)],
        ),
        (entry("call", "answered", 120, numbers=()), []),  # a private number
    ],
)
def test_the_touch_rules(record: PhoneRecord, touches: list[tuple[str, str, float]]) -> None:
    got = phone_touches(record, RULES, NOW)
    assert [(t.kind, t.direction, t.weight) for t in got] == touches
    assert all(t.external_id == f"phone:{t.kind}:2026-06-03T07:02Z:{t.direction}" for t in got)


def test_only_the_history_window_and_the_past_count() -> None:
    old = PhoneRecord("call", "answered", ("+4930",), NOW - timedelta(days=731), 60)
    ahead = PhoneRecord("call", "answered", ("+4930",), NOW + timedelta(minutes=1), 60)
    assert phone_touches(old, RULES, NOW) == [] and phone_touches(ahead, RULES, NOW) == []


@pytest.mark.parametrize(
    ("event", "unanswered"),
    [("missed", True), ("rejected", True), ("voicemail", True), ("blocked", False), ("answered", False)],
)
def test_which_calls_are_unanswered(event: PhoneEvent, unanswered: bool) -> None:
    assert unanswered_call(entry("call", event)) is unanswered


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("14d", 14),
        ("2w", 14),
        ("3m", 90),
        ("1y", 365),
        ("21", 21),
        ("3 weeks", 21),
        ("2 Months", 60),
        ("default", None),
    ],
)
def test_cadences_as_typed(text: str, days: int | None) -> None:
    assert parse_cadence(text) == days


@pytest.mark.parametrize("text", ["soon", "0d", "2x", "11y", ""])
def test_cadences_nudge_cannot_read(text: str) -> None:
    with pytest.raises(ValueError, match="cadence"):
        parse_cadence(text)


def test_a_card_names_its_cadence_by_property_or_category() -> None:
    assert book_cadence("14d", ("top100",)) == 14
    assert book_cadence("", ("Top 100", "Cadence:2w")) == 14
    assert book_cadence("soon", ("cadence:3w",)) == 21  # a typo in one is no stop
    assert book_cadence("", ("top100",)) is None
