"""Contacts CSVs through `nudge sync`, `show` and `digest --dry-run --json` (issue #15, parts 1 and 2).

The address book is Sam's Google vCard export (tests/data/exports/google/contacts.vcf, tiers from
its `Top 100` / `Referral Partner` categories); LinkedIn's Connections.csv (two exports five months
apart, tests/data/exports/linkedin/README.md) is synced beside it. What the README works out by hand:
most rows meet the address book by e-mail or by a folded name unique on both sides, the two Sven
Berg rows meet nobody, and the second export holds exactly two job changes: Jonas's company and
Eva's position.

"Now" is Monday 15 June 2026, 07:00 in Berlin, the day after the second export.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from nudge.cli import app
from nudge.store.db import open_db
from nudge.store.models import Contact, Identity, Moment, Touch

EXPORTS = Path(__file__).resolve().parents[1] / "data" / "exports"
FIRST = EXPORTS / "linkedin" / "Basic_LinkedInDataExport_01-12-2026"
SECOND = EXPORTS / "linkedin" / "Basic_LinkedInDataExport_06-14-2026"
NOW = datetime(2026, 6, 15, 5, 0, tzinfo=UTC)
runner = CliRunner()


def nudge(cfg: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(cfg), *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def write_config(tmp: Path, *paths: Path, extra: str = "") -> Path:
    cfg = tmp / "config.toml"
    listed = ", ".join(f'"{p}"' for p in paths)
    cfg.write_text(
        f"""timezone = "Europe/Berlin"
database_url = "sqlite:///{tmp / "nudge.db"}"
maildir = "{tmp / "Maildir"}"
[me]
emails = ["sam.lindqvist@example.com"]
region = "DE"
[tiers.top100]
cadence_days = 30
groups = ["Top 100"]
[tiers.partner]
cadence_days = 21
groups = ["Referral Partner"]
slot = "partner"
[[sources]]
type = "files"
name = "files"
paths = [{listed}]
{extra}""",
        encoding="utf-8",
    )
    return cfg


@pytest.fixture
def linkedin(tmp_path: Path, clock: None) -> Path:
    """The address book and the first LinkedIn export, synced; the export's folder is `linkedin/`."""
    shutil.copy(EXPORTS / "google" / "contacts.vcf", tmp_path / "contacts.vcf")
    shutil.copytree(FIRST, tmp_path / "linkedin" / FIRST.name)
    cfg = write_config(tmp_path, tmp_path / "contacts.vcf", tmp_path / "linkedin")
    code, out = nudge(cfg, "sync")
    assert code == 0, out
    return cfg


def moments(cfg: Path, kind: str) -> dict[str, list[str]]:
    engine = open_db(f"sqlite:///{cfg.parent / 'nudge.db'}")
    with Session(engine) as s:
        rows = s.exec(
            select(Contact.name, Moment.detail)
            .join(Moment, col(Moment.contact_id) == col(Contact.id))
            .where(Moment.kind == kind)
        ).all()
    out: dict[str, list[str]] = {}
    for name, detail in rows:
        out.setdefault(name, []).append(detail)
    return out


def job_changes_in_digest(cfg: Path) -> dict[str, str]:
    code, out = nudge(cfg, "digest", "--dry-run", "--json")
    assert code == 0, out
    plan: dict[str, Any] = json.loads(out)
    found: dict[str, str] = {}
    for entry in plan["calls"] + plan["partners"]:
        for line in entry["why"]:
            if line.startswith("changed jobs"):
                assert entry["name"] not in found, "one job change line per person"
                found[entry["name"]] = line.removeprefix("changed jobs: ")
    return found


