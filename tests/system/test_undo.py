"""`nudge undo`, `nudge log --list` and `nudge rm ID` end to end, on a store on disk.

Each kind of hand-made change is taken back through the CLI, and the store is
compared with what it was before, through `show --json`: the user's view.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from nudge.config import Settings
from nudge.store.db import make_engine
from nudge.store.models import DigestRun
from tests.builders import ME
from tests.conftest import NOW
from tests.system.test_cli import cfg, clock, nudge
from tests.system.test_replies import apply, numbered, reply_bytes, sent

pytestmark = pytest.mark.both_stores  # the dialect matters here: run on SQLite and PostgreSQL

__all__ = ["cfg", "clock", "sent"]


def show(cfg: Path, name: str) -> dict[str, Any]:
    code, out = nudge("show", name, "--json", config=cfg)
    assert code == 0, out
    info: dict[str, Any] = json.loads(out)
    return info


def undo(cfg: Path) -> str:
    code, out = nudge("undo", config=cfg)
    assert code == 0, out
    return out


def test_undo_takes_back_a_logged_touch_and_its_warmth(cfg: Path) -> None:
    before = show(cfg, "ana r")
    assert nudge("log", "ana r", "call: new job at Acme", config=cfg)[0] == 0
    assert show(cfg, "ana r")["last_touch_at"] != before["last_touch_at"]
    out = undo(cfg)
    assert out.startswith("Undid: logged a call with Ana Ruiz on Mon 23 Nov 2026: new job at Acme")
    after = show(cfg, "ana r")
    assert after["touches"] == before["touches"]
    assert (after["last_touch_at"], after["warmth"]) == (before["last_touch_at"], before["warmth"])


def test_undo_each_kind_in_turn_newest_first(cfg: Path) -> None:
    """Six changes of six kinds, then six undos: each says what it undid, and the store is back."""
    ana0, ben0 = show(cfg, "ana r"), show(cfg, "ben")
    assert nudge("note", "ana r", "loves climbing", config=cfg)[0] == 0
    assert nudge("outcome", "ana r", "meeting", config=cfg)[0] == 0  # on the calendar's coffee
    assert nudge("snooze", "ana r", "2w", config=cfg)[0] == 0
    assert nudge("tier", "ana r", "partner", config=cfg)[0] == 0
    assert nudge("referral", "given", "ben", "intro to Lee", config=cfg)[0] == 0
    assert nudge("log", "ben", "message: thanks", "--at", "yesterday", config=cfg)[0] == 0
    said = [undo(cfg) for _ in range(6)]
    assert said[0].startswith("Undid: logged a message with Ben Ott on Sun 22 Nov 2026: thanks")
    assert said[1].startswith("Undid: a referral given to Ben Ott: intro to Lee")
    assert said[2].startswith("Undid: Ana Ruiz: tier partner (was top100)")
    assert said[3].startswith("Undid: snoozed Ana Ruiz until Mon 07 Dec 2026 (was not snoozed)")
    assert said[4].startswith(
        "Undid: the meeting with Ana Ruiz on 09 Oct 2026 led to meeting (was no outcome)"
    )
    assert said[5].startswith("Undid: a note about Ana Ruiz: loves climbing")
    ana, ben = show(cfg, "ana r"), show(cfg, "ben")
    for key in ("touches", "notes", "referrals", "tier", "tier_source", "tier_since", "snoozed_until"):
        assert ana[key] == ana0[key], key
        assert ben[key] == ben0[key], key
    code, out = nudge("undo", config=cfg)
    assert code == 1 and "nothing to undo" in out


def test_undo_of_a_tier_cleared_restores_the_address_books_tier(cfg: Path) -> None:
    zoe0 = show(cfg, "zoe")
    assert zoe0["tier_source"] == "source:files"
    assert nudge("tier", "zoe", "none", config=cfg)[0] == 0
    undo(cfg)
    zoe = show(cfg, "zoe")
    assert (zoe["tier"], zoe["tier_source"], zoe["tier_since"]) == ("top100", "source:files", None)


def test_one_command_is_one_undo(cfg: Path) -> None:
    assert nudge("top100", "remove", "zoe", "anna", config=cfg)[0] == 0
    out = undo(cfg)
    assert out.startswith("Undid 2 changes:")
    assert "Zoë Çelik: tier none (was top100)" in out and "Anna Berg: tier none (was top100)" in out
    listed = nudge("top100", "list", config=cfg)[1]
    assert "Zoë Çelik" in listed and "Anna Berg" in listed


def test_log_list_gives_ids_and_rm_deletes_exactly_that_one(cfg: Path) -> None:
    assert nudge("log", "ana r", "call: first", "--at", "3 days ago", config=cfg)[0] == 0
    assert nudge("log", "ana r", "call: second", "--at", "2 days ago", config=cfg)[0] == 0
    assert nudge("note", "ben", "likes jazz", config=cfg)[0] == 0
    code, out = nudge("log", "--list", "--json", config=cfg)
    assert code == 0, out
    entries = json.loads(out)
    assert [e["what"] for e in entries] == [
        "note about Ben Ott: likes jazz",
        "call (out) with Ana Ruiz: second",
        "call (out) with Ana Ruiz: first",
    ]
    assert set(entries[0]) == {"id", "at", "contact_id", "name", "what"}
    first = entries[2]["id"]
    assert first.startswith("t")
    text = nudge("log", "--list", "ana r", config=cfg)[1]
    assert first in text and "likes jazz" not in text
    code, out = nudge("rm", first, config=cfg)
    assert code == 0 and out.startswith(f"Removed {first}: call (out) with Ana Ruiz: first")
    notes = [t["note"] for t in show(cfg, "ana r")["touches"]]
    assert notes == ["second", None]  # the other call and the calendar's coffee stay
    assert "since removed" not in nudge("show", "ana r", config=cfg)[1]
    out = undo(cfg)
    assert out.startswith(f"Undid: removed {first}: call (out) with Ana Ruiz: first")
    assert [t["note"] for t in show(cfg, "ana r")["touches"]] == ["second", "first", None]
    code, out = nudge("rm", "n999", config=cfg)
    assert code == 1 and "there is no entry n999" in out
    code, out = nudge("rm", "12", config=cfg)
    assert code == 1 and "not an entry id" in out


def test_rm_refuses_a_touch_a_sync_made(cfg: Path) -> None:
    [coffee] = show(cfg, "ana r")["touches"]
    assert coffee["source"] == "files"
    shown = nudge("show", "ana r", config=cfg)[1]
    assert f"[{coffee['id']}]" in shown  # `show` names it, so the user may well try
    code, out = nudge("rm", coffee["id"], config=cfg)
    assert code == 1
    assert f"{coffee['id']} (meeting (out) with Ana Ruiz) came from the source 'files'" in out
    assert "Traceback" not in out
    assert show(cfg, "ana r")["touches"] == [coffee]
    code, out = nudge("undo", config=cfg)
    assert code == 1 and "nothing to undo" in out  # the refusal journaled nothing


def test_undo_of_a_call_clears_the_suggestion_it_answered(cfg: Path, clock: Any, store_url: str) -> None:
    """A touch undone no longer marks the digest's suggestion as acted on."""

    def acted() -> list[Any]:
        engine = make_engine(store_url)
        try:
            with engine.connect() as db:
                return list(
                    db.execute(sa.text("SELECT acted_at FROM suggestion WHERE slot = 'call'")).scalars()
                )
        finally:
            engine.dispose()

    assert nudge("digest", config=cfg)[0] == 0
    clock.move_to(NOW + timedelta(hours=2))
    assert nudge("log", "zoe", "call: hi", config=cfg)[0] == 0
    assert nudge("sync", config=cfg)[0] == 0  # marks the suggestion acted on
    assert sum(a is not None for a in acted()) == 1
    undo(cfg)
    assert acted() == [None, None, None]


