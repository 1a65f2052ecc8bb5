"""Calls and texts from the phone (issue #16 part 4), through the files source, sync and ingest.

The samples are tests/data/exports/android (its README reads every entry by hand): Sam's phone,
region DE, backed up by SMS Backup & Restore into the folder a cloud drive syncs, and call-log
CSVs. The address book is the Google export of the same cast (tests/data/exports/google). "Now"
is Tuesday 16 June 2026, 07:30 in Berlin.

Expected from the README's tables:

- first backup (1 June): call touches for Ana (12 May, in), Ben (14 May 09:20, out; the 18 s try
  before it is too short), Chloé (20 May, out) and Dev (28 May, out); message touches for Ana
  (in 17:05, out 17:07), Paula (21 May), Eva (the group MMS she sent; not Farid, only copied).
  Chloé's missed call of 19 May was called back the next morning: answered, no moment.
- second backup (15 June), on top: calls for Omar, Paula (the 30 s one, not the 29 s), Kofi
  (his callback), Tomás (known by this number only), Hiro (answered on another device) and Inês;
  texts for Jonas, Farid, Rosa (a sent MMS). Nothing of the first backup again.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from nudge import config, service
from nudge.config import Settings
from nudge.digest.send import plan_json
from nudge.store.db import open_db
from nudge.store.models import Contact, Moment, Touch

EXPORTS = Path(__file__).resolve().parents[1] / "data" / "exports"
ANDROID = EXPORTS / "android"
NOW = datetime(2026, 6, 16, 5, 30, tzinfo=UTC)
DAY = date(2026, 6, 16)
FIRST = ("calls-20260601080012.xml", "sms-20260601080012.xml")
SECOND = ("calls-20260615080009.xml", "sms-20260615080009.xml")


def utc(month: int, day: int, hour: int, minute: int) -> datetime:
    """A Berlin summer time, in UTC."""
    return datetime(2026, month, day, hour - 2, minute, tzinfo=UTC)


def settings_for(tmp: Path, phone: Path) -> Settings:
    return config.validate(
        {
            "timezone": "Europe/Berlin",
            "database_url": f"sqlite:///{tmp / 'nudge.db'}",
            "maildir": str(tmp / "Maildir"),
            "me": {"name": "Sam Lindqvist", "emails": ["sam.lindqvist@example.com"]},
            "tiers": {
                "top100": {"cadence_days": 30, "groups": ["Top 100"]},
                "partner": {"cadence_days": 21, "groups": ["Referral Partner"], "slot": "partner"},
            },
            "sources": [
                {"type": "files", "name": "book", "paths": [str(EXPORTS / "google" / "contacts.vcf")]},
                {"type": "files", "name": "phone", "paths": [str(phone)]},
            ],
        }
    )


def phone_touches(engine: Engine) -> set[tuple[str, str, datetime, str]]:
    """(who, kind, minute, direction) of every touch from the phone."""
    with Session(engine) as s:
        rows = s.exec(
            select(Contact.name, Touch.kind, Touch.at, Touch.direction)
            .join(Contact, col(Contact.id) == Touch.contact_id)
            .where(Touch.source == "phone")
        ).all()
    return {(n, k, at.replace(second=0, microsecond=0), d) for n, k, at, d in rows}


FIRST_TOUCHES = {
    ("Ana Ruiz", "call", utc(5, 12, 17, 40), "in"),
    ("Ben Okafor", "call", utc(5, 14, 9, 20), "out"),
    ("Chloé Martin", "call", utc(5, 20, 8, 10), "out"),
    ("Dev Patel", "call", utc(5, 28, 16, 45), "out"),
    ("Ana Ruiz", "message", utc(5, 12, 17, 5), "in"),
    ("Ana Ruiz", "message", utc(5, 12, 17, 7), "out"),
    ("Paula Costa", "message", utc(5, 21, 9, 15), "in"),
    ("Eva Novák", "message", utc(5, 23, 19, 30), "in"),
}
SECOND_TOUCHES = {
    ("Omar Said", "call", utc(6, 2, 13, 10), "in"),
    ("Paula Costa", "call", utc(6, 3, 9, 2), "out"),
    ("Kofi Mensah", "call", utc(6, 5, 15, 34), "out"),
    ("Tomás Silva", "call", utc(6, 8, 18, 20), "in"),
    ("Hiro Tanaka", "call", utc(6, 12, 17, 0), "in"),
    ("Inês Duarte", "call", utc(6, 14, 21, 5), "in"),
    ("Jonas Weber", "message", utc(6, 4, 12, 0), "out"),
    ("Farid Haddad", "message", utc(6, 9, 8, 30), "in"),
    ("Rosa Lind", "message", utc(6, 11, 16, 40), "out"),
}


@pytest.fixture
def phone(tmp_path: Path) -> Path:
    folder = tmp_path / "SMSBackupRestore"
    folder.mkdir()
    return folder


def add(folder: Path, names: tuple[str, ...], where: Path = ANDROID / "SMSBackupRestore") -> None:
    for name in names:
        shutil.copy(where / name, folder / name)


def sync(engine: Engine, settings: Settings) -> dict[str, Any]:
    reports = service.sync_all(engine, settings, NOW)
    assert all(r.ok for r in reports), [r.line() for r in reports]
    return {r.source: r for r in reports}


def test_backups_in_the_folder_become_touches_and_overlaps_add_nothing(tmp_path: Path, phone: Path) -> None:
    settings = settings_for(tmp_path, phone)
    engine = open_db(settings.database)
    add(phone, FIRST)

    first = sync(engine, settings)["phone"]

    assert phone_touches(engine) == FIRST_TOUCHES
    # the unknown caller of 22 May and the bank's text (the private number has no number at all)
    assert len(first.unmatched) == 2
    assert "2 calls and texts from numbers in no address book" in first.line()
    assert first.skipped == []

    add(phone, SECOND)  # the second full backup repeats the first, and the first stays
    second = sync(engine, settings)["phone"]

    assert phone_touches(engine) == FIRST_TOUCHES | SECOND_TOUCHES
    assert second.calls == len(SECOND_TOUCHES)

    again = sync(engine, settings)["phone"]

    assert again.calls == 0
    assert phone_touches(engine) == FIRST_TOUCHES | SECOND_TOUCHES
    with Session(engine) as s:  # a call or text is a touch, and the contact's last touch moves
        tomas = s.exec(select(Contact).where(Contact.name == "Tomás Silva")).one()
    assert tomas.last_touch_at is not None
    assert tomas.last_touch_at.replace(second=0, microsecond=0) == utc(6, 8, 18, 20)


def test_a_cut_backup_keeps_what_came_before_the_break_and_counts_it_once(
    tmp_path: Path, phone: Path
) -> None:
    settings = settings_for(tmp_path, phone)
    engine = open_db(settings.database)
    add(phone, SECOND)
    add(phone, ("calls-20260616073004.xml", "sms-20260616073004.xml"), ANDROID / "odd")

    report = sync(engine, settings)["phone"]

    assert [(Path(sk.href).name.split("#")[0], sk.reason) for sk in report.skipped] == [
        (
            "calls-20260616073004.xml",
            "file cut short or broken at line 31 (unclosed token: line 31, column 2)",
        )
    ]
    got = phone_touches(engine)
    # the two newest calls, in the cut file only; Ana's text with emoji as surrogate halves
    assert ("Ana Ruiz", "call", utc(6, 15, 18, 0), "in") in got
    assert ("Eva Novák", "call", utc(6, 15, 19, 30), "out") in got
    assert ("Ana Ruiz", "message", utc(6, 15, 12, 0), "in") in got
    assert got >= FIRST_TOUCHES | SECOND_TOUCHES


def test_a_missed_call_from_a_tiered_person_is_a_moment_until_called_back(
    tmp_path: Path, phone: Path
) -> None:
    settings = settings_for(tmp_path, phone)
    engine = open_db(settings.database)
    lines = (ANDROID / "calllog-csv" / "calls.csv").read_text(encoding="utf-8").splitlines()
    # the call log as it was at 15:31 on 5 June: Kofi's missed call, not yet his callback
    (phone / "calls.csv").write_text("\n".join(lines[:5]) + "\n", encoding="utf-8")
    assert lines[4].startswith("+14155550111,2026-06-05T15:30:50")

    sync(engine, settings)

    with Session(engine) as s:
        moments = s.exec(select(Contact.name, Moment.detail, Moment.seen_at).join(Contact)).all()
    assert moments == [("Kofi Mensah", "called on Fri 5 Jun at 15:30, no call back yet", None)]
    picks = plan_json(service.render_day(engine, settings, NOW, DAY))
    kofi = next(p for p in picks["calls"] if p["name"] == "Kofi Mensah")
    assert "called on Fri 5 Jun at 15:30, no call back yet" in kofi["why"]

    shutil.copy(ANDROID / "calllog-csv" / "calls.csv", phone / "calls.csv")  # the callback four minutes later
    sync(engine, settings)

    with Session(engine) as s:
        moment = s.exec(select(Moment)).one()
    assert moment.seen_at is not None  # answered: no reason to call any more


def test_calls_called_back_in_the_same_backup_leave_no_moment(tmp_path: Path, phone: Path) -> None:
    settings = settings_for(tmp_path, phone)
    engine = open_db(settings.database)
    add(phone, FIRST + SECOND)

    sync(engine, settings)

    with Session(engine) as s:
        moments = s.exec(select(Contact.name, Moment.detail).join(Contact).order_by(col(Moment.at))).all()
    # Chloé (missed 19 May) and Kofi (missed 5 Jun) were called back; Sven (missed 10 Jun) is in
    # no tier. Quentin's rejected call and Ana's voicemail got no call or text back.
    assert moments == [
        ("Quentin Roy", "called on Mon 25 May at 19:15, no call back yet"),
        ("Ana Ruiz", "called on Sat 30 May at 11:00, no call back yet"),
    ]


@pytest.mark.parametrize(
    ("name", "skipped"),
    [
        (
            "calls.csv",
            [
                "line 12: 3 fields, the header has 4",
                "line 13: no usable date ('yesterday')",
                "line 14: duration '12:05' is not whole seconds",
            ],
        ),
        ("call_log.csv", []),
        (
            "calls-excel-de.csv",
            [
                f"line {n}: the number {v!r} lost its digits in a spreadsheet"
                for n, v in [
                    (3, "4,9699E+11"),
                    (4, "4,9699E+11"),
                    (8, "4,93023E+11"),
                    (9, "4,99E+11"),
                    (11, "4,47701E+11"),
                ]
            ],
        ),
    ],
)
def test_call_log_csvs_give_the_calls_and_count_the_bad_rows(
    tmp_path: Path, phone: Path, name: str, skipped: list[str]
) -> None:
    settings = settings_for(tmp_path, phone)
    engine = open_db(settings.database)
    shutil.copy(ANDROID / "calllog-csv" / name, phone / name)

    report = sync(engine, settings)["phone"]

    assert [sk.reason for sk in report.skipped] == skipped
    calls = {t for t in phone_touches(engine) if t[1] == "call"}
    new_in_second = {t for t in SECOND_TOUCHES if t[1] == "call"}
    if name == "call_log.csv":  # all 21 calls of the second backup
        assert calls == {t for t in FIRST_TOUCHES | SECOND_TOUCHES if t[1] == "call"}
    elif name == "calls.csv":  # the ten new calls, and Omar's extension line of 15 June
        assert calls == new_in_second | {("Omar Said", "call", utc(6, 15, 21, 0), "out")}
    else:  # what Excel left: Omar (his 0 lost, DE reads it right), Kofi, Tomás; never +4914155550111
        assert calls == {
            ("Omar Said", "call", utc(6, 2, 13, 10), "in"),
            ("Kofi Mensah", "call", utc(6, 5, 15, 34), "out"),
            ("Tomás Silva", "call", utc(6, 8, 18, 20), "in"),
        }


def test_other_xml_and_csv_files_in_the_folder_are_left_out_and_named(tmp_path: Path, phone: Path) -> None:
    settings = settings_for(tmp_path, phone)
    engine = open_db(settings.database)
    add(phone, FIRST[:1])
    (phone / "calls.xsl").write_text("<xsl:stylesheet/>")  # not a suffix anyone reads
    (phone / "notes.xml").write_text("<?xml version='1.0'?>\n<notes><note/></notes>\n")
    (phone / "budget.csv").write_text("Month,Amount\nJune,12\n")

    report = sync(engine, settings)["phone"]

    assert {t[0] for t in phone_touches(engine)} == {"Ana Ruiz", "Ben Okafor", "Chloé Martin", "Dev Patel"}
    texts = [n.text for n in report.notices]
    assert any("notes.xml: not a file nudge can read" in t for t in texts), texts
    assert any("budget.csv: not a file nudge can read" in t for t in texts), texts


def test_nudge_sync_and_show_through_the_cli(tmp_path: Path, phone: Path) -> None:
    """`nudge sync` names what the phone gave; `nudge show` lists the calls and the moment."""
    import time_machine

    from tests.system.test_cli import nudge

    add(phone, FIRST + SECOND)
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'timezone = "Europe/Berlin"\ndatabase_url = "sqlite:///{tmp_path / "nudge.db"}"\n'
        f'maildir = "{tmp_path / "Maildir"}"\n[me]\nemails = ["sam.lindqvist@example.com"]\n'
        '[tiers.top100]\ncadence_days = 30\ngroups = ["Top 100"]\n'
        '[tiers.partner]\ncadence_days = 21\ngroups = ["Referral Partner"]\nslot = "partner"\n'
        f'[[sources]]\ntype = "files"\nname = "book"\npaths = ["{EXPORTS / "google" / "contacts.vcf"}"]\n'
        f'[[sources]]\ntype = "files"\nname = "phone"\npaths = ["{phone}"]\n'
    )
    with time_machine.travel(NOW, tick=False):
        code, out = nudge("sync", config=cfg)
        assert code == 0, out
        # 17 touches and 2 moments (Quentin's rejected call, Ana's voicemail)
        assert "phone: 19 added (19 calls and texts)" in out
        assert "3 calls and texts from numbers in no address book" in out  # each once
        code, out = nudge("show", "tomás", config=cfg)
    assert code == 0, out
    assert "call (1 min)" in out
    with time_machine.travel(NOW, tick=False):
        code, out = nudge("show", "quentin", config=cfg)
    assert "called on Mon 25 May at 19:15, no call back yet" in out
