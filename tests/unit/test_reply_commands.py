"""Commands in replies to the digest, as mail clients write them (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nudge.core.commands import Command, html_to_text, own_lines, parse_line, parse_reply
from tests.profiles import scaled


@pytest.mark.parametrize(
    ("line", "verb", "targets", "text"),
    [
        ("done 1 3", "done", (1, 3), ""),
        ("Done 1, 3 and 4.", "done", (1, 3, 4), ""),
        ("done #2", "done", (2,), ""),
        ("called 2: moving to Berlin in May", "called", (2,), "moving to Berlin in May"),
        ("met 1: coffee at Oslo", "met", (1,), "coffee at Oslo"),
        ("emailed 3", "emailed", (3,), ""),
        ("texted 4: happy birthday", "texted", (4,), "happy birthday"),
        ("snooze 4 2w", "snooze", (4,), "2w"),
        ("snooze 1 3 2026-12-24", "snooze", (1, 3), "2026-12-24"),
        ("skip 5", "skip", (5,), ""),
        ("note 1: loves climbing", "note", (1,), "loves climbing"),
        ("partner done", "done", ("partner",), ""),
        ("partner called: intro to their CFO", "called", ("partner",), "intro to their CFO"),
        ("done partner", "done", ("partner",), ""),
        ("**done 2**", "done", (2,), ""),
    ],
)
def test_commands_are_understood(line: str, verb: str, targets: tuple[int | str, ...], text: str) -> None:
    assert parse_line(line) == Command(verb, targets, text, line)


@pytest.mark.parametrize(
    "line",
    ["thanks!", "done", "done with Ana", "note 1", "snooze 4", "snooze Ana 2w", "call Ana", "met 2 people"],
)
def test_lines_that_are_not_commands(line: str) -> None:
    assert parse_line(line) is None


@pytest.mark.parametrize(
    ("line", "verb", "name", "text"),
    [
        ("called Ana: moving to Lisbon", "called", "Ana", "moving to Lisbon"),
        ("met Ben Ott", "met", "Ben Ott", ""),
        ("texted Cara", "texted", "Cara", ""),
        ("Called ana: hi", "called", "ana", "hi"),
        ("emailed Chloé Martin-Roy: the deck", "emailed", "Chloé Martin-Roy", "the deck"),
        ("rang O'Neill.", "rang", "O'Neill", ""),
    ],
)
def test_touches_by_name_are_understood(line: str, verb: str, name: str, text: str) -> None:
    assert parse_line(line) == Command(verb, (), text, line, name=name)


def test_only_the_users_own_lines_are_read() -> None:
    body = (
        "done 1 3\r\n"
        "\r\n"
        "snooze 4 2w\r\n"
        "Thanks, great list\r\n"
        "\r\n"
        "On Mon, 23 Nov 2026 at 07:30, nudge <me@example.com> wrote:\r\n"
        "> Be curious today: Ana Ruiz, Ben Ott and 3 more\r\n"
        "> 1. Ana Ruiz\r\n"
        "done 2\r\n"  # a client that does not quote with '>'
    )
    parsed = parse_reply(body)
    assert [c.line for c in parsed.commands] == ["done 1 3", "snooze 4 2w"]
    assert parsed.not_understood == ("Thanks, great list",)


@pytest.mark.parametrize(
    "marker",
    [
        "-- ",
        "--",
        "-----Original Message-----",
        "Am 23.11.2026 um 07:30 schrieb nudge <me@example.com>:",
        "Le lun. 23 nov. 2026 à 07:30, nudge <me@example.com> a écrit :",
        "From: nudge <me@example.com>",
        "Sent from my iPhone",
        "________________________________",
    ],
)
def test_quotes_and_signatures_end_the_commands(marker: str) -> None:
    parsed = parse_reply(f"done 1\n{marker}\ndone 2\n")
    assert [c.targets for c in parsed.commands] == [(1,)]
    assert parsed.not_understood == ()


def test_quoted_lines_are_ignored_anywhere() -> None:
    parsed = parse_reply("> 1. Ana Ruiz\ndone 1\n> 2. Ben\n")
    assert [c.targets for c in parsed.commands] == [(1,)]


def test_html_replies_lose_the_quoted_digest() -> None:
    html = (
        "<html><head><style>p{color:red}</style></head><body><div>done 1</div><div>note 2: new baby"
        "</div><br><blockquote><p>1. Ana Ruiz</p><p>done 9</p></blockquote></body></html>"
    )
    assert own_lines(html_to_text(html)) == ["done 1", "note 2: new baby"]


@scaled(2)
@given(st.text(max_size=300))
def test_any_text_gives_commands_or_lines_not_understood(body: str) -> None:
    parsed = parse_reply(body)
    lines = own_lines(body)
    for c in parsed.commands:
        assert c.targets
        assert all(isinstance(t, int) or t == "partner" for t in c.targets)
        assert c.line in lines and parse_line(c.line) == c
    for line in parsed.not_understood:
        assert any(own.startswith(line) and parse_line(own) is None for own in lines)  # cut at 200
    assert len(parsed.commands) + len(parsed.not_understood) == len(lines)
