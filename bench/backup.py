"""`nudge export` and `nudge import` on a large store: time and peak memory, each in a fresh process.

The store is `plan.py`'s (contacts, identities, touches, meetings, suggestions, moments,
referrals), generated once. Export writes the JSON backup to a file; import restores it into a
new SQLite file, whose export must give the same bytes (checked, not timed). Prints figures;
there is no target to miss.

    .venv/bin/python bench/backup.py                          # 50,000 contacts, 1,000,000 touches
    .venv/bin/python bench/backup.py --contacts 5000 --touches 100000
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def export(db: Path, out: Path) -> None:
    from sqlmodel import Session

    from nudge import backup
    from nudge.store.db import open_db

    with Session(open_db(f"sqlite:///{db}")) as s, out.open("w", encoding="utf-8", newline="") as f:
        backup.write_json(s, f)


def restore(backup_file: Path, db: Path) -> None:
    from nudge import backup
    from nudge.store.db import atomic, open_db

    db.unlink(missing_ok=True)
    with atomic(open_db(f"sqlite:///{db}")) as s:
        backup.import_json(s, backup_file.read_text(encoding="utf-8"), str(backup_file))


def worker(step: str, a: Path, b: Path) -> None:
    t0 = time.perf_counter()
    export(a, b) if step == "export" else restore(a, b)
    took = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{step}: {took:.1f} s, peak RSS {rss:.0f} MB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--contacts", type=int, default=50_000)
    ap.add_argument("--touches", type=int, default=1_000_000)
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]), Path(args.worker[2]))
        return 0
    sys.path.insert(0, str(HERE))
    import plan

    out = HERE / "out"
    db = out / f"plan-{args.contacts}-{args.touches}.db"
    if not db.exists():
        plan.generate(db, args.contacts, args.touches)
    first, restored, again = out / "backup.json", out / "restored.db", out / "again.json"
    for step, a, b in (("export", db, first), ("import", first, restored)):
        subprocess.run([sys.executable, __file__, "--worker", step, str(a), str(b)], check=True)
    export(restored, again)
    size = first.stat().st_size / 1e6
    same = again.read_bytes() == first.read_bytes()
    print(f"backup: {size:.0f} MB; export of the restored store gives the same bytes: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