def test_a_reply_to_the_digest_is_undone_as_one(
    sent: tuple[Settings, DigestRun], engine: Engine, now: datetime, tmp_path: Path
) -> None:
    """Replies are the user's own actions: `undo` takes back a whole reply, and says so."""
    settings, run = sent
    n = numbered(engine, run.date)
    config = tmp_path / "cli.toml"
    config.write_text(
        f'timezone = "Europe/Berlin"\ndatabase_url = "{settings.database}"\n[me]\nemails = ["{ME}"]\n'
    )
    before = {i: show(config, n[i]) for i in (1, 4)}
    row = apply(
        engine, settings, reply_bytes("done 1\nsnooze 4 2w\nnote 1: loves climbing", run.message_id), now
    )
    assert row is not None and row.state == "applied"
    assert show(config, n[4])["snoozed_until"] == "2026-12-07"
    out = undo(config)
    assert out.startswith("Undid 3 changes (from your reply to the digest):")
    assert f"snoozed {n[4]} until Mon 07 Dec 2026 (was not snoozed)" in out
    for i in (1, 4):
        after = show(config, n[i])
        for key in ("touches", "notes", "snoozed_until", "last_touch_at"):
            assert after[key] == before[i][key], (i, key)


def test_entries_listed_for_one_person_only(cfg: Path) -> None:
    ana = show(cfg, "ana r")["id"]
    assert nudge("note", "ana r", "one", config=cfg)[0] == 0
    assert nudge("note", f"#{ana}", "two", config=cfg)[0] == 0
    assert nudge("note", "ben", "three", config=cfg)[0] == 0
    rows = json.loads(nudge("log", "--list", str(ana), "--json", config=cfg)[1])
    assert [r["what"] for r in rows] == ["note about Ana Ruiz: two", "note about Ana Ruiz: one"]
    code, out = nudge("log", config=cfg)
    assert code == 2 and "give a name" in out
