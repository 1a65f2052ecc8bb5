"""Benchmark: plan + render one morning digest on a large store (not a test).

bench/README.md sets the target: 50,000 contacts and 1,000,000 touches planned and rendered
in < 1 s with peak RSS < 200 MB. The store is generated once with bulk inserts into the
schema that `nudge.db.open_db` creates (reused with --db when the file exists); the
timing and the memory figure come from fresh subprocesses that only open that file and
call `service.render_day`, so generating the data never inflates them.

    .venv/bin/python bench/plan.py                        # full size, DB in bench/out/
    .venv/bin/python bench/plan.py --contacts 5000 --touches 100000 --runs 5
    .venv/bin/python bench/plan.py --profile              # cProfile even when on target
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # a Monday, 07:00 in Berlin (as in the tests)
TZ = "Europe/Berlin"
TARGET_S = 1.0
TARGET_MB = 200.0
TOP100, PARTNERS = 100, 20
KINDS = (("meeting", 0.40, 1.0), ("call", 0.20, 0.8), ("message", 0.20, 0.4), ("email", 0.20, 0.3))
SUMMARIES = ("Coffee", "Lunch", "Catch-up", "Project sync", "Intro call", "Dinner", "Board meeting")
FIRST = ("Ada", "Grace", "Alan", "Kathy", "Linus", "Barbara", "Edsger", "Radia", "Ken", "Frances")
LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Liskov", "Dijkstra", "Perlman", "Allen")


def ts(value: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores (naive UTC), so queries compare correctly."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def settings_for(db: Path) -> Any:
    """Bench settings: default tiers and digest; a missing templates dir so no user copy applies."""
    from nudge import config

    return config.validate(
        {
            "timezone": TZ,
            "database_url": f"sqlite:///{db}",
            "maildir": str(db.parent / "Maildir"),
            "me": {"name": "Bench", "emails": ["me@example.com"], "region": "DE"},
            "digest": {"templates_dir": str(db.parent / "no-templates")},
            "sources": [{"type": "memory", "name": "book"}, {"type": "memory", "name": "calendar"}],
        }
    )


# --- generation -------------------------------------------------------------------------


def generate(db: Path, contacts: int, touches: int, seed: int = 1) -> None:
    """Fill a fresh store: contacts, identities, touches, meetings, suggestions, moments, referrals."""
    from nudge.store.db import open_db

    rng = random.Random(seed)
    t0 = time.perf_counter()
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    open_db(f"sqlite:///{db}").dispose()  # the real schema, via the real migrations

    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("BEGIN")
    ids = list(range(1, contacts + 1))
    tiers: dict[int, str] = {}
    for cid in rng.sample(ids, min(TOP100 + PARTNERS, contacts)):
        tiers[cid] = "top100" if len(tiers) < TOP100 else "partner"

    contact_rows = []
    for cid in ids:
        created = NOW - timedelta(days=rng.uniform(30, 1100))
        tier = tiers.get(cid)
        since = created + timedelta(days=rng.uniform(0, (NOW - created).days)) if tier else None
        bday = None
        if rng.random() < 0.3:
            month, day = rng.randint(1, 12), rng.randint(1, 28)
            bday = (
                f"{rng.randint(1950, 2000)}-{month:02d}-{day:02d}"
                if rng.random() < 0.7
                else f"--{month:02d}-{day:02d}"
            )
        snoozed = (NOW.date() + timedelta(days=10)).isoformat() if tier and rng.random() < 0.03 else None
        archived = ts(NOW - timedelta(days=40)) if rng.random() < 0.01 else None
        cadence = rng.choice((14, 60)) if tier and rng.random() < 0.1 else None
        contact_rows.append(
            (
                cid,
                f"{rng.choice(FIRST)} {rng.choice(LAST)} {cid}",
                f"Org {cid % 997}" if rng.random() < 0.6 else None,
                rng.choice(("CTO", "Founder", "Engineer", "Partner")) if rng.random() < 0.5 else None,
                bday,
                tier,
                "source:book" if tier else None,
                ts(since) if since else None,
                cadence,
                snoozed,
                archived,
                ts(created),
                0.0,
            )
        )
    con.executemany(
        "INSERT INTO contact (id, name, org, title, birthday, tier, tier_source, tier_since, "
        "cadence_days, snoozed_until, archived_at, created_at, warmth_sum) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        contact_rows,
    )
    identity_rows = []
    for cid in ids:
        if rng.random() < 0.9:
            identity_rows.append((cid, "email", f"person{cid}@example{cid % 50}.org"))
        if rng.random() < 0.5:
            identity_rows.append((cid, "phone", f"+4930{cid:08d}"))
    con.executemany("INSERT INTO identity (contact_id, kind, value) VALUES (?,?,?)", identity_rows)
    con.executemany(
        "INSERT INTO sourcerecord (source, collection, href, kind, uid, etag, contact_id) "
        "VALUES ('book', 'contacts', ?, 'contact', ?, ?, ?)",
        ((f"contacts/c{cid}.vcf", f"c{cid}", f'"{cid}"', cid) for cid in ids),
    )
    con.execute(
        "INSERT INTO syncstate (source, collection, token, last_success_at, last_error, last_error_at) "
        "VALUES ('calendar', '', NULL, ?, 'HTTP 503 from the server', ?)",
        (ts(NOW - timedelta(days=2)), ts(NOW - timedelta(hours=1))),
    )

    # Touches: tiered people get ~150 each, the rest a long tail; each person's last touch
    # is spread over the past (tiered: 0-90 days ago) so the plan has real choices to make.
    per: dict[int, int] = defaultdict(int)
    tiered_total = min(touches // 2, sum(150 if t == "top100" else 100 for t in tiers.values()))
    tiered = list(tiers)
    for cid in rng.choices(tiered, k=tiered_total) if tiered else ():
        per[cid] += 1
    others = [c for c in ids if c not in tiers]
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(others))]
    for cid in rng.choices(others, weights=weights, k=touches - tiered_total) if others else ():
        per[cid] += 1
    kinds = [k for k, _, _ in KINDS]
    kind_w = [w for _, w, _ in KINDS]
    weight_of = {k: w for k, _, w in KINDS}
    last_at: dict[int, datetime] = {}
    meeting_no = 0
    touch_rows: list[tuple[Any, ...]] = []
    for cid in sorted(per):
        newest = (rng.uniform(0, 90) if cid in tiers else rng.uniform(0, 700)) + 0.1
        for _ in range(per[cid]):
            at = NOW - timedelta(days=rng.uniform(newest, 730))
            kind = rng.choices(kinds, kind_w)[0]
            ext = summary = None
            if kind == "meeting":
                meeting_no += 1
                ext, summary = f"evt-{meeting_no}@bench|", rng.choice(SUMMARIES)
            note = f"talked about plan {rng.randint(1, 999)}" if rng.random() < 0.05 else None
            touch_rows.append(
                (
                    cid,
                    ts(at),
                    kind,
                    rng.choice(("out", "in", "both")),
                    weight_of[kind],
                    "calendar" if kind == "meeting" else "cli",
                    ext,
                    note,
                    summary,
                    ts(at),
                )
            )
            last_at[cid] = max(last_at.get(cid, at), at)
        if len(touch_rows) >= 100_000:
            _insert_touches(con, touch_rows)
            touch_rows = []
    _insert_touches(con, touch_rows)

    # Upcoming meetings (some for tiered people: they are skipped), one week of history.
    planned_rows = []
    for n, cid in enumerate(rng.sample(ids, min(2000, contacts)) + rng.sample(tiered, min(15, len(tiered)))):
        at = NOW + timedelta(days=rng.uniform(0.1, 14))
        planned_rows.append((cid, "calendar", f"up-{n}@bench", f"up-{n}@bench|", ts(at), "Meeting"))
    con.executemany(
        "INSERT OR IGNORE INTO planned (contact_id, source, event_uid, external_id, at, summary) "
        "VALUES (?,?,?,?,?,?)",
        planned_rows,
    )

    # Forty past workdays of digests: five calls and a partner each, most acted on.
    back, past_days = NOW.date(), list[date]()
    while len(past_days) < 40:
        back -= timedelta(days=1)
        if back.weekday() < 5:
            past_days.append(back)
    top = [c for c, t in tiers.items() if t == "top100"]
    partners = [c for c, t in tiers.items() if t == "partner"]
    suggestion_rows, run_rows = [], []
    for d in past_days:
        picks = [(c, "call") for c in rng.sample(top, min(5, len(top)))]
        picks += [(c, "partner") for c in rng.sample(partners, min(1, len(partners)))]
        for cid, slot in picks:
            acted = (
                ts(datetime.combine(d, datetime.min.time(), UTC) + timedelta(days=1))
                if rng.random() < 0.6
                else None
            )
            suggestion_rows.append((d.isoformat(), cid, slot, "overdue", acted))
        when = ts(datetime.combine(d, datetime.min.time(), UTC) + timedelta(hours=6))
        run_rows.append((d.isoformat(), "sent", f"<nudge.digest.{d}@example.com>", 1, when, when))
    con.executemany(
        "INSERT INTO suggestion (digest_date, contact_id, slot, reason, acted_at) VALUES (?,?,?,?,?)",
        suggestion_rows,
    )
    con.executemany(
        "INSERT INTO digestrun (date, state, message_id, attempts, sent_at, updated_at) VALUES (?,?,?,?,?,?)",
        run_rows,
    )

    moment_rows = []
    for cid in rng.sample(ids, min(3000, contacts)) + rng.sample(tiered, min(6, len(tiered))):
        kind = rng.choice(("job_change", "birthday", "inbound"))
        at = NOW - timedelta(days=rng.uniform(0, 60))
        seen = ts(at + timedelta(days=1)) if rng.random() < 0.8 and at < NOW - timedelta(days=2) else None
        moment_rows.append((cid, kind, "now CTO at Org 7" if kind == "job_change" else "", ts(at), seen))
    con.executemany(
        "INSERT INTO moment (contact_id, kind, detail, at, seen_at) VALUES (?,?,?,?,?)", moment_rows
    )
    referral_rows = []
    for cid in partners:
        for _ in range(rng.randint(2, 15)):
            at = NOW - timedelta(days=rng.uniform(1, 700))
            referral_rows.append(
                (cid, rng.choice(("given", "received")), ts(at), "an intro", f"Client {rng.randint(1, 500)}")
            )
    con.executemany(
        "INSERT INTO referral (contact_id, direction, at, note, counterpart) VALUES (?,?,?,?,?)",
        referral_rows,
    )
    con.execute("COMMIT")
    con.close()
    t_rows = time.perf_counter() - t0
    refresh(db)
    print(
        f"generated {contacts:,} contacts, {touches:,} touches, {len(planned_rows):,} planned, "
        f"{len(suggestion_rows):,} suggestions, {len(moment_rows):,} moments, "
        f"{len(referral_rows):,} referrals in {t_rows:.1f} s; "
        f"denormalised warmth via store.derived.refresh_contacts in {time.perf_counter() - t0 - t_rows:.1f} s"
    )


def _insert_touches(con: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    con.executemany(
        "INSERT INTO touch (contact_id, at, kind, direction, weight, source, external_id, note, "
        "summary, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        rows,
    )


def refresh(db: Path) -> None:
    """last_touch_at / warmth_sum / warmth_at for every contact, by nudge's own code."""
    from sqlmodel import col, select

    from nudge.store.db import atomic, open_db
    from nudge.store.derived import refresh_contacts
    from nudge.store.models import Contact

    engine = open_db(f"sqlite:///{db}")
    with atomic(engine) as s:
        ids = [cid for cid in s.exec(select(col(Contact.id))) if cid is not None]
        refresh_contacts(s, ids, NOW, settings_for(db).touches.half_life_days)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # no ANALYZE: nudge never runs it
    engine.dispose()


