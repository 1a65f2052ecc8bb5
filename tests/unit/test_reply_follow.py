"""The `follow` reply word: who (digest numbers or a name), when, and what (pure parsing)."""

from __future__ import annotations

import pytest

from nudge.core.commands import Command, parse_line, parse_reply


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
