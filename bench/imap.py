"""Benchmark: the IMAP source against Dovecot on loopback (not a test).

Issue 7: 20,000 messages in Sent and the Inbox; time the first scan, and check that a
no-op increment is one EXAMINE + one UID SEARCH per folder in < 0.5 s.

    .venv/bin/python bench/imap.py                     # 20,000 messages, 2,000 contacts
    .venv/bin/python bench/imap.py --messages 2000 --no-sync

Dovecot is started by the test harness (tests/servers/dovecot.py) in a temp dir
and stopped at the end. Seeding writes maildir files straight into the user's Sent and
INBOX (mtime = internal date, spread over the last 700 days) instead of 20,000 APPENDs;
Dovecot then indexes them, which the bench does once before timing (a real server has
indexed its mail long before nudge arrives). IMAP commands are counted from Dovecot's
rawlog, i.e. as the server saw them.

Figures: (a) the first scan through the real source: collections + changes(None) + fetch
of every header block, with a cold and then a warm header cache in Dovecot, next to the
floor (one raw `UID FETCH 1:*` of the same header fields per folder over one connection);
(b) no-op increments with the tokens; (c) `service.sync_all` into SQLite, end to end.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from nudge.sources.imap import FETCH_ITEM, ImapSource, connect  # noqa: E402
from tests.servers.dovecot import Dovecot, start_dovecot, stop_dovecot  # noqa: E402

ME = "me@example.com"
FIRST = ("Ada", "Grace", "Alan", "Kathy", "Linus", "Barbara", "Edsger", "Radia", "Ken", "Frances")
LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Liskov", "Dijkstra", "Perlman", "Allen")
FILLER = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 12 + "\r\n") * 4


def person(i: int) -> tuple[str, str]:
    return f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]} {i}", f"p{i}@example.com"


def mail(i: int, rng: random.Random, contacts: int, sent: bool, at: datetime) -> bytes:
    """One message: Sent ones from me to 1-3 contacts, received ones from a contact (10% lists)."""
    who = [person(p) for p in rng.sample(range(contacts), k=rng.choice((1, 1, 1, 2, 3)))]
    if sent:
        frm = f"Bench <{ME}>"
        to, cc = f"{who[0][0]} <{who[0][1]}>", ", ".join(f"{n} <{a}>" for n, a in who[1:])
    else:
        frm, to, cc = f"{who[0][0]} <{who[0][1]}>", f"Bench <{ME}>", ""
    lines = [
        "Return-Path: <bounce@example.com>",
        "Received: from mx.example.com (mx.example.com [192.0.2.1]) by imap.example.com; "
        + format_datetime(at),
        f"From: {frm}",
        f"To: {to}",
        *([f"Cc: {cc}"] if cc else []),
        f"Subject: Message {i} about project {i % 97}",
        f"Date: {format_datetime(at)}",
        f"Message-ID: <m{i}.{'s' if sent else 'r'}@bench.example.com>",
        *([f"In-Reply-To: <m{i - 1}.r@bench.example.com>"] if i % 3 == 0 else []),
        *(["List-Id: <news.example.com>", "Precedence: list"] if not sent and i % 10 == 0 else []),
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=k1; b=" + "A" * 300,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n" + FILLER).encode()


def seed(server: Dovecot, user: str, n: int, contacts: int, now: datetime) -> float:
    """Write `n` messages into the user's maildir, half in Sent, half in INBOX; seconds taken."""
    t = time.perf_counter()
    rng = random.Random(7)
    maildir = server.root / "mail" / user / "Maildir"  # LAYOUT=fs: Sent is Maildir/Sent
    for i in range(n):
        sent = i % 2 == 0
        folder = maildir / "Sent" if sent else maildir
        at = now - timedelta(seconds=rng.randrange(0, 700 * 86400))
        name = f"{int(at.timestamp())}.M{i}P{os.getpid()}.bench:2,S"
        path = folder / "cur" / name
        path.write_bytes(mail(i, rng, contacts, sent, at))
        os.utime(path, (at.timestamp(), at.timestamp()))
        if os.geteuid() == 0:
            os.chown(path, server.mail_uid, server.mail_gid)
    return time.perf_counter() - t


def warm(server: Dovecot, user: str) -> float:
    """Let Dovecot index the new files (UIDs, internal dates), as it has long done on a real server."""
    t = time.perf_counter()
    with server.client(user) as c:
        for folder in ("INBOX", "Sent"):
            c.select_folder(folder, readonly=True)
            c.search("ALL")
    return time.perf_counter() - t


def first_scan(server: Dovecot, user: str) -> tuple[float, dict[str, str], int, int]:
    """(seconds, tokens, items, bytes of header blocks) of collections + changes(None) + fetch all."""
    t = time.perf_counter()
    src = ImapSource("mail", server.options(user, timeout=600))
    tokens, items, size = {}, 0, 0
    for coll in src.collections():
        changes = src.changes(coll, None)
        assert changes.token
        tokens[coll.id] = changes.token
        for item in src.fetch(coll, changes.changed):
            items += 1
            size += len(getattr(item, "data", ""))
    src.close()
    return time.perf_counter() - t, tokens, items, size


