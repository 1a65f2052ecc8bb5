"""Benchmark: a team's morning on one PostgreSQL (not a test): every rep's digest, two daemons.

Issue 18's size: 500 users, each with 500 contacts and 20,000 touches (10 M touches), in one
PostgreSQL started for the run like the tests start theirs (tests/servers/postgres.py: initdb +
pg_ctl into a temp dir, loopback; Debian's `postgresql` binaries and the `[postgres]` extra
needed). The store is made by nudge's migrations, then filled with COPY (psycopg), each
contact's denormalised last touch and warmth computed with nudge's own `core.warmth` as the
rows are written; each user is a users.d/repN.toml beside a main config naming the team
folder. Then two daemon processes share the morning as two `nudge run --team` do: each is a
`team_daemon.TeamDaemon` making its digest passes (`digest_of` every user, from its own
starting point; the day's claim, a lease on the user's DigestRun row, lets exactly one send
each, the other moves on and looks again later), with the clock set to the seeded Monday's
07:30. Every digest goes to a local aiosmtpd sink.

Printed: seeding time, the database's size (`pg_database_size`), the morning's wall time
(from the start to the last digest received), digests per second, CPU seconds per digest
(each daemon's own rusage over the morning, and the PostgreSQL server's, over the digests
sent), p50/p95 per digest, whether every user got exactly one, and the time of `nudge team
stats`' read model over every user.

    .venv/bin/python bench/team.py                 # 500 users x 500 contacts x 20,000 touches
    .venv/bin/python bench/team.py --users 50      # a quick run

The server runs with durability off (fsync, synchronous_commit) and 32 MB of shared buffers,
as the tests' server does; a production server's commits cost more (see bench/README.md).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 11, 23, 6, 30, tzinfo=UTC)  # a Monday, 07:30 in Berlin: the digest's time
TZ = "Europe/Berlin"
TOP100, PARTNERS = 100, 20
HISTORY_WORKDAYS = 20  # past digests per user: suggestions, prompts, acted on or not
KINDS = (("meeting", 0.35, 1.0), ("call", 0.25, 0.8), ("message", 0.20, 0.4), ("email", 0.20, 0.3))
FIRST = ("Ada", "Grace", "Alan", "Kathy", "Linus", "Barbara", "Edsger", "Radia", "Ken", "Frances")
LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Liskov", "Dijkstra", "Perlman", "Allen")


def ts(value: datetime) -> str:
    """Naive UTC, as nudge stores times on PostgreSQL."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def copy_rows(cur: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """COPY rows in text format (None is \\N; the generator writes no tab, newline or backslash)."""
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join("\\N" if v is None else str(v) for v in row))
        buf.write("\n")
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write(buf.getvalue())


# --- seeding ------------------------------------------------------------------------------


@dataclass
class Seeded:
    users: int
    contacts: int
    touches: int
    history: bool
    seconds: float
    counts: dict[str, int] = field(default_factory=dict)


def seed(conninfo: dict[str, Any], users: int, contacts: int, touches: int, history: bool) -> Seeded:
    """Fill a migrated store: per user their contacts, identities, touches, digests and referrals."""
    import psycopg

    from nudge.core.warmth import touch_sum

    half_life = 90.0  # the config's default touches.half_life_days
    rng = random.Random(18)
    began = time.perf_counter()
    counts: Counter[str] = Counter()
    kinds = [k for k, _, _ in KINDS]
    kind_w = [w for _, w, _ in KINDS]
    weight_of = {k: w for k, _, w in KINDS}
    past_days: list[date] = []
    back = NOW.date()
    while len(past_days) < HISTORY_WORKDAYS:
        back -= timedelta(days=1)
        if back.weekday() < 5:
            past_days.append(back)
    with psycopg.connect(**conninfo) as con, con.cursor() as cur:
        cur.execute("UPDATE nudge_user SET name = 'rep1' WHERE id = 1")
        copy_rows(
            cur,
            "nudge_user",
            ("id", "name", "created_at", "stats_opt_in"),
            [(u, f"rep{u}", ts(NOW - timedelta(days=400)), "t") for u in range(2, users + 1)],
        )
        touch_id = 0
        for u in range(1, users + 1):
            base = (u - 1) * contacts
            ids = list(range(base + 1, base + contacts + 1))
            tier_of: dict[int, str] = {}
            for cid in rng.sample(ids, min(TOP100 + PARTNERS, contacts)):
                tier_of[cid] = "top100" if len(tier_of) < TOP100 else "partner"
            per: Counter[int] = Counter()
            tiered = list(tier_of)
            share = min(touches // 2, 60 * len(tiered))
            per.update(rng.choices(tiered, k=share) if tiered else [])
            others = [c for c in ids if c not in tier_of]
            zipf = [1.0 / (rank + 1) ** 0.8 for rank in range(len(others))]
            per.update(rng.choices(others, weights=zipf, k=touches - share) if others else [])
            touch_rows: list[tuple[Any, ...]] = []
            derived: dict[int, tuple[datetime | None, float]] = {}
            for cid in ids:
                newest = (rng.uniform(0, 90) if cid in tier_of else rng.uniform(0, 700)) + 0.1
                mine: list[tuple[datetime, float]] = []
                for _ in range(per[cid]):
                    at = NOW - timedelta(days=rng.uniform(newest, 730))
                    kind = rng.choices(kinds, kind_w)[0]
                    touch_id += 1
                    note = f"asked about plan {rng.randint(1, 999)}" if rng.random() < 0.05 else None
                    ext = f"evt-{u}-{touch_id}@bench|" if kind == "meeting" else None
                    touch_rows.append(
                        (
                            touch_id,
                            u,
                            cid,
                            ts(at),
                            kind,
                            rng.choice(("out", "in", "both")),
                            weight_of[kind],
                            "calendar" if kind == "meeting" else "cli",
                            ext,
                            note,
                            kind,
                            ts(at),
                        )
                    )
                    mine.append((at, weight_of[kind]))
                last = max((at for at, _ in mine), default=None)
                derived[cid] = (last, touch_sum(mine, NOW, half_life))
            contact_rows = [
                (
                    cid,
                    u,
                    f"{rng.choice(FIRST)} {rng.choice(LAST)} u{u}c{cid - base}",
                    tier_of.get(cid),
                    "source:book" if cid in tier_of else None,
                    ts(NOW - timedelta(days=rng.uniform(400, 1100))),
                    ts(derived[cid][0]) if derived[cid][0] else None,
                    round(derived[cid][1], 6),
                    ts(NOW),
                )
                for cid in ids
            ]
            copy_rows(
                cur,
                "contact",
                (
                    "id",
                    "owner_id",
                    "name",
                    "tier",
                    "tier_source",
                    "created_at",
                    "last_touch_at",
                    "warmth_sum",
                    "warmth_at",
                ),
                contact_rows,
            )
            copy_rows(
                cur,
                "identity",
                ("owner_id", "contact_id", "kind", "value"),
                [(u, cid, "email", f"p{cid - base}.u{u}@example.org") for cid in ids],
            )
            copy_rows(
                cur,
                "touch",
                (
                    "id",
                    "owner_id",
                    "contact_id",
                    "at",
                    "kind",
                    "direction",
                    "weight",
                    "source",
                    "external_id",
                    "note",
                    "summary",
                    "created_at",
                ),
                touch_rows,
            )
            partners = [c for c, t in tier_of.items() if t == "partner"]
            copy_rows(
                cur,
                "referral",
                ("owner_id", "contact_id", "direction", "at", "note", "counterpart"),
                [
                    (
                        u,
                        cid,
                        rng.choice(("given", "received")),
                        ts(NOW - timedelta(days=rng.uniform(1, 700))),
                        "",
                        "",
                    )
                    for cid in partners
                    for _ in range(rng.randint(1, 6))
                ],
            )
            if history:
                top = [c for c, t in tier_of.items() if t == "top100"]
                suggestion_rows, run_rows = [], []
                for d in past_days:
                    picks = [(c, "call") for c in rng.sample(top, min(5, len(top)))]
                    picks += [(c, "partner") for c in rng.sample(partners, min(1, len(partners)))]
                    for n, (cid, slot) in enumerate(picks, 1):
                        acted = ts(datetime.combine(d, datetime.min.time(), UTC) + timedelta(days=1))
                        suggestion_rows.append(
                            (
                                u,
                                d.isoformat(),
                                cid,
                                slot,
                                "overdue",
                                "What changed?",
                                acted if rng.random() < 0.6 else None,
                                n,
                            )
                        )
                    sent = ts(datetime.combine(d, datetime.min.time(), UTC) + timedelta(hours=6, minutes=30))
                    run_rows.append(
                        (u, d.isoformat(), "sent", f"<nudge.digest.{d}.u{u}@example.com>", 1, sent, sent)
                    )
                copy_rows(
                    cur,
                    "suggestion",
                    (
                        "owner_id",
                        "digest_date",
                        "contact_id",
                        "slot",
                        "reason",
                        "prompt",
                        "acted_at",
                        "position",
                    ),
                    suggestion_rows,
                )
                copy_rows(
                    cur,
                    "digestrun",
                    ("owner_id", "date", "state", "message_id", "attempts", "sent_at", "updated_at"),
                    run_rows,
                )
                counts["suggestion"] += len(suggestion_rows)
            counts["contact"] += len(contact_rows)
            counts["touch"] += len(touch_rows)
            if u % 25 == 0 or u == users:
                con.commit()
                rate = counts["touch"] / (time.perf_counter() - began)
                print(f"  seeded {u}/{users} users, {counts['touch']:,} touches ({rate:,.0f}/s)", flush=True)
        for table in ("nudge_user", "contact", "identity", "touch", "referral", "suggestion", "digestrun"):
            top = f"(SELECT coalesce(max(id), 1) FROM {table})"
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {top})")
        con.commit()
        con.autocommit = True
        cur.execute("VACUUM ANALYZE")  # what autovacuum does soon after a bulk load
    return Seeded(users, contacts, touches, history, time.perf_counter() - began, dict(counts))


# --- the SMTP sink --------------------------------------------------------------------------


class Sink:
    """aiosmtpd on 127.0.0.1: counts each recipient's messages."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received[rcpt.lower()] += 1
        return "250 Message accepted for delivery"


