"""The method's commands end to end: top100, plan, outcome, stats, note, referral list, show."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import time_machine

from tests.conftest import NOW
from tests.system.test_cli import cfg, clock, nudge

__all__ = ["cfg", "clock"]


def test_top100_suggest_ranks_by_evidence_and_accept_takes_them(cfg: Path) -> None:
    assert nudge("tier", "ana r", "none", config=cfg)[0] == 0
    assert nudge("log", "ben", "call: catch-up", "--at", "2026-11-20", config=cfg)[0] == 0
    assert nudge("log", "ana r", "meeting: lunch", "--at", "2026-11-02", config=cfg)[0] == 0
    rows = json.loads(nudge("top100", "suggest", "--json", config=cfg)[1])
    assert [r["name"] for r in rows] == ["Ana Ruiz", "Ben Ott"]
    assert rows[0]["reasons"].startswith("2 meetings")
    code, out = nudge("top100", "accept", "--top", "5", config=cfg)
    assert code == 0 and "Added 1 people" in out  # Ben is a partner and keeps that tier
    listed = nudge("top100", "list", config=cfg)[1]
    assert "Ana Ruiz" in listed and "Ben Ott" not in listed
    assert "tier: top100 (set by you; since 23 Nov 2026)" in nudge("show", "ana r", config=cfg)[1]
    shown = nudge("show", "zoe", config=cfg)[1]
    assert "tier: top100 (from the address book 'files'; since before nudge's first sync)" in shown


def test_top100_add_and_remove_are_all_or_nothing(cfg: Path) -> None:
    code, out = nudge("top100", "remove", "zoe", "nobody", config=cfg)
    assert code == 1 and "nobody" in out
    assert "Zoë Çelik" in nudge("top100", "list", config=cfg)[1]
    assert nudge("top100", "remove", "zoe", "anna", config=cfg)[0] == 0
    listed = nudge("top100", "list", config=cfg)[1]
    assert "Zoë" not in listed and "Anna Berg" not in listed
    assert nudge("top100", "add", "zoe", config=cfg)[0] == 0
    assert "Zoë Çelik" in nudge("top100", "list", config=cfg)[1]


def test_plan_days_ahead(cfg: Path) -> None:
    days = json.loads(nudge("plan", "--days", "7", "--json", config=cfg)[1])
    assert len(days) == 7
    names = [n for d in days for n in d["calls"]]
    assert sorted(names) == ["Ana Ruiz", "Anna Berg", "Zoë Çelik"]  # each once: the cadence is 30 days
    assert all(len(d["calls"]) <= 5 for d in days)
    text = nudge("plan", "--days", "7", config=cfg)[1]
    assert "calls a workday" in text


def test_outcomes_and_stats(cfg: Path, clock: time_machine.Coordinates) -> None:
    assert nudge("digest", config=cfg)[0] == 0  # Monday: Ana, Anna, Zoë suggested, Ben as partner
    clock.move_to(NOW + timedelta(days=1))
    assert nudge("log", "ana r", "call: new job", "--outcome", "conversation", config=cfg)[0] == 0
    assert nudge("log", "zoe", "meeting: coffee", config=cfg)[0] == 0
    code, out = nudge("outcome", "zoe", "opportunity", config=cfg)
    assert code == 0 and "led to an opportunity" in out
    assert nudge("outcome", "anna", "meeting", config=cfg)[0] == 1  # no touch yet
    assert nudge("outcome", "zoe", "wedding", config=cfg)[0] == 1
    data = json.loads(nudge("stats", "--weeks", "2", "--json", config=cfg)[1])
    week = data["weeks"][-1]
    assert (
        week["suggested"],
        week["contacted"],
        week["conversation"],
        week["meeting"],
        week["referral"],
    ) == (
        4,
        2,
        2,
        1,
        1,
    )
    assert week["contacted_ratio"] == 0.5
    health = {h["tier"]: h for h in data["health"]}
    assert health["top100"] == {"tier": "top100", "within": 2, "overdue": 0, "new": 1}
    text = nudge("stats", "--weeks", "2", config=cfg)[1]
    assert "Cadence health" in text and "50%" in text
    clock.move_to(NOW + timedelta(days=7))  # next Monday's digest carries last week's funnel
    digest = nudge("digest", "--dry-run", config=cfg)[1]
    assert "Last week: 4 suggested → 2 contacted within a week (50%)" in digest


def test_notes_and_the_timeline(cfg: Path) -> None:
    assert nudge("note", "ana r", "loves climbing", config=cfg)[0] == 0
    assert nudge("note", "ana r", "   ", config=cfg)[0] == 1
    assert nudge("log", "ana r", "call: moving to Lisbon", "--outcome", "meeting", config=cfg)[0] == 0
    info = json.loads(nudge("show", "ana r", "--json", config=cfg)[1])
    assert info["notes"][0]["text"] == "loves climbing"
    whats = [e["what"] for e in info["timeline"]]
    assert "call (out): moving to Lisbon → meeting" in whats
    assert "note: loves climbing" in whats
    assert whats[-1].startswith("meeting (out)")  # the calendar's coffee, oldest last
    assert nudge("note", "zoe", "training for a marathon", config=cfg)[0] == 0
    digest = nudge("digest", "--dry-run", config=cfg)[1]
    assert "On 23 Nov you noted: “training for a marathon”" in digest  # a note alone is no touch
    assert ". Ana Ruiz  [" not in digest  # just called: not on the list (the follow-up offer names her)
    assert "call with Ana Ruiz on Mon 23 Nov led to a meeting" in digest


def test_referral_list_shows_the_balance(cfg: Path) -> None:
    assert nudge("referral", "received", "ben", "a client", "--at", "2026-11-01", config=cfg)[0] == 0
    assert nudge("referral", "received", "ben", "another", "--at", "2026-11-10", config=cfg)[0] == 0
    assert nudge("referral", "given", "ben", "intro to Lee", "--at", "2026-11-13", config=cfg)[0] == 0
    out = nudge("referral", "list", config=cfg)[1]
    assert "Ben Ott: given 1, received 2, balance -1; 10 days since the last exchange" in out
    assert "2026-11-13 given    intro to Lee" in out
    assert nudge("referral", "list", "ben", config=cfg)[1].startswith("Ben Ott:")