def test_the_first_export_merges_by_email_and_unique_name_and_keeps_sven_apart(linkedin: Path) -> None:
    engine = open_db(f"sqlite:///{linkedin.parent / 'nudge.db'}")
    with Session(engine) as s:
        profiles = {
            name: value
            for name, value in s.exec(
                select(Contact.name, Identity.value)
                .join(Identity, col(Identity.contact_id) == col(Contact.id))
                .where(Identity.kind == "linkedin")
            )
        }
        svens = {
            c.id: sorted({i.kind for i in s.exec(select(Identity).where(Identity.contact_id == c.id))})
            for c in s.exec(select(Contact).where(Contact.name == "Sven Berg"))
        }
        touches = s.exec(select(Touch)).all()
    # by e-mail (Ana, Dev, Paula), by a unique folded name (Jonas, Eva, `Holm 🌿`), never renamed
    for name, slug in [
        ("Ana Ruiz", "ana-ruiz-7b2a91c4"),
        ("Paula Costa", "paula-costa-8d31e0b6"),
        ("Jonas Weber", "jonas-weber-7e2c1a58"),
        ("Eva Novák", "eva-novak-3f8b6d04"),
        ("Greta Holm", "greta-holm-5a7c2e19"),
    ]:
        assert profiles.get(name) == f"https://www.linkedin.com/in/{slug}", name
    # two LinkedIn rows named Sven Berg: neither is merged with the one contact on a name alone
    assert sorted(svens.values()) == [["email", "phone"], ["linkedin"], ["linkedin"]]
    assert touches == [], "Connected On is no touch"
    matched = moments(linkedin, "matched")
    assert "Jonas Weber" in matched and "Ana Ruiz" not in matched, "only name matches say so"
    assert moments(linkedin, "job_change") == {}, "a first reading is no job change"


def test_show_names_the_name_match_and_the_connection_date(linkedin: Path) -> None:
    code, out = nudge(linkedin, "show", "Jonas Weber", "--json")
    assert code == 0, out
    assert json.loads(out)["profiles"] == ["https://www.linkedin.com/in/jonas-weber-7e2c1a58"]
    timeline = [e["what"] for e in json.loads(out)["timeline"]]
    assert any(
        w.startswith("matched by name with Jonas Weber in the LinkedIn export of 12 Jan 2026")
        for w in timeline
    ), timeline
    connected = [e["at"][:10] for e in json.loads(out)["timeline"] if e["what"] == "connected on LinkedIn"]
    assert connected == ["2025-02-07"]


def test_a_second_export_beside_the_first_gives_exactly_its_two_job_changes_once(linkedin: Path) -> None:
    shutil.copytree(SECOND, linkedin.parent / "linkedin" / SECOND.name)
    code, out = nudge(linkedin, "sync")
    assert code == 0, out

    changes = moments(linkedin, "job_change")
    assert changes == {
        "Jonas Weber": [
            "now COO at Fourth Coffee, was COO at Litware (LinkedIn export of 14 Jun 2026, Connections.csv)"
        ],
        "Eva Novák": [
            "now VP Partnerships at Fabrikam, was Head of Partnerships "
            "(LinkedIn export of 14 Jun 2026, Connections.csv)"
        ],
    }
    digest = job_changes_in_digest(linkedin)
    assert digest == {name: details[0] for name, details in changes.items()}
    code, out = nudge(linkedin, "sync")  # nothing new: no second moment
    assert code == 0, out
    assert moments(linkedin, "job_change") == changes


def test_an_older_export_added_later_is_no_job_change(tmp_path: Path, clock: None) -> None:
    shutil.copy(EXPORTS / "google" / "contacts.vcf", tmp_path / "contacts.vcf")
    shutil.copytree(SECOND, tmp_path / "linkedin" / SECOND.name)
    cfg = write_config(tmp_path, tmp_path / "contacts.vcf", tmp_path / "linkedin")
    assert nudge(cfg, "sync")[0] == 0
    shutil.copytree(FIRST, tmp_path / "linkedin" / FIRST.name)

    code, out = nudge(cfg, "sync")
    assert code == 0, out

    assert moments(cfg, "job_change") == {}
    engine = open_db(f"sqlite:///{tmp_path / 'nudge.db'}")
    with Session(engine) as s:
        jonas = s.exec(select(Contact).where(Contact.name == "Jonas Weber")).one()
    assert jonas.org == "Fourth Coffee"


