"""`nudge export` and `nudge import` end to end: a store built by real syncs and hand edits,
taken out and restored into a fresh store on disk.

The address book and calendar are Sam's Google exports (tests/data/exports/google/), read by
the files source; the hand edits go through the CLI, as a user makes them.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
import vobject
from sqlmodel import SQLModel

from nudge import backup
from nudge.parse.vcard import parse_vcard
from tests.servers.postgres import postgres, postgres_store_url
from tests.system.test_cli import nudge

__all__ = ["postgres", "postgres_store_url"]  # fixtures

EXPORTS = Path(__file__).resolve().parents[1] / "data" / "exports"
NOW = datetime(2026, 6, 16, 5, 30, tzinfo=UTC)  # a Tuesday, 07:30 in Berlin
ME = ("sam.lindqvist@example.com", "s.lindqvist@example.org")


def write_config(tmp: Path, db: str, files: list[Path]) -> Path:
    path = tmp / f"{db}.toml"
    paths = ", ".join(f'"{p}"' for p in files)
    path.write_text(
        f"""timezone = "Europe/Berlin"
database_url = "sqlite:///{tmp / db}"
maildir = "{tmp / "Maildir"}"
[me]
name = "Sam Lindqvist"
emails = {json.dumps(list(ME))}
[tiers.top100]
cadence_days = 30
groups = ["Top 100"]
[tiers.partner]
cadence_days = 21
groups = ["Referral Partner"]
slot = "partner"
[[sources]]
type = "files"
name = "google"
paths = [{paths}]
"""
    )
    return path


def ok(*args: str, config: Path) -> str:
    code, out = nudge(*args, config=config)
    assert code == 0, out
    return out


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


PRIVATE_CARD = (  # Ana's private card in Sam's iPhone export: another name, another address
    "BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Apple Inc.//iPhone OS 17.5//EN\r\nN:R.;Ana;;;\r\n"
    "FN:Ana R.\r\nitem1.EMAIL;type=INTERNET;type=pref:ana.r@home.example.com\r\n"
    "item1.X-ABLabel:_$!<Home>!$_\r\nUID:4A3C9E2B-51D7-4C8A-9F1E-7B2D6C0A1E35\r\nEND:VCARD\r\n"
)


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    out = []
    for name in ("contacts.vcf", "calendar.ics"):
        shutil.copy(EXPORTS / "google" / name, tmp_path / name)
        out.append(tmp_path / name)
    (tmp_path / "private.vcf").write_text(PRIVATE_CARD, newline="")
    return [*out, tmp_path / "private.vcf"]


@pytest.fixture
def cfg(tmp_path: Path, files: list[Path], clock: time_machine.Coordinates) -> Path:
    """A store built by a real sync and every kind of hand edit, and one digest sent."""
    path = write_config(tmp_path, "nudge.db", files)
    ok("sync", config=path)
    ok("log", "ana ruiz", "call: new role at Ruiz Consulting", "--at", "yesterday", config=path)
    ok("note", "ben okafor", "daughter starts university in October", config=path)
    ok("snooze", "chloé", "2w", config=path)
    ok("tier", "dev patel", "partner", config=path)
    ok("outcome", "ana ruiz", "meeting", config=path)
    ok("referral", "given", "dev patel", "intro to a CFO", "--counterpart", "Ben Okafor", config=path)
    ok("referral", "received", "eva", "the Fabrikam audit", config=path)
    ok("note", "ana.r@home.example.com", "moved to Lisbon", config=path)
    ok("digest", config=path)
    ok("merge", "ana ruiz", "ana.r@home.example.com", config=path)
    return path


def test_export_import_export_is_byte_equal(tmp_path: Path, cfg: Path, files: list[Path]) -> None:
    first = tmp_path / "backup.json"
    ok("export", "-o", str(first), config=cfg)
    data = json.loads(first.read_text())
    tables = data["tables"]
    for table in (
        "contact",
        "identity",
        "touch",
        "note",
        "referral",
        "digestrun",
        "suggestion",
        "useraction",
    ):
        assert tables[table], f"the store built for the test has no {table} rows"
    assert {t["outcome"] for t in tables["touch"]} >= {"meeting"}
    assert {r["direction"] for r in tables["referral"]} == {"given", "received"}
    fresh = write_config(tmp_path, "restored.db", files)
    out = ok("import", str(first), config=fresh)
    assert out.startswith(f"Restored {first}:")
    second = tmp_path / "again.json"
    ok("export", "-o", str(second), config=fresh)
    assert second.read_bytes() == first.read_bytes()


def test_a_restored_store_syncs_without_duplicating_anyone(
    tmp_path: Path, cfg: Path, files: list[Path]
) -> None:
    first = tmp_path / "backup.json"
    ok("export", "-o", str(first), config=cfg)
    fresh = write_config(tmp_path, "restored.db", files)
    ok("import", str(first), config=fresh)
    ok("sync", config=fresh)
    before = json.loads(ok("contacts", "--json", config=cfg))
    after = json.loads(ok("contacts", "--json", config=fresh))
    assert [(c["id"], c["name"], c["tier"]) for c in after] == [
        (c["id"], c["name"], c["tier"]) for c in before
    ]
    ana = json.loads(ok("show", "ana ruiz", "--json", config=fresh))
    ana0 = json.loads(ok("show", "ana ruiz", "--json", config=cfg))
    assert ana["touches"] == ana0["touches"]
    assert json.loads(ok("duplicates", "--json", config=fresh)) == []  # the merge came along
    assert ok("undo", config=fresh).startswith("Undid: merged Ana R.")
    assert ok("undo", config=fresh).startswith("Undid: a note about Ana R.: moved to Lisbon")


def test_round_trip_through_postgresql(
    tmp_path: Path, cfg: Path, files: list[Path], postgres_store_url: str
) -> None:
    """The same backup restored into PostgreSQL: the same bytes out, and new rows get new ids."""
    first = tmp_path / "backup.json"
    ok("export", "-o", str(first), config=cfg)
    fresh = write_config(tmp_path, "unused.db", files)
    fresh.write_text(fresh.read_text().replace(f"sqlite:///{tmp_path / 'unused.db'}", postgres_store_url))
    fresh.chmod(0o600)  # the URL holds the test server's password
    ok("import", str(first), config=fresh)
    second = tmp_path / "again.json"
    ok("export", "-o", str(second), config=fresh)
    assert second.read_bytes() == first.read_bytes()
    ok("note", "ben okafor", "after the move to PostgreSQL", config=fresh)
    ok("log", "ben okafor", "call: catch-up", config=fresh)
    ben = json.loads(ok("show", "ben okafor", "--json", config=fresh))
    assert "after the move to PostgreSQL" in [n["text"] for n in ben["notes"]]


def test_import_refuses_a_store_that_holds_anything(tmp_path: Path, cfg: Path) -> None:
    first = tmp_path / "backup.json"
    ok("export", "-o", str(first), config=cfg)
    code, out = nudge("import", str(first), config=cfg)
    assert code == 1
    assert "nudge import restores into an empty store" in out and "contact" in out
    assert "Traceback" not in out


def test_import_refuses_a_newer_schema_by_name(tmp_path: Path, cfg: Path, files: list[Path]) -> None:
    data = json.loads(ok("export", config=cfg))
    data["schema_version"] = "0099_from_the_future"
    path = tmp_path / "newer.json"
    path.write_text(json.dumps(data))
    fresh = write_config(tmp_path, "restored.db", files)
    code, out = nudge("import", str(path), config=fresh)
    assert code == 1
    assert "'0099_from_the_future'" in out and "upgrade nudge" in out
    assert json.loads(ok("contacts", "--json", config=fresh)) == []


def test_import_of_a_file_that_is_no_backup_says_so(tmp_path: Path, files: list[Path]) -> None:
    path = tmp_path / "contacts.vcf"
    fresh = write_config(tmp_path, "restored.db", files)
    code, out = nudge("import", str(path), config=fresh)
    assert code == 1 and f"{path} is not a nudge backup: line 1" in out


def test_a_damaged_backup_is_named_row_and_field_and_restores_nothing(
    tmp_path: Path, cfg: Path, files: list[Path]
) -> None:
    data = json.loads(ok("export", config=cfg))
    del data["tables"]["touch"][2]["at"]
    path = tmp_path / "damaged.json"
    path.write_text(json.dumps(data))
    fresh = write_config(tmp_path, "restored.db", files)
    code, out = nudge("import", str(path), config=fresh)
    assert code == 1 and out.strip() == f"nudge: {path}: touch row 3: at: Field required"
    data["tables"]["touch"][2]["at"] = "2026-06-01T10:00:00Z"
    data["tables"]["touch"][2]["contact_id"] = 9999  # no such contact: cut from another file
    path.write_text(json.dumps(data))
    code, out = nudge("import", str(path), config=fresh)
    assert code == 1 and "the touch rows do not fit the rest of the backup" in out and "Traceback" not in out
    assert json.loads(ok("contacts", "--json", config=fresh)) == []


def test_every_table_is_in_the_backup_or_named_as_derived() -> None:
    """A new table must be exported or said to come back from the sources: one line in backup.py."""
    exported = {str(m.__tablename__) for m in backup.EXPORTED}
    derived = {str(m.__tablename__) for m in backup.DERIVED}
    assert not exported & derived
    store_wide = {str(m.__tablename__) for m in backup.STORE_WIDE}
    assert set(SQLModel.metadata.tables) == exported | derived | store_wide


def test_vcard_export_is_vcard_4_that_vobject_and_nudge_read_back(cfg: Path) -> None:
    text = ok("export", "--format", "vcard", config=cfg)
    cards = list(vobject.readComponents(text))
    contacts = json.loads(ok("contacts", "--json", config=cfg))
    assert len(cards) == len(contacts)
    ana = next(c for c in cards if c.fn.value == "Ana Ruiz")
    assert ana.version.value == "4.0"
    assert ana.n.value.family == "Ruiz" and ana.n.value.given == "Ana"
    assert ana.uid.value.startswith("urn:uuid:")
    assert ana.bday.value == "1984-02-29"
    assert ana.org.value == ["Ruiz Consulting"]
    texts = [c.serialize() for c in vobject.readComponents(text)]
    records = {r.name: r for r in (parse_vcard(t) for t in texts)}
    ana_rec = records["Ana Ruiz"]
    assert "ana.ruiz@example.net" in ana_rec.emails  # type: ignore[union-attr]
    assert "+493023125401" in [p.replace("tel:", "") for p in ana_rec.phones]  # type: ignore[union-attr]
    assert ana_rec.categories == ("Top 100",)  # as the user's address book and config name it  # type: ignore[union-attr]
    assert ana_rec.birthday == "1984-02-29"  # type: ignore[union-attr]
    ben = records["Ben Okafor"]
    assert ben.note and "daughter starts university in October" in ben.note  # type: ignore[union-attr]
    assert records["Dev Patel"].categories == ("Referral Partner",)  # type: ignore[union-attr]


def test_csv_export_has_google_contacts_header_and_reads_back(tmp_path: Path, cfg: Path) -> None:
    path = tmp_path / "contacts.csv"
    ok("export", "--format", "csv", "-o", str(path), config=cfg)
    raw = path.read_bytes()
    sample = (EXPORTS / "google-csv" / "contacts.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM, as Google writes it
    assert raw.split(b"\n", 1)[0] == sample.split(b"\n", 1)[0]
    assert b"\r\n" not in raw
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    contacts = json.loads(ok("contacts", "--json", config=cfg))
    assert len(rows) == len(contacts)
    ana = next(r for r in rows if (r["First Name"], r["Last Name"]) == ("Ana", "Ruiz"))
    assert ana["E-mail 1 - Value"] == "ana.ruiz@example.net"
    assert ana["Labels"] == "Top 100 ::: * myContacts"
    assert ana["Birthday"] == "1984-02-29"
    assert ana["Organization Name"] == "Ruiz Consulting"
    ben = next(r for r in rows if r["Last Name"] == "Okafor")
    assert "daughter starts university in October" in ben["Notes"]


def test_csv_export_reimports_through_the_google_dialect_as_the_same_people(
    tmp_path: Path, cfg: Path
) -> None:
    """The CSV is for other tools, and for nudge: a fresh store reading it as a files source finds
    every contact with their address, company, birthday and tier."""
    path = tmp_path / "out" / "contacts.csv"
    path.parent.mkdir()
    ok("export", "--format", "csv", "-o", str(path), config=cfg)
    fresh = write_config(tmp_path, "fresh.db", [path])
    synced = ok("sync", config=fresh)
    assert "skipped" not in synced.replace("0 skipped", ""), synced

    def people(config: Path) -> dict[str, tuple[object, ...]]:
        rows = json.loads(ok("contacts", "--json", config=config))
        return {r["name"]: (r["tier"], r["org"], sorted(r["emails"]), sorted(r["phones"])) for r in rows}

    before, after = people(cfg), people(fresh)
    assert len(before) >= 5 and any(tier for tier, *_ in before.values())
    assert after == before
    shown = json.dumps(json.loads(ok("show", "ana ruiz", "--json", config=fresh)))
    assert "1984-02-29" in shown