# --- the team's config and a daemon (a subprocess of its own) -------------------------------


def user_settings(u: int, url: str, smtp_port: int, root: Path) -> Any:
    """User u's settings, as their users.d file gives them (for the read model's timing)."""
    from nudge import config

    address = f"rep{u}@team.example"
    return config.validate(
        {
            "timezone": TZ,
            "database_url": url,
            "me": {"name": f"Rep {u}", "emails": [address], "region": "DE"},
            "digest": {"to": address, "sender": "nudge@team.example", "templates_dir": str(root / "none")},
            "channels": [{"type": "smtp", "host": "127.0.0.1", "port": smtp_port, "security": "none"}],
            "sources": [],
        }
    )


def write_team(root: Path, url: str, users: int, smtp_port: int) -> Path:
    """The main config and users.d/repN.toml for every user, as `nudge team add` and an admin make them."""
    folder = root / "users.d"
    folder.mkdir(parents=True)
    for u in range(1, users + 1):
        (folder / f"rep{u}.toml").write_text(
            f'[me]\nname = "Rep {u}"\nemails = ["rep{u}@team.example"]\nregion = "DE"\n'
            f'[digest]\ntime = "07:30"\nto = "rep{u}@team.example"\nsender = "nudge@team.example"\n'
            f'templates_dir = "{root / "none"}"\n'
            f'[[channels]]\ntype = "smtp"\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n'
        )
    main = root / "config.toml"
    main.write_text(f'timezone = "{TZ}"\ndatabase_url = "{url}"\nteam = "{folder}"\n')
    main.chmod(0o600)
    return main


