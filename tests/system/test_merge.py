"""`nudge merge`, `nudge split` and their undo, end to end through the CLI on a store on disk.

Sam's Google address book has Ana Ruiz's work card; his phone's address book (an iPhone
export, vCard 3.0 with Apple's habits) has her private card under another name and address,
so sync keeps two contacts until Sam says they are one.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine

from tests.system.test_backup import EXPORTS, NOW, ok, write_config
from tests.system.test_cli import nudge

PRIVATE = "ana.r@home.example.com"


def private_card(uid: str, email: str) -> str:
    return (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//iPhone OS 17.5//EN\r\n"
        "N:R.;Ana;;;\r\nFN:Ana R.\r\n"
        f"item1.EMAIL;type=INTERNET;type=pref:{email}\r\nitem1.X-ABLabel:_$!<Home>!$_\r\n"
        "TEL;type=CELL;type=VOICE;type=pref:+49 30 23125450\r\n"
        f"UID:{uid}\r\nEND:VCARD\r\n"
    )


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def book(tmp_path: Path) -> Path:
    private = tmp_path / "private.vcf"
    private.write_text(private_card("4A3C9E2B-51D7-4C8A-9F1E-7B2D6C0A1E35", PRIVATE))
    for name in ("contacts.vcf", "calendar.ics"):
        shutil.copy(EXPORTS / "google" / name, tmp_path / name)
    return tmp_path


@pytest.fixture
def cfg(book: Path, clock: time_machine.Coordinates) -> Path:
    files = [book / "contacts.vcf", book / "calendar.ics", book / "private.vcf"]
    path = write_config(book, "nudge.db", files)
    ok("sync", config=path)
    ok("log", PRIVATE, "call: her new flat in Lisbon", "--at", "3 days ago", config=path)
    ok("note", PRIVATE, "her daughter is called Inés", config=path)
    ok("referral", "received", PRIVATE, "her neighbour's accounting firm", config=path)
    return path


def show(cfg: Path, who: str) -> dict[str, Any]:
    info: dict[str, Any] = json.loads(ok("show", who, "--json", config=cfg))
    return info


def names(cfg: Path) -> list[str]:
    return sorted(c["name"] for c in json.loads(ok("contacts", "--json", config=cfg)))


def what(entries: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(e, sort_keys=True) for e in entries)


def test_merge_makes_one_contact_with_everything_of_both(cfg: Path) -> None:
    work, home = show(cfg, "ana ruiz"), show(cfg, PRIVATE)
    before = names(cfg)
    out = ok("merge", "ana ruiz", PRIVATE, config=cfg)
    assert out.strip() == f"Merged Ana R. (#{home['id']}) into Ana Ruiz (#{work['id']})."
    assert names(cfg) == [n for n in before if n != "Ana R."]
    ana = show(cfg, "ana ruiz")
    assert ana["id"] == work["id"] and ana["name"] == "Ana Ruiz"
    assert sorted(ana["emails"]) == sorted(work["emails"] + home["emails"])
    assert sorted(ana["phones"]) == sorted(work["phones"] + home["phones"])
    assert what(ana["touches"]) == what(work["touches"] + home["touches"])
    assert what(ana["notes"]) == what(home["notes"]) and what(ana["referrals"]) == what(home["referrals"])
    assert ana["tier"] == "top100"  # the work card's; the private card names none
    assert ana["last_touch_at"] == home["last_touch_at"]  # the call three days ago counts for her now


def test_merge_is_remembered_by_the_next_syncs(cfg: Path, book: Path) -> None:
    ok("merge", "ana ruiz", PRIVATE, config=cfg)
    count = len(names(cfg))
    # Both cards read again: the work card edited, the private one re-exported by the phone with
    # a new UID and the address she moved to, so nothing of it is known to nudge any more.
    contacts = book / "contacts.vcf"
    contacts.write_text(contacts.read_text().replace("TITLE:Founder", "TITLE:Managing Partner"))
    (book / "private.vcf").write_text(
        private_card("C1F0B7D2-0E4A-4B9B-8C51-3D5E2A7F9B60", "ana@lisboa.example")
    )
    ok("sync", config=cfg)
    assert len(names(cfg)) == count and "Ana R." not in names(cfg)
    ana = show(cfg, "ana ruiz")
    assert ana["name"] == "Ana Ruiz" and ana["title"] == "Managing Partner"
    assert "ana@lisboa.example" in ana["emails"]
    assert "her daughter is called Inés" in [n["text"] for n in ana["notes"]]


def test_undo_takes_a_merge_back(cfg: Path) -> None:
    work, home = show(cfg, "ana ruiz"), show(cfg, PRIVATE)
    before = names(cfg)
    ok("merge", "ana ruiz", PRIVATE, config=cfg)
    assert ok("undo", config=cfg).startswith(f"Undid: merged Ana R. (#{home['id']}) into Ana Ruiz")
    assert names(cfg) == before
    for was in (work, home):
        now = show(cfg, f"#{was['id']}")
        for key in ("name", "emails", "phones", "touches", "notes", "referrals", "tier", "last_touch_at"):
            assert now[key] == was[key], (was["name"], key)


def test_split_takes_the_merged_contact_out_and_sync_leaves_them_apart(cfg: Path) -> None:
    home = show(cfg, PRIVATE)
    ok("merge", "ana ruiz", PRIVATE, config=cfg)
    out = ok("split", "ana ruiz", "+49 30 23125450", config=cfg)
    assert out.strip() == f"Split Ana R. (#{home['id']}) out of Ana Ruiz (#{show(cfg, 'ana ruiz')['id']})."
    ok("sync", config=cfg)
    back = show(cfg, PRIVATE)
    for key in ("id", "name", "emails", "phones", "touches", "notes", "referrals"):
        assert back[key] == home[key], key
    assert PRIVATE not in show(cfg, "ana ruiz")["emails"]
    assert ok("undo", config=cfg).startswith("Undid: split Ana R.")
    assert PRIVATE in show(cfg, "ana ruiz")["emails"] and "Ana R." not in names(cfg)
    assert ok("undo", config=cfg).startswith("Undid: merged Ana R.")  # and then the merge itself
    assert show(cfg, PRIVATE)["id"] == home["id"] and PRIVATE not in show(cfg, "ana ruiz")["emails"]


def test_split_by_an_address_a_card_brought_says_what_to_do(cfg: Path) -> None:
    code, out = nudge("split", "ana ruiz", "ana.ruiz@example.net", config=cfg)
    assert code == 1
    assert "not from `nudge merge`" in out and "Traceback" not in out


def test_merge_of_one_contact_with_itself_is_refused(cfg: Path) -> None:
    code, out = nudge("merge", "ana ruiz", "ana.ruiz@example.net", config=cfg)
    assert code == 1 and "is one contact already" in out


def test_duplicates_lists_the_pair_with_its_evidence_and_merges_nothing(cfg: Path) -> None:
    work, home = show(cfg, "ana ruiz"), show(cfg, PRIVATE)
    before = names(cfg)
    pairs = json.loads(ok("duplicates", "--json", config=cfg))
    ana = [p for p in pairs if {p["a"]["id"], p["b"]["id"]} == {work["id"], home["id"]}]
    assert len(ana) == 1
    assert ana[0]["evidence"] == ["initials and surname: Ana Ruiz / Ana R."]
    assert ana[0]["merge"] == f"nudge merge '#{work['id']}' '#{home['id']}'"
    assert names(cfg) == before
    text = ok("duplicates", config=cfg)
    assert f"Ana Ruiz (#{work['id']}) and Ana R. (#{home['id']})" in text


def backup_tables(cfg: Path) -> dict[str, Any]:
    """The store as `nudge export` sees it, less the journal (undo writes to it) and the merges."""
    tables: dict[str, Any] = json.loads(ok("export", config=cfg))["tables"]
    return {k: v for k, v in tables.items() if k not in ("useraction", "merge")}


def test_a_meeting_both_attended_counts_once_and_undo_puts_every_row_back(book: Path, cfg: Path) -> None:
    """Ana was invited to the coffee with both addresses: two touches of one meeting become one,
    keeping the outcome Sam put on her private twin; undo leaves the store as it was, row by row."""
    calendar = book / "calendar.ics"
    text = calendar.read_text()
    uid = "UID:3492d75b948b5311cc344af2fb@google.com\n"
    invite = (
        "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE\n"
        f" ;CN=Ana R.;X-NUM-GUESTS=0:mailto:{PRIVATE}\n"
    )
    calendar.write_text(text.replace(uid, uid + invite))
    ok("sync", config=cfg)
    for _ in range(3):  # the fixture's referral, note and call: the coffee is her latest touch again
        ok("undo", config=cfg)
    ok("outcome", PRIVATE, "conversation", config=cfg)
    assert [(t["summary"], t["outcome"]) for t in show(cfg, PRIVATE)["touches"]] == [
        ("Coffee with Ana", "conversation")
    ]
    before = backup_tables(cfg)
    ok("merge", "ana ruiz", PRIVATE, config=cfg)
    coffee = [t for t in show(cfg, "ana ruiz")["touches"] if t["summary"] == "Coffee with Ana"]
    assert [t["outcome"] for t in coffee] == ["conversation"]
    ok("undo", config=cfg)
    assert backup_tables(cfg) == before


def test_the_tier_set_by_hand_wins_and_a_snooze_is_kept(cfg: Path) -> None:
    """The work card puts Ana in top100; Sam made her private contact a partner by hand and snoozed it."""
    ok("tier", PRIVATE, "partner", config=cfg)
    ok("snooze", PRIVATE, "2w", config=cfg)
    home = show(cfg, PRIVATE)
    ok("merge", "ana ruiz", PRIVATE, config=cfg)
    ana = show(cfg, "ana ruiz")
    assert (ana["tier"], ana["tier_source"], ana["tier_since"]) == ("partner", "cli", home["tier_since"])
    assert ana["snoozed_until"] == home["snoozed_until"]
    ok("sync", config=cfg)  # the address book's top100 does not undo a tier set by hand
    assert show(cfg, "ana ruiz")["tier"] == "partner"


def test_merging_an_archived_contact_into_a_live_one_keeps_the_person_live(cfg: Path, book: Path) -> None:
    (book / "private.vcf").write_text("")  # the phone's export no longer has her private card
    ok("sync", config=cfg)
    assert show(cfg, PRIVATE)["archived_at"] is not None
    ok("merge", "ana ruiz", PRIVATE, config=cfg)
    ok("sync", config=cfg)
    ana = show(cfg, "ana ruiz")
    assert ana["archived_at"] is None and PRIVATE in ana["emails"]
    assert "her daughter is called Inés" in [n["text"] for n in ana["notes"]]
