"""Benchmark: CardDAV + CalDAV sync against Radicale on loopback (not a test).

bench/README.md: 5,000 contacts + 20,000 events; first sync within 1.5x the floor (one
raw sync-collection REPORT with the data, per collection, over one connection);
a no-op re-sync within 1.2x the floor's no-op REPORTs, one REPORT per collection.

    .venv/bin/python bench/sync.py                 # store seeded once into bench/out/
    .venv/bin/python bench/sync.py --contacts 500 --events 2000 --store /tmp/small

Stock Radicale refuses (400) one REPORT carrying more than 10,000 events, so the
calendar floor is measured on a second Radicale on the same storage with
`--reporting-max-expand-occurrence 1000000`; nudge is always measured against
stock settings. Both servers are warmed first (Radicale parses each item once
and caches it on disk).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.servers.radicale import PASSWORD, Radicale, start_radicale, stop_radicale  # noqa: E402

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
USER = "bench"
BOOK, CAL = f"/{USER}/contacts/", f"/{USER}/calendar/"
FIRST = ("Ada", "Grace", "Alan", "Kathy", "Linus", "Barbara", "Edsger", "Radia", "Ken", "Frances")
LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Liskov", "Dijkstra", "Perlman", "Allen")
NS = 'xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:cal="urn:ietf:params:xml:ns:caldav"'


def cards(n: int) -> str:
    out = []
    for i in range(n):
        first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
        lines = [
            "BEGIN:VCARD",
            "VERSION:3.0",
            f"UID:c{i}",
            f"FN:{first} {last} {i}",
            f"N:{last} {i};{first};;;",
            f"EMAIL;TYPE=INTERNET:p{i}@example.com",
            f"TEL;TYPE=CELL:+49 30 {1000000 + i}",
            f"ORG:Company {i % 300}",
            f"TITLE:Title {i % 17}",
        ]
        if i % 50 == 0:
            lines.append("CATEGORIES:top100")
        if i % 3 == 0:
            lines.append(f"BDAY:19{60 + i % 40}-{1 + i % 12:02d}-{1 + i % 28:02d}")
        out.append("\r\n".join([*lines, "END:VCARD"]) + "\r\n")
    return "".join(out)


def events(n: int, contacts: int) -> str:
    """Meetings over the last year and the next month; 5% weekly series, some with an exception."""
    rng = random.Random(7)
    out = []
    for i in range(n):
        start = NOW - timedelta(days=365) + timedelta(minutes=rng.randrange(0, 395 * 24 * 60 // 30) * 30)
        who = rng.sample(range(contacts), k=rng.choice((1, 1, 1, 2, 3)))
        lines = [
            "BEGIN:VEVENT",
            f"UID:e{i}",
            "DTSTAMP:20260101T000000Z",
            f"DTSTART:{start:%Y%m%dT%H%M%SZ}",
            f"DTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}",
            f"SUMMARY:Meeting {i}",
            "ORGANIZER:mailto:me@example.com",
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:me@example.com",
            *(f"ATTENDEE;CN=P {p};PARTSTAT=ACCEPTED:mailto:p{p}@example.com" for p in who),
        ]
        recurring = i % 20 == 0
        if recurring:
            lines.append("RRULE:FREQ=WEEKLY;COUNT=20")
        out.append("\r\n".join([*lines, "END:VEVENT"]) + "\r\n")
        if recurring and i % 40 == 0:
            moved = start + timedelta(days=7)
            out.append(
                "\r\n".join(
                    [
                        "BEGIN:VEVENT",
                        f"UID:e{i}",
                        "DTSTAMP:20260101T000000Z",
                        f"RECURRENCE-ID:{moved:%Y%m%dT%H%M%SZ}",
                        f"DTSTART:{moved + timedelta(hours=2):%Y%m%dT%H%M%SZ}",
                        f"SUMMARY:Meeting {i} (moved)",
                        f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:p{who[0]}@example.com",
                        "END:VEVENT",
                    ]
                )
                + "\r\n"
            )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//nudge bench//EN\r\n" + "".join(out) + "END:VCALENDAR\r\n"
    )


def server(store: Path, *extra: str) -> Radicale:
    """Radicale on `store` (a fresh htpasswd with the bench user); `extra` are more CLI flags."""
    (store / "users").unlink(missing_ok=True)
    srv = start_radicale(store, extra=list(extra))
    srv.add_user(USER)
    return srv


def seed(store: Path, contacts: int, n_events: int) -> None:
    marker = store / "seeded.json"
    want = {"contacts": contacts, "events": n_events}
    if marker.exists() and json.loads(marker.read_text()) == want:
        return
    import shutil

    shutil.rmtree(store, ignore_errors=True)
    srv = server(store)
    try:
        t = time.perf_counter()
        srv.put_bulk(USER, BOOK, cards(contacts), "contacts")
        srv.put_bulk(USER, CAL, events(n_events, contacts), "events")
        took = time.perf_counter() - t
        print(f"seeded {contacts} contacts + {n_events} events in {took:.1f} s (one PUT each)")
    finally:
        stop_radicale(srv)
    marker.write_text(json.dumps(want))


def sync_report(session: requests.Session, url: str, token: str | None, data: str | None) -> tuple[str, int]:
    tok = f"<d:sync-token>{token}</d:sync-token>" if token else "<d:sync-token/>"
    prop = f"<d:getetag/><{data}/>" if data else "<d:getetag/>"
    body = (
        f'<?xml version="1.0"?><d:sync-collection {NS}>{tok}<d:sync-level>1</d:sync-level>'
        f"<d:prop>{prop}</d:prop></d:sync-collection>"
    )
    r = session.request("REPORT", url, data=body, headers={"Depth": "0", "Content-Type": "application/xml"})
    if r.status_code != 207:
        raise SystemExit(f"REPORT {url}: HTTP {r.status_code} {r.text[:300]}")
    import re

    new = re.search(rb"<sync-token>([^<]+)</sync-token>", r.content)
    return (new.group(1).decode() if new else ""), len(r.content)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far (Radicale's own work, whoever waits on it)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def floor(srv: Radicale) -> dict[str, float]:
    """One raw sync-collection REPORT with the data per collection, then the no-op REPORTs with its tokens."""
    s = requests.Session()
    s.auth = (USER, PASSWORD)
    colls = ((srv.url + BOOK, "card:address-data"), (srv.url + CAL, "cal:calendar-data"))
    for url, data in colls:  # warm: Radicale parses and caches every item once
        sync_report(s, url, None, data)
    t, cpu = time.perf_counter(), cpu_seconds(srv.proc.pid)
    tokens, size = [], 0
    for url, data in colls:
        token, n = sync_report(s, url, None, data)
        tokens.append(token)
        size += n
    full, full_cpu = time.perf_counter() - t, cpu_seconds(srv.proc.pid) - cpu
    t = time.perf_counter()
    for (url, data), token in zip(colls, tokens, strict=True):
        sync_report(s, url, token, data)
    noop = time.perf_counter() - t
    return {"floor_full_s": full, "floor_noop_s": noop, "floor_bytes": size, "floor_server_cpu_s": full_cpu}


def child(url: str, db: Path, phase: str) -> dict[str, Any]:
    """One nudge sync in this process, as `nudge sync` runs it: figures as JSON."""
    t0 = time.perf_counter()
    from nudge import config, service
    from nudge.sources import load_source

    settings = config.validate(
        {
            "timezone": "Europe/Berlin",
            "database_url": f"sqlite:///{db}",
            "maildir": str(db.parent / "Maildir"),
            "me": {"name": "Bench", "emails": ["me@example.com"], "region": "DE"},
            "sources": [
                {
                    "type": t,
                    "name": t,
                    "url": url + "/",
                    "username": USER,
                    "password": PASSWORD,
                    "timeout": 600,
                }
                for t in ("carddav", "caldav")
            ],
        }
    )
    engine = service.open_store(settings)
    sources = [load_source(cfg) for cfg in settings.sources]
    imported = time.perf_counter() - t0
    t, cpu = time.perf_counter(), own_cpu()
    reports = service.sync_all(engine, settings, NOW, sources=sources)
    took, cpu = time.perf_counter() - t, own_cpu() - cpu
    again = []  # the daemon's case: same process, discovery remembered
    for _ in range(3 if phase == "noop" else 0):
        t = time.perf_counter()
        service.sync_all(engine, settings, NOW)
        again.append(time.perf_counter() - t)
    methods: dict[str, int] = {}
    for src in sources:
        for method, _ in getattr(src, "requests", []):
            methods[method] = methods.get(method, 0) + 1
    return {
        "phase": phase,
        "sync_s": took,
        "again_s": sorted(again)[len(again) // 2] if again else None,
        "import_s": imported,
        "lines": [r.line() for r in reports],
        "ok": all(r.ok for r in reports),
        "requests": methods,
        "reports_sync": sum(1 for s in sources for m, _ in getattr(s, "requests", []) if m == "REPORT"),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpu_s": cpu,
    }


def run_child(url: str, db: Path, phase: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", url, str(db), phase],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--contacts", type=int, default=5000)
    p.add_argument("--events", type=int, default=20000)
    p.add_argument("--store", type=Path, default=None, help="Radicale storage (reused when seeded)")
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]), args.child[2])))
        return
    store = args.store or HERE / "out" / f"radicale-{args.contacts}-{args.events}"
    seed(store, args.contacts, args.events)

    srv = server(store, "--reporting-max-expand-occurrence", "10000000")
    try:
        fl = floor(srv)
    finally:
        stop_radicale(srv)
    print(
        f"floor: full {fl['floor_full_s']:.2f} s ({fl['floor_bytes'] / 1e6:.1f} MB), "
        f"no-op {fl['floor_noop_s']:.2f} s  [raised max_expand_occurrence]"
    )

    srv = server(store)  # stock settings
    try:
        s = requests.Session()
        s.auth = (USER, PASSWORD)
        for path in (BOOK, CAL):  # warm the stock server too (etags only: its limit allows that)
            sync_report(s, srv.url + path, None, None)
        db = store.parent / f"nudge-{args.contacts}-{args.events}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        cpu = cpu_seconds(srv.proc.pid)
        first = run_child(srv.url, db, "first")
        first["server_cpu_s"] = cpu_seconds(srv.proc.pid) - cpu
        tokens = [sync_report(s, srv.url + path, None, None)[0] for path in (BOOK, CAL)]
        runs = []
        for _ in range(3):  # the floor's no-op REPORTs on this (stock) server: nothing comes back
            t = time.perf_counter()
            for path, token, data in zip(
                (BOOK, CAL), tokens, ("card:address-data", "cal:calendar-data"), strict=True
            ):
                sync_report(s, srv.url + path, token, data)
            runs.append(time.perf_counter() - t)
        fl["floor_noop_stock_s"] = sorted(runs)[1]
        noops = sorted((run_child(srv.url, db, "noop") for _ in range(3)), key=lambda r: r["sync_s"])
        noop = noops[1]  # the median of three fresh processes, like the floor's no-op
    finally:
        stop_radicale(srv)
    for r in (first, noop):
        print(f"{r['phase']}: {r['sync_s']:.2f} s, requests {r['requests']}, peak RSS {r['rss_mb']:.0f} MB")
        if r is noop:
            times = ", ".join(f"{n['sync_s']:.2f}" for n in noops)
            print(f"    (three fresh processes: {times} s)")
        for line in r["lines"]:
            print("   ", line)
    floor_noop = fl["floor_noop_stock_s"]
    print(f"floor no-op REPORTs on the stock server: {floor_noop:.2f} s (median of 3)")
    print(f"no-op again in the same process (daemon), median of 3: {noop['again_s']:.2f} s")
    print(f"first sync / floor = {first['sync_s'] / fl['floor_full_s']:.2f} (target <= 1.5)")
    print(
        f"no-op sync, fresh process (median of 3) / floor no-op = {noop['sync_s'] / floor_noop:.2f}"
        " (target <= 1.2)"
    )
    print(f"no-op sync, daemon / floor no-op = {noop['again_s'] / floor_noop:.2f} (target <= 1.2)")
    print(f"no-op REPORTs: {noop['reports_sync']} (target: one per collection, 2)")
    print(f"peak RSS (first sync process): {first['rss_mb']:.0f} MB")
    print(
        f"CPU of the first sync: Radicale {first['server_cpu_s']:.1f} s (the floor's REPORTs: "
        f"{fl['floor_server_cpu_s']:.1f} s), nudge {first['cpu_s']:.1f} s (all its threads); "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
