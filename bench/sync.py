"""Benchmark: CardDAV + CalDAV sync against Radicale on loopback (not a test).

bench/README.md: 5,000 contacts + 20,000 events; first sync within 2.5x the floor (one
raw sync-collection REPORT with the data, per collection, over one connection);
a no-op re-sync within 1.5x the floor's no-op REPORTs from a fresh process and 1.1x
inside the daemon, one REPORT per collection; peak RSS 150 MB (issue 17).

    .venv/bin/python bench/sync.py                 # store seeded once into bench/out/
    .venv/bin/python bench/sync.py --contacts 1000 --events 3000 --profile /tmp/first.prof
    .venv/bin/python bench/sync.py --mix plain --contacts 500 --events 2000 --store /tmp/small
    .venv/bin/python bench/sync.py --csv 5000      # contacts CSVs through the files source only

`--mix realistic` (the default) seeds the mix of bench/realistic.py: time zones,
series with exceptions, attendees, escapes, folding, vCard 3.0 and 4.0 as real
clients write them (issue 17). `--mix plain` seeds the first generator below,
whose events and cards nudge's fast paths all accept: the earlier figures.
The share of objects nudge's fast paths accept is printed for both, as
generated and as Radicale serves them (Radicale rewrites every object through
vobject on upload).

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
import pstats
import random
import re
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench import radicale_files, realistic  # noqa: E402
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


def generated(
    mix: str, contacts: int, n_events: int, seed_: int
) -> tuple[str, str, list[str], list[tuple[str, str]]]:
    """(.vcf, .ics, cards, (UID, calendar object)s) of the mix: what a client would PUT one by one."""
    if mix == "plain":
        vcf, ics = cards(contacts), events(n_events, contacts)
        by_uid: dict[str, list[str]] = {}
        for block in re.findall(r"BEGIN:VEVENT\r\n.*?END:VEVENT\r\n", ics, re.DOTALL):
            uid = re.search(r"\r\nUID:([^\r]*)", block)
            by_uid.setdefault(uid.group(1) if uid else "", []).append(block)
        head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//nudge bench//EN\r\n"
        objects = [(uid, f"{head}{''.join(b)}END:VCALENDAR\r\n") for uid, b in by_uid.items()]
        return vcf, ics, [c + "END:VCARD\r\n" for c in vcf.split("END:VCARD\r\n") if c], objects
    data = realistic.generate(contacts, n_events, seed_, NOW)
    return data.vcf(), data.ics(), data.cards, [(o.uid, o.text()) for o in data.events]


def seed(store: Path, mix: str, contacts: int, n_events: int, seed_: int, by_put: bool = False) -> None:
    marker = store / "seeded.json"
    want: dict[str, Any] = {"contacts": contacts, "events": n_events}
    if mix != "plain":
        want |= {"mix": mix, "seed": seed_, "generator": realistic.VERSION}
    if marker.exists() and json.loads(marker.read_text()) == want:
        return
    import shutil

    shutil.rmtree(store, ignore_errors=True)
    vcf, ics, _, objects = generated(mix, contacts, n_events, seed_)
    srv = server(store)
    second = start_radicale(store) if mix != "plain" and by_put else None
    try:
        t = time.perf_counter()
        srv.put_bulk(USER, BOOK, vcf, "contacts")
        if mix == "plain":
            srv.put_bulk(USER, CAL, ics, "events")
            how = "one PUT each"
        else:
            srv.make_calendar(USER, CAL.strip("/").split("/")[-1])
            if second is not None:
                put_each([srv, second], CAL, objects)
                how = "one PUT for the cards, one per calendar object over two Radicale processes"
            else:
                folder = store / "collections" / "collection-root" / USER / CAL.strip("/").split("/")[-1]
                radicale_files.write_objects(folder, CAL, objects)
                how = "one PUT for the cards; the calendar objects as Radicale's PUT stores them"
        took = time.perf_counter() - t
        print(
            f"seeded {contacts} contacts + {n_events} events ({mix}, {len(vcf) / 1e6:.1f} + "
            f"{len(ics) / 1e6:.1f} MB) in {took:.1f} s ({how})"
        )
    finally:
        stop_radicale(srv)
        if second is not None:
            stop_radicale(second)
    marker.write_text(json.dumps(want))


def put_each(servers: list[Radicale], collection: str, objects: list[tuple[str, str]]) -> None:
    """One PUT per calendar object, as clients upload them, the servers (on one storage) in parallel.

    Radicale rewrites every object through vobject before it takes its storage lock, and
    vobject rebuilds each VTIMEZONE from its rules: 0.04-0.08 s for an IANA zone from
    1970, 0.2-0.4 s for an Outlook zone from 1601. One bulk PUT of 20,000 such events
    would outlast any sensible HTTP timeout, and one process uses one core.
    """
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import quote

    def upload(srv: Radicale, share: list[tuple[str, str]]) -> int:
        session = requests.Session()
        session.auth = (USER, PASSWORD)
        for uid, text in share:
            url = f"{srv.url}{collection}{quote(uid, safe='')}.ics"
            r = session.put(url, data=text.encode(), headers={"Content-Type": "text/calendar; charset=utf-8"})
            if r.status_code >= 300:
                raise SystemExit(f"PUT {uid}: HTTP {r.status_code} {r.text[:300]}\n{text[:2000]}")
        return len(share)

    with ThreadPoolExecutor(len(servers)) as pool:
        shares = [objects[k :: len(servers)] for k in range(len(servers))]
        done = sum(pool.map(upload, servers, shares))
    if done != len(objects):
        raise SystemExit(f"uploaded {done} of {len(objects)} calendar objects")


def sync_report(
    session: requests.Session, url: str, token: str | None, data: str | None, keep: list[bytes] | None = None
) -> tuple[str, int]:
    tok = f"<d:sync-token>{token}</d:sync-token>" if token else "<d:sync-token/>"
    prop = f"<d:getetag/><{data}/>" if data else "<d:getetag/>"
    body = (
        f'<?xml version="1.0"?><d:sync-collection {NS}>{tok}<d:sync-level>1</d:sync-level>'
        f"<d:prop>{prop}</d:prop></d:sync-collection>"
    )
    r = session.request("REPORT", url, data=body, headers={"Depth": "0", "Content-Type": "application/xml"})
    if r.status_code != 207:
        raise SystemExit(f"REPORT {url}: HTTP {r.status_code} {r.text[:300]}")
    if keep is not None:
        keep.append(r.content)
    new = re.search(rb"<sync-token>([^<]+)</sync-token>", r.content)
    return (new.group(1).decode() if new else ""), len(r.content)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far (Radicale's own work, whoever waits on it)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def floor(srv: Radicale, served: list[bytes]) -> dict[str, float]:
    """One raw sync-collection REPORT with the data per collection, then the no-op REPORTs with its tokens.

    `served` receives the two answers of the measured REPORTs (address book, calendar).
    """
    s = requests.Session()
    s.auth = (USER, PASSWORD)
    colls = ((srv.url + BOOK, "card:address-data"), (srv.url + CAL, "cal:calendar-data"))
    for url, data in colls:  # warm: Radicale parses and caches every item once
        sync_report(s, url, None, data)
    t, cpu = time.perf_counter(), cpu_seconds(srv.proc.pid)
    tokens, size = [], 0
    for url, data in colls:
        token, n = sync_report(s, url, None, data, served)
        tokens.append(token)
        size += n
    full, full_cpu = time.perf_counter() - t, cpu_seconds(srv.proc.pid) - cpu
    t = time.perf_counter()
    for (url, data), token in zip(colls, tokens, strict=True):
        sync_report(s, url, token, data)
    noop = time.perf_counter() - t
    return {"floor_full_s": full, "floor_noop_s": noop, "floor_bytes": size, "floor_server_cpu_s": full_cpu}


def fast_paths() -> tuple[Any, Any, Any]:
    """nudge's parse entry point and its two fast paths."""
    from nudge.parse import parse_object
    from nudge.parse.fast import fast_card, fast_event

    return parse_object, fast_event, fast_card


