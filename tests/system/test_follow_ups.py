"""Dated follow-ups through the CLI: promised, listed, put first in the digest, and closed by
`--done`, by a logged touch, or not at all (then they say how late they are)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import time_machine

from tests.conftest import NOW
from tests.system.test_cli import cfg, clock, nudge  # noqa: F401

FRIDAY = NOW + timedelta(days=4)
NEXT_MONDAY = NOW + timedelta(days=7)


def test_a_promise_is_made_listed_and_first_on_its_day_even_when_snoozed(
    cfg: Path,  # noqa: F811
    clock: time_machine.Coordinates,  # noqa: F811
) -> None:
    assert nudge("snooze", "Ana", "3m", config=cfg)[0] == 0
    code, out = nudge("follow-up", "Ana", "fri", "send", "the", "deck", config=cfg)
    assert code == 0, out
    assert out.strip() == "Follow-up f1 with Ana Ruiz on Fri 27 Nov 2026: send the deck."
    code, out = nudge("follow-ups", config=cfg)
    assert "f1" in out and "Ana Ruiz" in out and "due Fri 27 Nov" in out and "send the deck" in out
    code, out = nudge("digest", "--dry-run", config=cfg)
    assert "Ana Ruiz" not in out  # snoozed, and the promise is for Friday

    clock.move_to(NEXT_MONDAY)
    code, out = nudge("digest", "--dry-run", config=cfg)
    assert code == 0, out
    first = out.split("\n1. ", 1)[1].split("\n2. ", 1)[0]
    assert first.startswith("Ana Ruiz"), out
    assert "- follow-up: send the deck (3 days late)" in first
    assert out.splitlines()[0].startswith("Be curious today: Ana Ruiz")
    code, out = nudge("follow-ups", "--json", config=cfg)
    [row] = json.loads(out)
    assert (row["id"], row["name"], row["due"], row["late_days"]) == ("f1", "Ana Ruiz", "2026-11-27", 3)
    code, out = nudge("plan", "--days", "1", config=cfg)
    assert "Ana Ruiz (follow-up)" in out


def test_a_touch_logged_after_the_promise_closes_it_and_undo_reopens_it(
    cfg: Path,  # noqa: F811
    clock: time_machine.Coordinates,  # noqa: F811
) -> None:
    assert nudge("follow-up", "Ben", "2w", config=cfg)[0] == 0
    code, out = nudge("log", "Ben", "call: earlier chat", "--at", "2026-11-20", config=cfg)
    assert code == 0, out
    assert "Ben Ott" in nudge("follow-ups", config=cfg)[1]  # that call was before the promise
    clock.move_to(NOW + timedelta(hours=2))
    assert nudge("log", "Ben", "email: sent the intro", config=cfg)[0] == 0
    assert nudge("follow-ups", config=cfg)[1].startswith("No open follow-ups")
    assert nudge("undo", config=cfg)[0] == 0
    assert "Ben Ott" in nudge("follow-ups", config=cfg)[1]


def test_done_by_id_or_by_name(
    cfg: Path,  # noqa: F811
    clock: time_machine.Coordinates,  # noqa: F811
) -> None:
    nudge("follow-up", "Ana", "today", "deck", config=cfg)
    nudge("follow-up", "Ana", "12 dec", "dinner", config=cfg)
    nudge("follow-up", "Zoe", "tomorrow", config=cfg)
    code, out = nudge("follow-up", "--done", "f2", config=cfg)
    assert (code, out.strip()) == (0, "Done: f2 with Ana Ruiz (dinner).")
    code, out = nudge("follow-up", "--done", "Zoe", config=cfg)
    assert (code, out.strip()) == (0, "Done: f3 with Zoë Çelik.")
    listed = json.loads(nudge("follow-ups", "--json", config=cfg)[1])
    assert [r["id"] for r in listed] == ["f1"]
    code, out = nudge("follow-up", "--done", "f2", config=cfg)
    assert code == 1 and "already done" in out


def test_bad_days_and_names_are_one_line(
    cfg: Path,  # noqa: F811
    clock: time_machine.Coordinates,  # noqa: F811
) -> None:
    code, out = nudge("follow-up", "Ana", "whenever", config=cfg)
    assert code == 1 and "cannot read 'whenever' as a day" in out and "Traceback" not in out
    code, out = nudge("follow-up", "Ana", "2026-01-01", config=cfg)
    assert code == 1 and "has passed" in out
    code, out = nudge("follow-up", "An", "fri", config=cfg)
    assert code == 1 and "matches 2 contacts" in out


def test_a_promise_to_someone_archived_is_kept_and_said_so(
    cfg: Path,  # noqa: F811
    clock: time_machine.Coordinates,  # noqa: F811
    tmp_path: Path,
) -> None:
    assert nudge("follow-up", "Zoe", "today", "call back", config=cfg)[0] == 0
    book = tmp_path / "contacts.vcf"
    cards = book.read_text().split("BEGIN:VCARD")
    book.write_text("BEGIN:VCARD".join(c for c in cards if "Zo" not in c))
    assert nudge("sync", config=cfg)[0] == 0
    out = nudge("follow-ups", config=cfg)[1]
    assert "Zoë Çelik" in out and "(archived: on no list until back in an address book)" in out
    assert "Zoë" not in nudge("digest", "--dry-run", config=cfg)[1].split("Top 100 at a glance")[0]
    [row] = json.loads(nudge("follow-ups", "--json", config=cfg)[1])
    assert row["archived"] is True


def test_show_lists_the_open_promises_to_that_person(
    cfg: Path,  # noqa: F811
    clock: time_machine.Coordinates,  # noqa: F811
) -> None:
    assert nudge("follow-up", "Ana", "fri", "send", "the", "deck", config=cfg)[0] == 0
    assert nudge("follow-up", "Ben", "2w", config=cfg)[0] == 0
    code, out = nudge("show", "Ana", config=cfg)
    assert code == 0, out
    assert "  follow-up f1, due Fri 27 Nov: send the deck" in out.splitlines()
    assert "f2" not in out  # Ben's
    data = json.loads(nudge("show", "Ana", "--json", config=cfg)[1])
    assert data["follow_ups"] == [{"id": "f1", "due": "2026-11-27", "text": "send the deck", "late_days": -4}]
    assert nudge("follow-up", "--done", "f1", config=cfg)[0] == 0
    assert "follow-up" not in nudge("show", "Ana", config=cfg)[1]
    assert json.loads(nudge("show", "Ana", "--json", config=cfg)[1])["follow_ups"] == []


def test_removing_the_touch_that_closed_a_promise_reopens_it_and_undo_closes_it_again(
    cfg: Path,  # noqa: F811
    clock: time_machine.Coordinates,  # noqa: F811
) -> None:
    assert nudge("follow-up", "Ben", "2w", "send", "the", "intro", config=cfg)[0] == 0
    clock.move_to(NOW + timedelta(hours=2))
    assert nudge("log", "Ben", "email: sent the intro", config=cfg)[0] == 0
    assert nudge("follow-ups", config=cfg)[1].startswith("No open follow-ups")
    [touch] = [
        e
        for e in json.loads(nudge("log", "--list", "--json", config=cfg)[1])
        if "sent the intro" in e["what"]
    ]
    code, out = nudge("rm", touch["id"], config=cfg)
    assert code == 0, out
    code, out = nudge("follow-ups", "--json", config=cfg)
    [row] = json.loads(out)
    assert (row["name"], row["text"]) == ("Ben Ott", "send the intro")
    assert nudge("undo", config=cfg)[0] == 0  # takes back the rm: the touch is back, the promise kept
    assert nudge("follow-ups", config=cfg)[1].startswith("No open follow-ups")
    assert nudge("undo", config=cfg)[0] == 0  # takes back the logged touch: the promise is open
    assert "Ben Ott" in nudge("follow-ups", config=cfg)[1]