def daemon(config_path: Path) -> None:
    """One `nudge run --team` daemon's morning: its digest passes (`TeamDaemon.digest_of` for each
    user, from its own starting point, every TICK seconds) until every user's day is done.

    The clock is set to NOW (time_machine, ticking), the Monday the store was seeded for; the
    scheduling loop, sync and replies of `run --team` are left out (the users have no sources).
    """
    import time_machine

    from nudge.team_daemon import TICK, Counts, TeamDaemon

    with time_machine.travel(NOW, tick=True):
        team = TeamDaemon(str(config_path))
        users = team.load_users()
        today = NOW.astimezone(users[0].settings.tz).date()
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        sys.stdin.readline()  # the start
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        times: list[float] = []
        counts = Counts()
        passes = 0
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            passes += 1
            for user in team.order():
                before = counts.sent
                began = time.perf_counter()
                team.digest_of(user, counts)
                if counts.sent > before:
                    times.append(time.perf_counter() - began)
            if all(team.days.get(u.name) is not None and team.days[u.name].finished == today for u in users):
                break
            time.sleep(TICK)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    states = {"sent": counts.sent, "busy": counts.busy, "failed": counts.failed, "passes": passes}
    sys.stdout.write(json.dumps({"times": times, "states": states, "cpu": cpu}) + "\n")