def floor(server: Dovecot, user: str) -> float:
    """One raw UID FETCH 1:* of the same header fields per folder, over one connection."""
    t = time.perf_counter()
    client = connect(server.options(user, timeout=600))
    for folder in ("INBOX", "Sent"):
        client.select_folder(folder, readonly=True)
        client._imap.uid("FETCH", "1:*", f"({FETCH_ITEM})")  # imaplib: no per-message parsing
    client.logout()
    return time.perf_counter() - t


def noop(
    server: Dovecot, user: str, tokens: dict[str, str], rounds: int
) -> tuple[list[float], list[list[str]]]:
    """Seconds of each no-op increment (a fresh source each time, as each sync builds one), commands."""
    times, commands = [], []
    for _ in range(rounds):
        before = server.sessions(user)
        t = time.perf_counter()
        src = ImapSource("mail", server.options(user))
        for coll in src.collections():
            changes = src.changes(coll, tokens[coll.id])
            assert not changes.changed, "the no-op increment found messages"
        src.close()
        times.append(time.perf_counter() - t)
        commands += server.commands_since(user, before)
    return times, commands


def sync_all(server: Dovecot, user: str, contacts: int, db_dir: Path) -> dict[str, Any]:
    """service.sync_all into SQLite: contacts first (memory source), then the mail, then a no-op."""
    from nudge import config, service
    from nudge.sources.memory import MemorySource
    from tests.builders import vcard

    settings = config.validate(
        {
            "timezone": "Europe/Berlin",
            "database_url": f"sqlite:///{db_dir / 'nudge.db'}",
            "maildir": str(db_dir / "Maildir"),
            "me": {"name": "Bench", "emails": [ME], "region": "DE"},
            "sources": [{"type": "memory", "name": "book"}],
        }
    )
    store = MemorySource.store("book")
    for i in range(contacts):
        name, address = person(i)
        store.put("c", "contacts", f"c{i}", vcard(f"c{i}", name, emails=(address,)))
    engine = service.open_store(settings)
    now = datetime.now(UTC)
    t = time.perf_counter()
    [book] = service.sync_all(engine, settings, now, read_replies=False)
    contacts_s = time.perf_counter() - t
    out: dict[str, Any] = {"contacts_s": contacts_s, "contacts_line": book.line()}
    for phase in ("first", "noop"):
        src = ImapSource("mail", server.options(user, timeout=600))
        t = time.perf_counter()
        [report] = service.sync_all(engine, settings, now, sources=[src])
        out[f"{phase}_s"] = time.perf_counter() - t
        out[f"{phase}_line"] = report.line()
        assert report.ok, report.errors
    from sqlmodel import Session, func, select

    from nudge.store.models import Touch

    with Session(engine) as s:
        out["touches"] = s.exec(select(func.count()).select_from(Touch)).one()
    engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=20_000, help="messages in Sent + INBOX (half each)")
    ap.add_argument("--contacts", type=int, default=2_000, help="distinct correspondents")
    ap.add_argument("--rounds", type=int, default=5, help="no-op increments to time")
    ap.add_argument("--no-sync", action="store_true", help="skip the end-to-end sync_all into SQLite")
    args = ap.parse_args()

    server = start_dovecot()
    try:
        user, _ = server.add_user()
        now = datetime.now(UTC)
        took = seed(server, user, args.messages, args.contacts, now)
        print(f"seeded {args.messages} messages ({args.contacts} contacts) as maildir files in {took:.1f} s")
        print(f"Dovecot indexed them in {warm(server, user):.1f} s (not counted below)")

        cold, tokens, items, size = first_scan(server, user)
        print(
            f"(a) first scan, cold header cache: {cold:.2f} s for {items} header blocks "
            f"({size / 1e6:.1f} MB, {items / cold:,.0f} messages/s)"
        )
        warm_s, _, _, _ = first_scan(server, user)
        print(f"    first scan, warm header cache: {warm_s:.2f} s")
        floor_s = floor(server, user)
        ratio = warm_s / floor_s
        print(f"    floor (raw UID FETCH 1:* per folder, warm): {floor_s:.2f} s -> nudge {ratio:.2f}x")

        times, commands = noop(server, user, tokens, args.rounds)
        print(
            "(b) no-op increment (connect, login, LIST, 2 folders): "
            f"median {statistics.median(times):.3f} s, "
            f"min {min(times):.3f} s over {len(times)} (target < 0.5 s)"
        )
        print(f"    commands seen by Dovecot in each: {commands[0]}")
        assert all(c == commands[0] for c in commands)

        if not args.no_sync:
            with tempfile.TemporaryDirectory(prefix="nudge-bench-imap-") as tmp:
                figures = sync_all(server, user, args.contacts, Path(tmp))
            print(
                f"(c) sync_all into SQLite: {args.contacts} contacts first in {figures['contacts_s']:.1f} s"
            )
            print(f"    first mail sync {figures['first_s']:.1f} s: {figures['first_line']}")
            print(f"    no-op mail sync {figures['noop_s']:.2f} s: {figures['noop_line']}")
            print(f"    touches stored: {figures['touches']}")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process: {rss:.0f} MB; cores: {os.cpu_count()}")
    finally:
        stop_dovecot(server)


if __name__ == "__main__":
    main()
