"""Benchmark: one store, SQLite against PostgreSQL (not a test): what the database costs nudge.

The same files source (bench/realistic.py's address book and calendar, written as a .vcf
and an .ics) is synced into an SQLite file and into a real PostgreSQL on loopback, started
for the run by tests/servers/postgres.py (initdb + pg_ctl into a temp dir; Debian's
`postgresql` binaries and the `[postgres]` extra needed). Printed per store: the first
sync, a no-op re-sync, `contacts` (every row, the planner's due), the digest's plan,
and `migrate-store` from the SQLite file into a new PostgreSQL database.

    .venv/bin/python bench/store.py                         # 2,000 contacts, 8,000 events
    .venv/bin/python bench/store.py --contacts 5000 --events 20000

The test server runs with durability off (fsync, synchronous_commit), as its tests want;
a production server's commits cost more. Wall-clock figures on a shared machine vary:
run it twice and compare the second.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import realistic

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def timed(what: Callable[[], Any]) -> float:
    began = time.perf_counter()
    what()
    return time.perf_counter() - began


def figures(url: str, root: Path) -> dict[str, float]:
    from sqlmodel import Session

    from nudge import config, service
    from nudge.digest.plan import local_now, make_plan
    from nudge.reports.contacts import rows

    settings = config.validate(
        {
            "timezone": "Europe/Berlin",
            "database_url": url,
            "maildir": str(root / "Maildir"),
            "me": {"name": realistic.ME_NAME, "emails": list(realistic.ME_EMAILS), "region": "DE"},
            "sources": [
                {"type": "files", "name": "files", "paths": [str(root / "book.vcf"), str(root / "cal.ics")]}
            ],
        }
    )
    engine = service.open_store(settings)
    out = {
        "first sync": timed(lambda: service.sync_all(engine, settings, NOW)),
        "no-op re-sync": timed(lambda: service.sync_all(engine, settings, NOW)),
    }
    with Session(engine) as s:
        out["contacts"] = timed(lambda: rows(s, settings, NOW))
    day = local_now(settings, NOW).date()
    out["digest plan"] = timed(lambda: make_plan(engine, settings, NOW, day))
    engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--contacts", type=int, default=2000)
    ap.add_argument("--events", type=int, default=8000)
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # the generator's company cards are skipped, as they should be

    from nudge.store.transfer import copy_store
    from tests.servers.postgres import start_postgres, stop_postgres

    root = Path(tempfile.mkdtemp(prefix="nudge-bench-store-"))
    data = realistic.generate(args.contacts, args.events, 17, NOW)
    (root / "book.vcf").write_text(data.vcf(), encoding="utf-8")
    (root / "cal.ics").write_text(data.ics(), encoding="utf-8")
    print(f"{args.contacts} contacts, {args.events} calendar objects (bench/realistic.py), files source")
    server = start_postgres()
    try:
        sqlite_url = f"sqlite:///{root / 'nudge.db'}"
        results = {
            "SQLite": figures(sqlite_url, root),
            "PostgreSQL": figures(server.url(server.create_database()), root),
        }
        target = server.url(server.create_database())
        moved = timed(lambda: copy_store(sqlite_url, target))
    finally:
        stop_postgres(server)
        shutil.rmtree(root, ignore_errors=True)
    print(f"{'':16}{'SQLite':>10}{'PostgreSQL':>12}")
    for what in results["SQLite"]:
        print(f"{what:16}{results['SQLite'][what]:>9.2f}s{results['PostgreSQL'][what]:>11.2f}s")
    print(f"migrate-store SQLite -> PostgreSQL: {moved:.2f}s")


if __name__ == "__main__":
    main()