# --- measuring (runs in a fresh subprocess) --------------------------------------------


def worker(db: Path, runs: int, profile: bool) -> dict[str, Any]:
    """Import, open the existing store, render `runs` times; report times and peak RSS."""
    t0 = time.perf_counter()
    from nudge import service
    from nudge.digest import facts as views
    from nudge.digest import render as digest

    t_import = time.perf_counter() - t0
    settings = settings_for(db)
    t1 = time.perf_counter()
    engine = service.open_store(settings)
    t_open = time.perf_counter() - t1
    rss_ready = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hwm_ready = vm_hwm_kb()
    day = service.local_now(settings, NOW).date()
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = service.render_day(engine, settings, NOW, day)
        times.append(time.perf_counter() - t)
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hwm_peak = vm_hwm_kb()
    assert result is not None and result.plan is not None

    # Where a warm run's time goes, phase by phase (the same calls render_day makes).
    phases: dict[str, float] = {}
    t = time.perf_counter()
    plan, people = service.make_plan(engine, settings, NOW, day)
    phases["load people + plan"] = time.perf_counter() - t
    t = time.perf_counter()
    view = views.build_view(engine, settings, plan, people, NOW)
    phases["facts + view"] = time.perf_counter() - t
    t = time.perf_counter()
    digest.render(view, views.templates_dir(settings))
    phases["jinja2 render"] = time.perf_counter() - t

    # The method's commands on the same store (after the RSS figures above were read).
    from sqlmodel import Session

    from nudge.core import ranking
    from nudge.reports import method as coach

    method: dict[str, float] = {}
    with Session(engine) as s:
        t = time.perf_counter()
        ranking.rank(coach.evidence(s, NOW), NOW, 150)
        method["top100 suggest"] = time.perf_counter() - t
        t = time.perf_counter()
        coach.stats(s, settings, NOW, 52)
        method["stats --weeks 52"] = time.perf_counter() - t

    report: dict[str, Any] = {
        "import_s": t_import,
        "open_s": t_open,
        "times_s": times,
        "phases_s": phases,
        "method_s": method,
        "rss_ready_mb": rss_ready / 1024,
        "rss_peak_mb": rss_peak / 1024,
        "hwm_ready_mb": hwm_ready / 1024,
        "hwm_peak_mb": hwm_peak / 1024,
        "people": len(people),
        "calls": [k.person.name for k in plan.calls],
        "partners": [k.person.name for k in plan.partners],
        "excluded": plan.excluded,
        "subject": result.subject,
        "html_bytes": len(result.html),
    }
    if profile:
        prof = cProfile.Profile()
        prof.enable()
        service.render_day(engine, settings, NOW, day)
        prof.disable()
        out = db.with_suffix(".prof")
        prof.dump_stats(str(out))
        report["profile"] = str(out)
    return report