# --- the run -------------------------------------------------------------------------------


def server_cpu(postmaster: int) -> float:
    """CPU seconds of the PostgreSQL server so far: the postmaster, the backends it reaped
    (its children's times) and the live ones, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")

    def fields(pid: int) -> list[str]:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()

    main = fields(postmaster)
    total = sum(int(v) for v in main[11:15])  # utime stime cutime cstime
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(postmaster):
            try:
                f = fields(int(entry.name))
            except OSError:
                continue
            if f[1] == str(postmaster):
                total += int(f[11]) + int(f[12])
    return total / tick


def team_stats_time(url: str, users: int, smtp_port: int, root: Path, weeks: int) -> tuple[float, int]:
    """`nudge team stats`'s read model over every user (each as sharing), once: seconds, reps."""
    from nudge import service
    from nudge.reports import team
    from nudge.store.owner import as_owner

    engine = service.open_store(user_settings(1, url, smtp_port, root))
    members = [
        team.Member(f"rep{u}", as_owner(engine, u), user_settings(u, url, smtp_port, root), True)
        for u in range(1, users + 1)
    ]
    began = time.perf_counter()
    result = team.team(members, NOW, weeks)
    took = time.perf_counter() - began
    engine.dispose()
    return took, len(result.reps)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=500)
    ap.add_argument("--contacts", type=int, default=500, help="per user")
    ap.add_argument("--touches", type=int, default=20_000, help="per user")
    ap.add_argument("--daemons", type=int, default=2)
    ap.add_argument("--no-history", action="store_true", help="seed no past digests and suggestions")
    ap.add_argument("--daemon", metavar="CONFIG", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.daemon:
        daemon(Path(args.daemon))
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the server is stopped on the way out

    from aiosmtpd.controller import Controller

    from nudge.store.db import open_db
    from tests.servers.loopback import HOST, free_port
    from tests.servers.postgres import start_postgres, stop_postgres

    root = Path(tempfile.mkdtemp(prefix="nudge-bench-team-"))
    server = start_postgres()
    sink = Sink()
    controller = Controller(sink, hostname=HOST, port=free_port())
    controller.start()
    try:
        name = server.create_database()
        url = server.url(name)
        open_db(url).dispose()  # the schema, through nudge's migrations
        print(
            f"{args.users} users x {args.contacts} contacts x {args.touches:,} touches "
            f"({args.users * args.touches:,} touches) on PostgreSQL {server.bindir.parent.name}",
            flush=True,
        )
        conninfo = {
            "host": server.host,
            "port": server.port,
            "user": server.user,
            "password": server.password,
            "dbname": name,
        }
        seeded = seed(conninfo, args.users, args.contacts, args.touches, not args.no_history)
        with server.connect(name) as con:
            size = con.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        print(
            f"seeded in {seeded.seconds:.0f} s: {seeded.counts}; database size {size / 2**20:,.0f} MB",
            flush=True,
        )

        # The config names the database without its password: libpq reads it from PGPASSFILE.
        config_path = write_team(root, server.url(name, password=False), args.users, controller.port)
        env = {**os.environ, "PGPASSFILE": str(server.passfile), "XDG_DATA_HOME": str(root / "data")}
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, "--daemon", str(config_path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
                env=env,
            )
            for _ in range(args.daemons)
        ]
        for p in procs:
            assert p.stdout is not None
            if p.stdout.readline().strip() != "ready":
                raise SystemExit("a daemon did not start")
        postmaster = int((server.data / "postmaster.pid").read_text().splitlines()[0])
        server0 = server_cpu(postmaster)
        began = time.perf_counter()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        while sum(sink.received.values()) < args.users and all(p.poll() is None for p in procs):
            time.sleep(0.05)
        wall = time.perf_counter() - began  # until the last digest arrived (or a daemon ended early)
        results = []
        for p in procs:
            out, _ = p.communicate(timeout=3600)
            results.append(json.loads(out.strip().splitlines()[-1]))
        served = server_cpu(postmaster) - server0
        ok = report(results, wall, served, sink, args.users, size, seeded)
        stats_took, reps = team_stats_time(url, args.users, controller.port, root, 12)
        print(
            f"team stats (12 weeks) over {reps} reps: {stats_took:.1f} s "
            f"= {stats_took / max(reps, 1) * 1000:.0f} ms per rep"
        )
    finally:
        controller.stop()
        stop_postgres(server)
        shutil.rmtree(root, ignore_errors=True)
    if not ok:
        raise SystemExit(1)