def served_objects(answers: list[bytes]) -> tuple[list[str], list[str]]:
    """(cards, calendar objects) out of the floor's two multistatus answers."""
    found: dict[str, list[str]] = {"address-data": [], "calendar-data": []}
    for body in answers:
        for element in ElementTree.fromstring(body).iter():
            name = element.tag.rpartition("}")[2]
            if name in found and element.text:
                found[name].append(element.text)  # as nudge's DAV client reads it
    return found["address-data"], found["calendar-data"]


def acceptance(cards_: list[str], objects: list[str], library: bool = True) -> dict[str, Any]:
    """How many objects nudge's fast paths take and, with `library`, how many the library path refuses."""
    from zoneinfo import ZoneInfo

    parse_object, fast_event, fast_card = fast_paths()
    tz = ZoneInfo("Europe/Berlin")
    start, end = NOW - timedelta(days=730), NOW + timedelta(days=14)
    out: dict[str, Any] = {}
    for kind, texts, fmt in (("cards", cards_, "vcard"), ("events", objects, "ical")):
        fast = refused = 0
        took = {"fast": 0.0, "library": 0.0}
        for text in texts:
            t = time.perf_counter()
            quick = fast_card(text) if fmt == "vcard" else fast_event(text, tz, start, end)
            if quick is not None:
                fast += 1
                took["fast"] += time.perf_counter() - t
                continue
            if not library:
                continue
            try:
                parse_object(fmt, text, tz, start, end)
            except Exception:  # nudge skips and counts it; here it is only counted
                refused += 1
            took["library"] += time.perf_counter() - t
        out[kind] = {"n": len(texts), "fast": fast, "refused": refused if library else None}
        out[kind] |= {f"{k}_s": v for k, v in took.items()}
    return out