def vm_hwm_kb() -> int:
    """Peak RSS of this process image only (VmHWM), as a cross-check of ru_maxrss."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def measure(db: Path, runs: int, profile: bool = False) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--db", str(db), "--runs", str(runs)]
    if profile:
        cmd.append("--profile")
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def machine() -> str:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        "unknown CPU",
    )
    mem = next(
        (
            int(ln.split()[1])
            for ln in Path("/proc/meminfo").read_text().splitlines()
            if ln.startswith("MemTotal")
        ),
        0,
    )
    return f"{os.cpu_count()} CPU ({cpu}), {mem / 1024 / 1024:.1f} GiB RAM, Python {sys.version.split()[0]}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--contacts", type=int, default=50_000)
    ap.add_argument("--touches", type=int, default=1_000_000)
    ap.add_argument(
        "--db", type=Path, help="SQLite file; reused when it exists (default: bench/out/, git-ignored)"
    )
    ap.add_argument("--runs", type=int, default=7, help="render_day calls per process (first is cold)")
    ap.add_argument("--processes", type=int, default=3, help="fresh processes, for the cold figure")
    ap.add_argument("--profile", action="store_true", help="cProfile one warm run even on target")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    db: Path = args.db or HERE / "out" / f"plan-{args.contacts}-{args.touches}.db"

    if args.worker:
        print(json.dumps(worker(db, args.runs, args.profile)))
        return 0
    if args.generate_only:
        generate(db, args.contacts, args.touches)
        return 0

    print(machine())
    if db.exists():
        print(f"reusing {db}")
    else:
        # In its own process: Linux carries ru_maxrss across fork+exec, so a measuring child
        # spawned by a process that just generated a million rows would inherit that peak.
        here = str(Path(__file__).resolve())
        size = ["--contacts", str(args.contacts), "--touches", str(args.touches)]
        subprocess.run([sys.executable, here, "--generate-only", "--db", str(db), *size], check=True)
    size_mb = sum(Path(f"{db}{s}").stat().st_size for s in ("", "-wal") if Path(f"{db}{s}").exists()) / 1e6
    print(f"store: {db} ({size_mb:.0f} MB)")

    reports = [measure(db, args.runs) for _ in range(args.processes)]
    cold = [r["times_s"][0] for r in reports]
    warm = [t for r in reports for t in r["times_s"][1:]]
    peak = max(r["rss_peak_mb"] for r in reports)
    ready = max(r["rss_ready_mb"] for r in reports)
    hwm = max(r["hwm_peak_mb"] for r in reports)
    last = reports[-1]
    median_warm = statistics.median(warm) if warm else float("nan")
    print(
        f"plan: {last['people']} tiered people, calls={len(last['calls'])}, "
        f"partners={len(last['partners'])}, excluded={last['excluded']}"
    )
    print(f"subject: {last['subject']}  (HTML {last['html_bytes']:,} bytes)")
    print(
        f"import nudge.service: {statistics.median(r['import_s'] for r in reports) * 1000:.0f} ms, "
        f"open_db: {statistics.median(r['open_s'] for r in reports) * 1000:.0f} ms (not in the figures below)"
    )
    print(
        f"render_day cold (first call in a fresh process, {len(cold)} processes): "
        f"median {statistics.median(cold) * 1000:.0f} ms, max {max(cold) * 1000:.0f} ms"
    )
    total = [r["import_s"] + r["open_s"] + r["times_s"][0] for r in reports]
    print(f"cold end to end (import + open_db + first render_day): median {statistics.median(total):.2f} s")
    print(f"render_day warm: median {median_warm * 1000:.0f} ms over {len(warm)} runs")
    print("warm phases: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in last["phases_s"].items()))
    print(
        f"peak RSS (ru_maxrss): {peak:.0f} MB, of which imports + open_db: {ready:.0f} MB "
        f"(VmHWM cross-check: {hwm:.0f} MB)"
    )
    for name in last["method_s"]:
        times = [r["method_s"][name] for r in reports]
        print(f"{name}: median {statistics.median(times):.2f} s, max {max(times):.2f} s (target < 2 s)")
    ok_time = max(cold) < TARGET_S
    ok_mem = max(peak, hwm) < TARGET_MB
    print(
        f"target < {TARGET_S:.0f} s: {'met' if ok_time else 'MISSED'} (cold); "
        f"target < {TARGET_MB:.0f} MB: {'met' if ok_mem else 'MISSED'}"
    )
    if args.profile or not (ok_time and ok_mem):
        prof = measure(db, 2, profile=True)
        print(f"\ncProfile of one warm render_day ({prof['profile']}), top 25 by cumulative time:")
        pstats.Stats(prof["profile"]).sort_stats("cumulative").print_stats(25)
    return 0 if ok_time and ok_mem else 1


if __name__ == "__main__":
    raise SystemExit(main())
