"""One meaning of "due" and "overdue" (issue 11.7): every CLI view over one store says the same.

`contacts`, `top100 list`, `show`, `stats`, `plan` and the digest all read the planner's
`due_of` / `standing` through `service.load_people`; run each over one store and compare.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine

from nudge.reports.contacts import due_text
from tests.builders import ME, vcalendar, vcard, vevent
from tests.conftest import NOW
from tests.system.test_cli import clock, nudge

__all__ = ["clock"]

# name -> (tier category, days since the last meeting, or None for never)
PEOPLE = {
    "Ann Far": ("top100", 95),
    "Bob Late": ("top100", 44),
    "Cat Due": ("top100", 31),
    "Dan Soon": ("top100", 25),
    "Eve Near": ("top100", 16),
    "Fay Met": ("top100", 9),
    "Gus Never": ("top100", None),
    "Hal Partner": ("partner", 30),
    "Ivy Partner": ("partner", 12),
    "Jon Plain": ("", 5),
}


@pytest.fixture
def store(tmp_path: Path, clock: time_machine.Coordinates) -> Path:
    cards, events = [], []
    for name, (tier, age) in PEOPLE.items():
        mail = f"{name.split()[0].lower()}@example.org"
        cards.append(vcard(name.split()[0], name, (mail,), categories=(tier,) if tier else ()))
        if age is not None:
            events.append(vevent(f"e-{mail}", NOW - timedelta(days=age), (mail,), "Coffee"))
    (tmp_path / "contacts.vcf").write_text("".join(cards))
    (tmp_path / "calendar.ics").write_text(vcalendar(*events))
    path = tmp_path / "config.toml"
    path.write_text(
        f"""timezone = "Europe/Berlin"
database_url = "sqlite:///{tmp_path / "nudge.db"}"
maildir = "{tmp_path / "Maildir"}"
[me]
emails = ["{ME}"]
[[sources]]
type = "files"
name = "files"
paths = ["{tmp_path / "contacts.vcf"}", "{tmp_path / "calendar.ics"}"]
"""
    )
    assert nudge("sync", config=path)[0] == 0
    # a day later, Kim joins the top 100 by hand (met 20 days ago): a newcomer, unlike the rest
    clock.move_to(NOW + timedelta(days=1))
    (tmp_path / "contacts.vcf").write_text("".join(cards) + vcard("kim", "Kim Joined", ("kim@example.org",)))
    (tmp_path / "calendar.ics").write_text(
        vcalendar(*events, vevent("e-kim", NOW - timedelta(days=19), ("kim@example.org",), "Lunch"))
    )
    assert nudge("sync", config=path)[0] == 0
    assert nudge("tier", "kim", "top100", config=path)[0] == 0
    return path


def test_contacts_top100_list_show_stats_plan_and_digest_agree_on_due(store: Path) -> None:
    contacts = {c["name"]: c for c in json.loads(nudge("contacts", "--json", config=store)[1])}
    assert contacts["Jon Plain"]["due"] is None  # no tier, no cadence
    tiered = {n: c for n, c in contacts.items() if c["due"] is not None}
    standing = {n: c["standing"] for n, c in tiered.items()}
    assert standing == {
        "Ann Far": "overdue",
        "Bob Late": "overdue",
        "Cat Due": "overdue",
        "Dan Soon": "within",
        "Eve Near": "within",
        "Fay Met": "within",  # met 10 days ago: within, not a newcomer (issue 11.1)
        "Gus Never": "new",
        "Hal Partner": "overdue",
        "Ivy Partner": "within",
        "Kim Joined": "new",  # joined after her last touch
    }
    assert contacts["Fay Met"]["due"] == pytest.approx(10 / 30, abs=0.01)

    # top100 list: the same due, in the same words
    listed = nudge("top100", "list", config=store)[1].splitlines()
    for name, c in tiered.items():
        if c["tier"] == "top100":
            [line] = [x for x in listed if x.startswith(name)]
            assert line.endswith(due_text(c["due"], c["standing"])), line

    # show: the same line
    for name in ("Ann Far", "Fay Met", "Gus Never", "Kim Joined"):
        assert f"  {due_text(tiered[name]['due'], standing[name])}\n" in nudge("show", name, config=store)[1]

    # stats: the same counts per tier
    health = {h["tier"]: h for h in json.loads(nudge("stats", "--json", config=store)[1])["health"]}
    for tier in ("top100", "partner"):
        counted = Counter(s for n, s in standing.items() if tiered[n]["tier"] == tier)
        assert {k: health[tier][k] for k in ("within", "overdue", "new")} == {
            k: counted.get(k, 0) for k in ("within", "overdue", "new")
        }

    # the digest: the most due first, by the same figures; plan's first day is the same list
    today = json.loads(nudge("digest", "--json", config=store)[1])
    calls = [e["name"] for e in today["calls"]]
    eligible = [n for n, c in tiered.items() if c["tier"] == "top100" and n != "Fay Met"]  # Fay: < 0.5
    assert calls == sorted(eligible, key=lambda n: -tiered[n]["due"])[:5]
    assert [e["name"] for e in today["partners"]] == ["Hal Partner"]
    assert today["capacity"]["overdue"] == sum(
        1 for n, s in standing.items() if s == "overdue" and n in eligible
    )
    plan = json.loads(nudge("plan", "--days", "1", "--json", config=store)[1])
    assert plan[0]["date"] == today["date"]
    assert plan[0]["calls"] == calls
    assert plan[0]["partners"] == ["Hal Partner"]
    # and each pick says why, in words
    for entry in today["calls"] + today["partners"]:
        assert entry["why"], entry["name"]