def print_acceptance(label: str, result: dict[str, Any]) -> None:
    parts = []
    for kind in ("events", "cards"):
        r = result[kind]
        slow = r["n"] - r["fast"]
        per_fast = r["fast_s"] / r["fast"] * 1e6 if r["fast"] else 0
        per_slow = r["library_s"] / slow * 1e6 if slow else 0
        text = f"{kind} {r['fast']}/{r['n']} = {r['fast'] / max(r['n'], 1):.1%} (fast path {per_fast:.0f} µs"
        if r["refused"] is not None:
            text += f", library path {per_slow:.0f} µs each; {r['refused']} refused"
        parts.append(text + ")")
    print(f"fast-path acceptance, {label}: " + "; ".join(parts))


def run_child(url: str, db: Path, phase: str, profile: Path | None = None) -> dict[str, Any]:
    """`phase` in a fresh process; under cProfile (imports included) when `profile` is given."""
    wrap = ["-m", "cProfile", "-o", str(profile)] if profile else []
    out = subprocess.run(
        [sys.executable, *wrap, str(HERE / "sync_child.py"), url, str(db), phase, USER, PASSWORD],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


LINKEDIN_PREAMBLE = (
    'Notes:\n"When exporting your connection data, you may notice that some of the email addresses are '
    'missing."\n\n'
)
GOOGLE_HEADER = (
    "First Name,Middle Name,Last Name,Organization Name,Organization Title,Birthday,Notes,Labels,"
    "E-mail 1 - Label,E-mail 1 - Value,Phone 1 - Label,Phone 1 - Value,Website 1 - Label,Website 1 - Value"
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def linkedin_csv(n: int, moved: int = 0) -> str:
    """A LinkedIn-shaped Connections.csv of `n` rows (a fifth with e-mail); the first `moved` changed jobs."""
    rows = [LINKEDIN_PREAMBLE + "First Name,Last Name,URL,Email Address,Company,Position,Connected On"]
    for i in range(n):
        first, last = FIRST[i % len(FIRST)], f"{LAST[(i // len(FIRST)) % len(LAST)]} {i}"
        email = f"p{i}@example.com" if i % 5 == 0 else ""
        company = f"Company {i % 300}" if i >= moved else f"New Company {i % 40}"
        connected = f"{1 + i % 28:02d} {MONTHS[i % 12]} {2010 + i % 16}"
        rows.append(
            f"{first},{last},https://www.linkedin.com/in/{first.lower()}-{i:08x},{email},{company},"
            f'"Title {i % 17}, EMEA",{connected}'
        )
    return "\n".join(rows) + "\n"


def google_csv(n: int) -> str:
    """A Google-shaped contacts.csv of `n` rows: the first half the LinkedIn people (by e-mail or name)."""
    rows = ["\ufeff" + GOOGLE_HEADER]
    for i in range(n):
        j = i if i < n // 2 else n + i
        first, last = FIRST[j % len(FIRST)], f"{LAST[(j // len(FIRST)) % len(LAST)]} {j}"
        labels = "Top 100 ::: * myContacts" if i % 50 == 0 else "* myContacts"
        note = '"Met at a conference.\nCall after 4pm."' if i % 10 == 0 else ""
        born = f"19{60 + j % 40}-{1 + j % 12:02d}-{1 + j % 28:02d}"
        rows.append(
            f"{first},,{last},Company {j % 300},Title {j % 17},{born},"
            f"{note},{labels},* Work,p{j}@example.com,Mobile,+49 30 {1000000 + j},,"
        )
    return "\n".join(rows) + "\n"


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def csv_child(folder: Path, db: Path) -> dict[str, Any]:
    """One files-source sync of `folder` in this process: figures as JSON."""
    from nudge import config, service
    from nudge.sources import load_source
    from nudge.store.models import Moment

    settings = config.validate(
        {
            "timezone": "Europe/Berlin",
            "database_url": f"sqlite:///{db}",
            "maildir": str(db.parent / "Maildir"),
            "me": {"emails": ["me@example.org"], "region": "DE"},
            "sources": [{"type": "files", "name": "exports", "paths": [str(folder)]}],
        }
    )
    engine = service.open_store(settings)
    sources = [load_source(cfg) for cfg in settings.sources]
    t, cpu = time.perf_counter(), own_cpu()
    reports = service.sync_all(engine, settings, NOW, sources=sources)
    took, cpu = time.perf_counter() - t, own_cpu() - cpu
    from sqlmodel import Session, func, select

    with Session(engine) as s:
        jobs = s.exec(select(func.count()).select_from(Moment).where(Moment.kind == "job_change")).one()
    return {
        "sync_s": took,
        "cpu_s": cpu,
        "lines": [r.line() for r in reports],
        "job_changes": jobs,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def csv_case(rows: int, out: Path) -> None:
    """A files-source sync of a LinkedIn-shaped and a Google-shaped CSV: first, no-op, a re-export."""
    folder = out / f"csv-{rows}"
    linkedin = folder / "Basic_LinkedInDataExport_01-12-2026"
    linkedin.mkdir(parents=True, exist_ok=True)
    (linkedin / "Connections.csv").write_text(linkedin_csv(rows), encoding="utf-8")
    (folder / "contacts.csv").write_text(google_csv(rows), encoding="utf-8")
    db = out / f"nudge-csv-{rows}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)

    def run() -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, __file__, "--csv-child", str(folder), str(db)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    first = run()
    noops = sorted((run() for _ in range(3)), key=lambda r: r["sync_s"])
    moved = rows // 100
    again = folder / "Basic_LinkedInDataExport_06-14-2026"
    again.mkdir(exist_ok=True)
    (again / "Connections.csv").write_text(linkedin_csv(rows, moved), encoding="utf-8")
    reexport = run()
    size = sum(f.stat().st_size for f in folder.rglob("*.csv")) / 1e6
    for label, r in (("first sync", first), ("no-op (median of 3)", noops[1]), ("re-export", reexport)):
        print(f"csv {label}: {r['sync_s']:.2f} s (CPU {r['cpu_s']:.2f} s), peak RSS {r['rss_mb']:.0f} MB")
        for line in r["lines"]:
            print("   ", line)
    print(
        f"csv: {rows:,} LinkedIn + {rows:,} Google rows ({size:.1f} MB); the re-export beside the first "
        f"moved {moved} people: {reexport['job_changes']} job-change moments"
    )


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--csv-child":
        print(json.dumps(csv_child(Path(sys.argv[2]), Path(sys.argv[3]))))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--contacts", type=int, default=5000)
    p.add_argument("--events", type=int, default=20000)
    p.add_argument("--mix", choices=("realistic", "plain"), default="realistic", help="what to seed")
    p.add_argument("--seed", type=int, default=17, help="of the realistic mix")
    p.add_argument("--store", type=Path, default=None, help="Radicale storage (reused when seeded)")
    p.add_argument(
        "--profile", type=Path, help="also cProfile one more first sync into this file; top 25 printed"
    )
    p.add_argument(
        "--csv",
        type=int,
        metavar="ROWS",
        help="only the contacts CSV case: files-source syncs of ROWS rows each",
    )
    p.add_argument(
        "--seed-by-put",
        action="store_true",
        help="seed the realistic calendar by one PUT per object (hours at 20,000), not radicale_files.py",
    )
    p.add_argument("--seed-only", action="store_true", help="seed the store and stop")
    args = p.parse_args()
    if args.csv:
        csv_case(args.csv, args.store or HERE / "out")
        return
    name = (
        f"{args.contacts}-{args.events}"
        if args.mix == "plain"
        else f"realistic-{args.seed}-{args.contacts}-{args.events}"
    )
    store = args.store or HERE / "out" / f"radicale-{name}"
    seed(store, args.mix, args.contacts, args.events, args.seed, args.seed_by_put)
    if args.seed_only:
        return

    srv = server(store, "--reporting-max-expand-occurrence", "10000000")
    served: list[bytes] = []
    try:
        fl = floor(srv, served)
    finally:
        stop_radicale(srv)
    print(
        f"floor: full {fl['floor_full_s']:.2f} s ({fl['floor_bytes'] / 1e6:.1f} MB), "
        f"no-op {fl['floor_noop_s']:.2f} s  [raised max_expand_occurrence]"
    )
    served_cards, served_events = served_objects(served)
    del served
    _, _, made_cards, made_events = generated(args.mix, args.contacts, args.events, args.seed)
    if (len(served_cards), len(served_events)) != (len(made_cards), len(made_events)):
        raise SystemExit(
            f"Radicale holds {len(served_cards)} cards and {len(served_events)} events, "
            f"not the {len(made_cards)} and {len(made_events)} generated"
        )
    accepted = {
        "generated": acceptance(made_cards, [text for _, text in made_events], library=False),
        "served": acceptance(served_cards, served_events),
    }
    del made_cards, made_events, served_cards, served_events

    srv = server(store)  # stock settings
    try:
        s = requests.Session()
        s.auth = (USER, PASSWORD)
        for path in (BOOK, CAL):  # warm the stock server too (etags only: its limit allows that)
            sync_report(s, srv.url + path, None, None)
        db = store.parent / f"nudge-{store.name}.db"
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
        if args.profile:
            profiled = store.parent / f"nudge-{store.name}-profiled.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{profiled}{suffix}").unlink(missing_ok=True)
            slow = run_child(srv.url, profiled, "first", args.profile)
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
    print(f"first sync / floor = {first['sync_s'] / fl['floor_full_s']:.2f} (target <= 2.5)")
    print(
        f"no-op sync, fresh process (median of 3) / floor no-op = {noop['sync_s'] / floor_noop:.2f}"
        " (target <= 1.5)"
    )
    print(f"no-op sync, daemon / floor no-op = {noop['again_s'] / floor_noop:.2f} (target <= 1.1)")
    print(f"no-op REPORTs: {noop['reports_sync']} (target: one per collection, 2)")
    print(f"peak RSS (first sync process, VmHWM): {first['rss_mb']:.0f} MB (target <= 150)")
    print_acceptance("as generated", accepted["generated"])
    print_acceptance("as Radicale serves them (what nudge parses)", accepted["served"])
    print(
        f"CPU of the first sync: Radicale {first['server_cpu_s']:.1f} s (the floor's REPORTs: "
        f"{fl['floor_server_cpu_s']:.1f} s), nudge {first['cpu_s']:.1f} s (all its threads); "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )

    if args.profile:
        print(
            f"\nprofiled first sync (fresh process, imports included): {slow['sync_s']:.2f} s; {args.profile}"
        )
        pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