def test_one_changed_company_replaced_in_place_gives_exactly_one_moment(tmp_path: Path, clock: None) -> None:
    """The issue's case: the export file overwritten by a re-export in which only Jonas moved on."""
    shutil.copy(EXPORTS / "google" / "contacts.vcf", tmp_path / "contacts.vcf")
    export = tmp_path / "Connections.csv"
    shutil.copy(FIRST / "Connections.csv", export)
    cfg = write_config(tmp_path, tmp_path / "contacts.vcf", export)
    assert nudge(cfg, "sync")[0] == 0
    text = export.read_text(encoding="utf-8")
    export.write_text(text.replace("Litware,COO", "Fourth Coffee,COO"), encoding="utf-8")

    code, out = nudge(cfg, "sync")
    assert code == 0, out

    assert moments(cfg, "job_change") == {
        "Jonas Weber": ["now COO at Fourth Coffee, was COO at Litware (LinkedIn export Connections.csv)"]
    }
    assert job_changes_in_digest(cfg) == {
        "Jonas Weber": "now COO at Fourth Coffee, was COO at Litware (LinkedIn export Connections.csv)"
    }


def test_show_prints_the_profile_and_the_facts(linkedin: Path) -> None:
    code, out = nudge(linkedin, "show", "Eva Novák")
    assert code == 0, out
    assert "  linkedin: https://www.linkedin.com/in/eva-novak-3f8b6d04" in out
    assert "2024-12-12  connected on LinkedIn" in out
    assert "matched by name with Eva Novák in the LinkedIn export of 12 Jan 2026, Connections.csv" in out


def test_google_csv_labels_give_tiers_through_the_config(tmp_path: Path, clock: None) -> None:
    cfg = write_config(tmp_path, EXPORTS / "google-csv" / "contacts.csv")
    code, out = nudge(cfg, "sync")
    assert code == 0, out
    engine = open_db(f"sqlite:///{tmp_path / 'nudge.db'}")
    with Session(engine) as s:
        tiers = {c.name.split()[0]: c.tier for c in s.exec(select(Contact)) if c.tier}
    assert {n for n, t in tiers.items() if t == "top100"} == {
        "Ana",
        "Ben",
        "Chloé",
        "Dev",
        "Eva",
        "Farid",
        "Greta",
        "Hiro",
        "Inês",
        "Jonas",
        "Kofi",
    }
    assert {n for n, t in tiers.items() if t == "partner"} == {"Omar", "Paula", "Quentin", "Rosa"}


def test_a_row_without_name_or_url_is_skipped_with_its_line(linkedin: Path) -> None:
    code, out = nudge(linkedin, "sync")
    assert code == 0, out
    assert "line 26: no name, e-mail, phone or profile URL" in out, out


def test_linkedin_rows_join_google_csv_contacts_by_url_email_and_name(tmp_path: Path, clock: None) -> None:
    """No address book but Google's CSV: Ana and Paula by the profile in its Website column, Priya by
    e-mail, Jonas by his unique name; Tomás (not on LinkedIn) and Sofía (not in Google) stay alone."""
    cfg = write_config(tmp_path, EXPORTS / "google-csv" / "contacts.csv", FIRST / "Connections.csv")
    code, out = nudge(cfg, "sync")
    assert code == 0, out

    engine = open_db(f"sqlite:///{tmp_path / 'nudge.db'}")
    with Session(engine) as s:
        kinds: dict[str, set[str]] = {}
        for name, kind in s.exec(
            select(Contact.name, Identity.kind).join(Identity, col(Identity.contact_id) == col(Contact.id))
        ):
            kinds.setdefault(name, set()).add(kind)
        names = list(s.exec(select(Contact.name)))
    for who in ("Ana Ruiz", "Paula Costa", "Priya Nair", "Jonas Weber", "Kofi Mensah"):
        assert {"email", "linkedin"} <= kinds[who], who
        assert names.count(who) == 1, who
    assert "linkedin" not in kinds["Tomás Silva"]
    assert names.count("Sven Berg") == 3  # Google's Sven and LinkedIn's two
    assert moments(cfg, "matched").keys() >= {"Jonas Weber", "Kofi Mensah"}
    assert "Ana Ruiz" not in moments(cfg, "matched") and "Priya Nair" not in moments(cfg, "matched")