def report(
    results: list[dict[str, Any]],
    wall: float,
    served: float,
    sink: Sink,
    users: int,
    size: int,
    seeded: Seeded,
) -> bool:
    """Print the morning's figures; whether every user got exactly one digest."""
    times = [t for r in results for t in r["times"]]
    sent = len(times)
    cpu = sum(r["cpu"] for r in results)
    expected = {f"rep{u}@team.example" for u in range(1, users + 1)}
    got = dict(sink.received)
    doubled = sorted(a for a, n in got.items() if n > 1)
    missing = sorted(expected - set(got))
    print(
        f"morning: {sent} digests by {len(results)} daemons in {wall:.1f} s wall "
        f"= {sent / wall:.1f} digests/s"
    )
    for i, r in enumerate(results):
        print(f"  daemon {i}: sent {len(r['times'])}, states {r['states']}, CPU {r['cpu']:.1f} s")
    print(f"CPU per digest (daemons' own rusage): {cpu / max(sent, 1) * 1000:.0f} ms")
    print(
        f"PostgreSQL server CPU over the morning: {served:.1f} s "
        f"= {served / max(sent, 1) * 1000:.0f} ms per digest"
    )
    print(
        f"per digest: p50 {pct(times, 0.5) * 1000:.0f} ms, p95 {pct(times, 0.95) * 1000:.0f} ms, "
        f"mean {statistics.fmean(times) * 1000 if times else 0:.0f} ms"
    )
    print(
        f"database size: {size / 2**20:,.0f} MB "
        f"({size / max(seeded.counts.get('touch', 1), 1):.0f} bytes per touch, everything included)"
    )
    ok = not doubled and not missing and set(got) == expected
    print(
        f"every user got exactly one digest: {'yes' if ok else 'NO'}"
        + (f" (missing {missing[:5]}, doubled {doubled[:5]})" if not ok else ""),
        flush=True,
    )
    return ok


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
