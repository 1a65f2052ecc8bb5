"""The `follow` reply word: who (digest numbers or a name), when, and what (pure parsing)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nudge.core.commands import Command, parse_line, parse_reply
from nudge.core.when import MAX_FOLLOW_UP_DAYS, due_date
from nudge.errors import UserError

TODAY = date(2026, 11, 23)  # a Monday


@pytest.mark.parametrize(
    ("line", "targets", "name", "when", "text"),
    [
        ("follow 3 fri: send the deck", (3,), "", "fri", "send the deck"),
        ("follow Ana 2w", (), "Ana", "2w", ""),
        ("Follow Ana Ruiz 12 Dec: dinner", (), "Ana Ruiz", "12 Dec", "dinner"),
        ("follow 1 2 next monday: call back", (1, 2), "", "next monday", "call back"),
        ("follow Ben in 2 weeks: lunch", (), "Ben", "in 2 weeks", "lunch"),
        ("follow Zoë dec 12", (), "Zoë", "dec 12", ""),
        ("follow partner 3d", ("partner",), "", "3d", ""),
        ("follow 4 tomorrow", (4,), "", "tomorrow", ""),
        ("follow 2 2026-12-14: the offer", (2,), "", "2026-12-14", "the offer"),
        ("follow 5 thursday", (5,), "", "thursday", ""),
    ],
)
def test_follow_lines(line: str, targets: tuple[int | str, ...], name: str, when: str, text: str) -> None:
    assert parse_line(line) == Command("follow", targets, text, line, when=when, name=name)


@pytest.mark.parametrize("line", ["follow Ana", "follow 3 whenever", "follow fri", "follow 3: deck"])
def test_a_follow_without_a_day_is_not_understood(line: str) -> None:
    parsed = parse_reply(line)
    assert parsed.commands == () and parsed.not_understood == (line,)


WORDS = (
    "3",
    "1,2",
    "Ana",
    "Ruiz",
    "Zoë",
    "partner",
    "fri",
    "friday",
    "2w",
    "10d",
    "0d",
    "12",
    "dec",
    "next",
    "monday",
    "in",
    "2",
    "weeks",
    "99999999999d",
    "4000y",
    "2026-02-30",
    "on",
    "today",
    ":",
    "deck",
)
TAILS = st.one_of(st.text(max_size=80), st.lists(st.sampled_from(WORDS), max_size=7).map(" ".join))


@given(TAILS)
def test_any_follow_line_parses_or_is_refused_and_any_day_reads_or_is_one_clear_error(tail: str) -> None:
    line = "follow " + tail
    command = parse_line(line)
    if command is None:
        return
    assert command.verb == "follow" and (command.targets or command.name) and command.when
    try:
        due = due_date(command.when, TODAY)
    except UserError as e:
        assert "\n" not in str(e)
    else:
        assert TODAY <= due <= TODAY + timedelta(days=MAX_FOLLOW_UP_DAYS)


@pytest.mark.parametrize(
    ("when", "due"),
    [
        ("fri", date(2026, 11, 27)),
        ("2w", date(2026, 12, 7)),
        ("12 dec", date(2026, 12, 12)),
        ("dec 12", date(2026, 12, 12)),
        ("next monday", date(2026, 11, 30)),
        ("mon", date(2026, 11, 30)),  # on a Monday: the next one
        ("today", TODAY),
        ("tomorrow", date(2026, 11, 24)),
        ("in 2 weeks", date(2026, 12, 7)),
        ("2027-01-15", date(2027, 1, 15)),
    ],
)
def test_follow_up_days(when: str, due: date) -> None:
    assert due_date(when, TODAY) == due


@pytest.mark.parametrize(
    ("when", "says"),
    [
        ("whenever", "cannot read 'whenever' as a day"),
        ("2026-11-01", "has passed"),
        ("99999999999d", "more than ten years"),
        ("4000y", "more than ten years"),
    ],
)
def test_follow_up_days_refused_in_one_line(when: str, says: str) -> None:
    with pytest.raises(UserError, match=says):
        due_date(when, TODAY)
