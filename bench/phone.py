"""Sync a folder of SMS Backup & Restore files: how long a first and a repeated sync take.

Every sync reads every backup in the folder again (phone entries leave no per-file record);
this prints what that costs for a folder of `--backups` overlapping full backups, each with
`--calls` calls and as many texts, among `--contacts` people with numbers.

    .venv/bin/python bench/phone.py
    .venv/bin/python bench/phone.py --calls 20000 --backups 3
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nudge import config, service
from nudge.store.db import open_db

NOW = datetime(2026, 6, 16, 5, 30, tzinfo=UTC)
HEAD = "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"


def number(i: int) -> str:
    return f"+49302312{i:04d}"


def backup(folder: Path, stamp: str, calls: int, contacts: int, rng: random.Random) -> None:
    start = NOW - timedelta(days=365)
    lines = [HEAD, f'<calls count="{calls}" backup_set="b" backup_date="0" type="full">\n']
    texts = [HEAD, f'<smses count="{calls}" backup_set="b" backup_date="0" type="full">\n']
    for i in range(calls):
        at = int((start + timedelta(minutes=i * 50)).timestamp() * 1000)
        who = number(rng.randrange(contacts * 2))  # half the numbers are nobody's
        kind = rng.choice("1112223")
        lines.append(
            f'  <call number="{who}" duration="{rng.randrange(0, 900)}" date="{at}" type="{kind}" '
            f'presentation="1" readable_date="" contact_name="(Unknown)" />\n'
        )
        texts.append(
            f'  <sms protocol="0" address="{who}" date="{at + 7}" type="{rng.choice("12")}" subject="null" '
            f'body="Hallo, wie geht es?" read="1" status="-1" locked="0" date_sent="0" readable_date="" />\n'
        )
    (folder / f"calls-{stamp}.xml").write_text("".join([*lines, "</calls>\n"]), encoding="utf-8")
    (folder / f"sms-{stamp}.xml").write_text("".join([*texts, "</smses>\n"]), encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--contacts", type=int, default=500)
    parser.add_argument("--backups", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        phone = root / "phone"
        phone.mkdir()
        cards = "".join(
            f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c{i}\r\nFN:Person {i}\r\nTEL:{number(i)}\r\n"
            f"CATEGORIES:top100\r\nEND:VCARD\r\n"
            for i in range(args.contacts)
        )
        (root / "book.vcf").write_text(cards)
        for b in range(args.backups):  # full backups: each repeats the last and adds to it
            backup(
                phone,
                f"2026060{b + 1}080000",
                args.calls * (b + 1) // args.backups,
                args.contacts,
                random.Random(7),
            )
        settings = config.validate(
            {
                "timezone": "Europe/Berlin",
                "database_url": f"sqlite:///{root / 'nudge.db'}",
                "maildir": str(root / "Maildir"),
                "me": {"emails": ["me@example.com"], "region": "DE"},
                "sources": [
                    {"type": "files", "name": "book", "paths": [str(root / "book.vcf")]},
                    {"type": "files", "name": "phone", "paths": [str(phone)]},
                ],
            }
        )
        engine = open_db(settings.database)
        entries = sum(2 * args.calls * (b + 1) // args.backups for b in range(args.backups))
        print(f"{args.backups} backups, {entries} entries in all, {args.contacts} contacts")
        for label in ("first sync", "second sync (nothing new)"):
            started = time.perf_counter()
            reports = service.sync_all(engine, settings, NOW)
            took = time.perf_counter() - started
            phone_report = next(r for r in reports if r.source == "phone")
            print(f"{label}: {took:.2f} s; {phone_report.line()}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
