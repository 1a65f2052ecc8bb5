"""The first morning on the data people actually have: real-world-shaped exports, through files and Radicale.

Every folder of tests/data/exports (see its README.md) writes down one invented cast the way one
exporter does: Google Contacts and Google Calendar, Apple Contacts, Outlook's vCard 2.1 files and
.ics, a vdirsyncer mirror of a Nextcloud account, and files Windows tools and careless copying
leave behind. Whatever the dialect, the cast and its history are the same, so the right first
digest is the same, worked out here by hand from the product's rules (README, "How it decides"),
never copied from a run of nudge.

"Now" is Tuesday 16 June 2026, 07:30 in Berlin (05:30 UTC). Days since the last touch, over the
cadence (top100 30 days, partner 21):

    calls                         last touch (UTC)      days    due
    Kofi Mensah   birthday 18 Jun 2026-06-04 10:00      11.81   0.39  a moment: first
    Ana Ruiz                      2026-04-15 08:00      61.90   2.06
    Ben Okafor                    2026-04-22 10:30      54.79   1.83  (27 May: he declined)
    Chloé Martin                  2026-04-30 07:00      46.94   1.56  (8 Jun: cancelled)
    Dev Patel                     2026-05-05 14:00      41.65   1.39  (a series' moved last instance)
    -- not picked ---------------------------------------------------------------
    Eva Novák                     2026-05-11 12:00      35.73   1.19  (9 Jun: Sam declined)
    Paula Costa   (top100 too)    2026-05-21 09:00      25.85   0.86  (the partner pick)
    Hiro Tanaka                   2026-05-26 15:00      20.60   0.69  (Pacific time, with a room)
    Farid Haddad                  2026-05-28 15:00      18.60   0.62  (the series' last one is EXDATEd)
    Greta Holm                    2026-06-06 09:00       9.85   0.33  (met 10 days ago)
    Jonas Weber                   2026-04-27 08:00      49.90   1.66  meeting on 19 Jun: excluded
    Inês Duarte                   2026-06-13 17:00       2.52         touched within 7 days: excluded
    partners
    Paula Costa                   2026-05-21 09:00      25.85   1.23  the pick
    Quentin Roy                   2026-05-28 11:00      18.77   0.89
    Omar Said                     2026-06-01 14:00      14.65   0.70
    Rosa Lind                     2026-06-11 10:00       4.81         touched within 7 days: excluded

The 11 June all-hands (11 other people) is no touch for Ana, Ben, Sven or Uma. Nobody here is a
newcomer: every tier membership is as old as the address book, so nobody's history is replaced
by the newcomer ramp. The gaps (Dev 1.39 against Eva 1.19, Paula 1.23 against Quentin 0.89) are
days wide, so any reasonable reading of the rules gives these picks.

The `odd` files (with a FREQ=SECONDLY series) are synced by `nudge sync` in a subprocess with a
time limit, so a hang fails its tests instead of stopping the suite.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from nudge import config, service
from nudge.config import Settings
from nudge.digest.send import plan_json
from nudge.store.db import open_db
from nudge.store.models import Contact, Identity, SourceRecord, Touch
from tests.servers.radicale import PASSWORD, Radicale, radicale  # noqa: F401

EXPORTS = Path(__file__).resolve().parents[1] / "data" / "exports"
NOW = datetime(2026, 6, 16, 5, 30, tzinfo=UTC)  # Tuesday, 07:30 in Berlin
DAY = date(2026, 6, 16)
ME = ("sam.lindqvist@example.com", "s.lindqvist@example.org")
SYNC_SECONDS = 45  # the hostile files sync in a subprocess: a hang is a failure, not a stuck suite


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass(frozen=True)
class Person:
    emails: frozenset[str]
    phone: str | None  # E.164
    tiers: frozenset[str]
    last_touch: datetime | None


def person(emails: str, phone: str | None, tiers: str, last: datetime | None) -> Person:
    return Person(frozenset(emails.split()), phone, frozenset(tiers.split()), last)


CAST = {
    "Ana Ruiz": person("ana.ruiz@example.net ana@ruiz.example.org", "+493023125401", "top100", at(4, 15, 8)),
    "Ben Okafor": person("ben.okafor@example.com", "+442079460321", "top100", at(4, 22, 10, 30)),
    "Chloé Martin": person("chloe.martin@example.org", "+492214710123", "top100", at(4, 30, 7)),
    "Dev Patel": person("dev.patel@example.com", "+12025550143", "top100", at(5, 5, 14)),
    "Eva Novák": person("eva.novak@example.net", "+493023125405", "top100", at(5, 11, 12)),
    "Farid Haddad": person("farid.haddad@example.org", "+496990009106", "top100", at(5, 28, 15)),
    "Greta Holm": person("greta.holm@example.com", "+494066969107", "top100", at(6, 6, 9)),
    "Hiro Tanaka": person("hiro.tanaka@example.net", "+498999998108", "top100", at(5, 26, 15)),
    "Inês Duarte": person("ines.duarte@example.org", "+447700900109", "top100", at(6, 13, 17)),
    "Jonas Weber": person("jonas.weber@example.com", "+492214710110", "top100", at(4, 27, 8)),
    "Kofi Mensah": person("kofi.mensah@example.com", "+14155550111", "top100", at(6, 4, 10)),
    "Omar Said": person("omar.said@example.org", "+493023125412", "partner", at(6, 1, 14)),
    "Paula Costa": person("paula.costa@example.com", "+496990009113", "top100 partner", at(5, 21, 9)),
    "Quentin Roy": person("quentin.roy@example.net", "+442079460114", "partner", at(5, 28, 11)),
    "Rosa Lind": person("rosa.lind@example.com", "+494066969115", "partner", at(6, 11, 10)),
    "Sven Berg": person("sven.berg@example.com", "+493023125416", "", at(6, 1, 14)),
    "Tomás Silva": person("", "+498999998117", "", None),
    "Uma Rao": person("uma.rao@example.com", None, "", at(3, 3, 10)),
}
CALLS = ["Kofi Mensah", "Ana Ruiz", "Ben Okafor", "Chloé Martin", "Dev Patel"]
PARTNERS = ["Paula Costa"]
STANDUP = at(6, 15, 7, 15)  # Monday's 09:15 stand-up in the team calendar of the `odd` files


@dataclass(frozen=True)
class DataSet:
    name: str
    paths: tuple[str, ...]  # what the files source is given, relative to a copy of EXPORTS
    dav: tuple[tuple[str, str, str], ...] = ()  # (collection, path, "bulk" | "items") for Radicale
    extra_emails: frozenset[str] = frozenset()  # contacts beyond the cast, known by an address
    cast: dict[str, Person] = field(default_factory=lambda: CAST)
    skipped: frozenset[str] = frozenset()  # UIDs a sync must skip, each with a clear reason


ODD_CAST = CAST | {
    "Sven Berg": person("sven.berg@example.com", "+493023125416", "", STANDUP),
    "Uma Rao": person("uma.rao@example.com", None, "", STANDUP),
}
DATASETS = {
    "google": DataSet(
        "google",
        ("google/contacts.vcf", "google/calendar.ics", "google/booking.ics"),
        (
            ("contacts", "google/contacts.vcf", "bulk"),
            ("calendar", "google/calendar.ics", "bulk"),
            ("bookings", "google/booking.ics", "bulk"),
        ),
        extra_emails=frozenset({"lea.vogel@example.com"}),
    ),
    "apple": DataSet(  # a Mac user whose calendar is Google's
        "apple",
        ("apple/contacts.vcf", "google/calendar.ics", "google/booking.ics"),
        (
            ("contacts", "apple/contacts.vcf", "bulk"),
            ("calendar", "google/calendar.ics", "bulk"),
            ("bookings", "google/booking.ics", "bulk"),
        ),
    ),
    "outlook": DataSet(
        "outlook",
        ("outlook/contacts", "outlook/calendar.ics"),
        (("contacts", "outlook/contacts", "bulk"), ("calendar", "outlook/calendar.ics", "bulk")),
    ),
    "vdir": DataSet(
        "vdir", ("vdir",), (("contacts", "vdir/contacts", "items"), ("personal", "vdir/personal", "items"))
    ),
    "odd": DataSet(
        "odd",
        ("odd",),
        cast=ODD_CAST,
        skipped=frozenset({"uptime-probe-2020@example.org", "broken-zone-call@example.org"}),
    ),
}


def config_data(tmp: Path, sources: list[dict[str, Any]]) -> dict[str, Any]:
    """The user's config: both addresses, the tiers named as their address book names them, no region."""
    return {
        "timezone": "Europe/Berlin",
        "database_url": f"sqlite:///{tmp / 'nudge.db'}",
        "maildir": str(tmp / "Maildir"),
        "me": {"name": "Sam Lindqvist", "emails": list(ME)},
        "digest": {"time": "07:30"},
        "tiers": {
            "top100": {"cadence_days": 30, "groups": ["Top 100"]},
            "partner": {"cadence_days": 21, "groups": ["Referral Partner"], "slot": "partner"},
        },
        "sources": sources,
    }


def copy_exports(tmp: Path) -> Path:
    """A private copy of the exports, plus the `.git` folder a user keeps a vdir in (git stores none)."""
    root = tmp / "exports"
    shutil.copytree(EXPORTS, root)
    git = root / "vdir" / ".git"
    git.mkdir()
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "config").write_text("[core]\n\trepositoryformatversion = 0\n\tbare = false\n")
    (git / "description").write_text("Unnamed repository; edit this file to name the repository.\n")
    return root


# --- Radicale: the same files, uploaded as a user's client would ------------------------------


def as_text(data: bytes) -> str:
    """What a client sends a server: UTF-8, whatever the file was written in."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def content_type(path: Path) -> str:
    return "text/vcard; charset=utf-8" if path.suffix == ".vcf" else "text/calendar; charset=utf-8"


def upload(server: Radicale, user: str, root: Path, entries: tuple[tuple[str, str, str], ...]) -> None:
    """`bulk`: one PUT of the file(s) to the collection, as an import does (the server adds missing UIDs);
    `items`: one PUT per item file, as vdirsyncer does."""
    for collection, rel, mode in entries:
        path = root / rel
        files = sorted(p for p in path.iterdir() if p.suffix in (".vcf", ".ics")) if path.is_dir() else [path]
        if mode == "bulk":
            body = "".join(as_text(f.read_bytes()) for f in files)
            server.request("PUT", f"/{user}/{collection}/", user, body.encode(), content_type(files[0]))
            continue
        if files[0].suffix == ".vcf":
            server.make_addressbook(user, collection)
        else:
            server.make_calendar(user, collection)
        for f in files:
            server.request("PUT", f"/{user}/{collection}/{f.name}", user, f.read_bytes(), content_type(f))


def dav_sources(server: Radicale, user: str) -> list[dict[str, Any]]:
    common = {"url": server.url + "/", "username": user, "password": PASSWORD, "timeout": 300}
    return [{"type": "carddav", "name": "book", **common}, {"type": "caldav", "name": "cal", **common}]


# --- A synced world --------------------------------------------------------------------------


@dataclass
class World:
    name: str
    data: DataSet
    tmp: Path
    settings: Settings
    engine: Engine
    output: list[str]  # the sync's skip lines (`skipped HREF (UID ...): reason`), or the CLI's output
    ok: bool
    cli: bool = False  # synced (and planned) by `nudge` in a subprocess
    dav_user: str = ""  # the Radicale user whose collections hold the data

    def digest(self) -> dict[str, Any]:
        """`nudge digest --dry-run --json` for today."""
        if self.cli:
            done = run_cli(self.tmp, "digest", "--dry-run", "--json")
            assert done.returncode == 0, done.stderr
            return json.loads(done.stdout)  # type: ignore[no-any-return]
        return plan_json(service.render_day(self.engine, self.settings, NOW, DAY))

    def sync_again(self) -> None:
        if self.cli:
            done = run_cli(self.tmp, "sync")
            assert done.returncode == 0, done.stdout + done.stderr
        else:
            reports = service.sync_all(self.engine, self.settings, NOW)
            assert all(r.ok for r in reports), [r.line() for r in reports]


def skip_lines(reports: list[Any]) -> list[str]:
    return [f"skipped {sk.href} (UID {sk.uid or '?'}): {sk.reason}" for r in reports for sk in r.skipped]


def run_cli(tmp: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`nudge --config ... ARGS` in a fresh process whose clock reads NOW, with a time limit."""
    script = (
        "import sys, time_machine\n"
        f"time_machine.travel({NOW.isoformat()!r}, tick=True).start()\n"
        "from nudge.cli import main\n"
        "sys.argv = ['nudge', *sys.argv[1:]]\n"
        "main()\n"
    )
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp / "xdg-config"),
        "XDG_DATA_HOME": str(tmp / "xdg-data"),
        "NUDGE_CONFIG": "",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-c", script, "--config", str(tmp / "config.toml"), *args],
        capture_output=True,
        text=True,
        timeout=SYNC_SECONDS,
        env=env,
        cwd=tmp,
        check=False,
    )


def toml(data: dict[str, Any]) -> str:
    """Just enough TOML for `config_data` (JSON strings are TOML basic strings)."""
    out: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif not isinstance(value, list) or not value or not isinstance(value[0], dict):
            out.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    for key, value in tables:
        nested = {k: v for k, v in value.items() if isinstance(v, dict)}
        flat = {k: v for k, v in value.items() if not isinstance(v, dict)}
        if flat:
            out.append(f"[{key}]")
            out += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in flat.items()]
        for sub, table in nested.items():
            out.append(f"[{key}.{sub}]")
            out += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in table.items()]
    for source in data.get("sources", []):
        out.append("[[sources]]")
        out += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in source.items()]
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class CliSync:
    tmp: Path
    raw: dict[str, Any]
    seconds: float
    done: subprocess.CompletedProcess[str] | None  # None: it did not finish in time


@pytest.fixture(scope="module")
def odd_sync(tmp_path_factory: pytest.TempPathFactory) -> CliSync:
    """`nudge sync` of the `odd` files (the hostile calendars among them), once per module."""
    tmp = tmp_path_factory.mktemp("odd-cli")
    root = copy_exports(tmp)
    raw = config_data(
        tmp, [{"type": "files", "name": "files", "paths": [str(root / p) for p in DATASETS["odd"].paths]}]
    )
    (tmp / "config.toml").write_text(toml(raw), encoding="utf-8")
    started = time.monotonic()
    try:
        done: subprocess.CompletedProcess[str] | None = run_cli(tmp, "sync")
    except subprocess.TimeoutExpired:
        done = None
    return CliSync(tmp, raw, time.monotonic() - started, done)


def make_world(name: str, backend: str, tmp: Path, request: pytest.FixtureRequest) -> World:
    data = DATASETS[name]
    if backend == "cli":
        synced: CliSync = request.getfixturevalue("odd_sync")
        if synced.done is None:
            pytest.fail(f"`nudge sync` of {name} did not finish within {SYNC_SECONDS} s")
        settings = config.validate(synced.raw)
        output = (synced.done.stdout + synced.done.stderr).splitlines()
        engine = open_db(settings.database)
        return World(name, data, synced.tmp, settings, engine, output, synced.done.returncode == 0, cli=True)
    root = copy_exports(tmp)
    user = ""
    if backend == "radicale":
        server: Radicale = request.getfixturevalue("radicale")
        user = server.add_user()
        upload(server, user, root, data.dav)
        sources = dav_sources(server, user)
    else:
        sources = [{"type": "files", "name": "files", "paths": [str(root / p) for p in data.paths]}]
    settings = config.validate(config_data(tmp, sources))
    engine = open_db(settings.database)
    reports = service.sync_all(engine, settings, NOW)
    return World(
        name, data, tmp, settings, engine, skip_lines(reports), all(r.ok for r in reports), dav_user=user
    )


WORLDS = [
    ("google", "files"),
    ("google", "radicale"),
    ("apple", "files"),
    ("apple", "radicale"),
    ("outlook", "files"),
    ("outlook", "radicale"),
    ("vdir", "files"),
    ("vdir", "radicale"),
    ("odd", "cli"),
]


@pytest.fixture(scope="module", params=WORLDS, ids=[f"{n}-{b}" for n, b in WORLDS])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    name, backend = request.param
    tmp = tmp_path_factory.mktemp(f"{name}-{backend}")
    with pytest.MonkeyPatch.context() as mp:  # the autouse isolation is per test; this is per module
        mp.setenv("XDG_CONFIG_HOME", str(tmp / "xdg-config"))
        mp.setenv("XDG_DATA_HOME", str(tmp / "xdg-data"))
        yield make_world(name, backend, tmp, request)


# --- What the store holds ----------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    id: int
    name: str
    emails: frozenset[str]
    phones: frozenset[str]
    last_touch: datetime | None
    archived: bool
    tier: str | None


def stored(engine: Engine) -> list[Stored]:
    with Session(engine) as s:
        idents: dict[int, list[tuple[str, str]]] = {}
        for cid, kind, value in s.exec(select(Identity.contact_id, Identity.kind, Identity.value)):
            idents.setdefault(cid, []).append((kind, value))
        out = []
        for c in s.exec(select(Contact).order_by(col(Contact.id))):
            assert c.id is not None
            mine = idents.get(c.id, [])
            out.append(
                Stored(
                    c.id,
                    c.name,
                    frozenset(v for k, v in mine if k == "email"),
                    frozenset(v for k, v in mine if k == "phone"),
                    c.last_touch_at,
                    c.archived_at is not None,
                    c.tier,
                )
            )
        return out


def by_name(engine: Engine) -> dict[str, list[Stored]]:
    found: dict[str, list[Stored]] = {}
    for c in stored(engine):
        if not c.archived:
            found.setdefault(c.name, []).append(c)
    return found


def tiers_planned(w: World) -> dict[str, set[tuple[str, str]]]:
    """(tier, slot) of each person the planner follows today."""
    with Session(w.engine) as s:
        people = service.load_people(s, w.settings, NOW, DAY)
    out: dict[str, set[tuple[str, str]]] = {}
    for p in people:
        out.setdefault(p.name, set()).add((p.tier, p.slot))
    return out


# --- The tests ---------------------------------------------------------------------------------


def test_every_card_is_one_contact_with_its_addresses_and_e164_phones(world: World) -> None:
    live = by_name(world.engine)
    assert world.ok, world.output
    for name, want in world.data.cast.items():
        found = live.get(name, [])
        assert len(found) == 1, f"{name}: {len(found)} contacts; all: {sorted(live)}"
        assert (found[0].emails, found[0].phones) == (want.emails, {want.phone} - {None}), name
    extras = [c for c in stored(world.engine) if not c.archived and c.name not in world.data.cast]
    assert {e for c in extras for e in c.emails} == world.data.extra_emails
    assert len(extras) == len(world.data.extra_emails), extras
    assert not any(c.emails & set(ME) for c in stored(world.engine)), "the user's own card is no contact"


def test_tiers_come_from_labels_groups_and_categories_however_spelt(world: World) -> None:
    planned = tiers_planned(world)
    for name, want in world.data.cast.items():
        got = planned.get(name, set())
        if want.tiers == {"top100", "partner"}:  # in two tiers: followed as a partner (issue 11.4)
            assert ("partner", "partner") in got, f"{name}: {got}"
        else:
            assert got == {(t, "partner" if t == "partner" else "call") for t in want.tiers}, f"{name}: {got}"


def test_last_touches_are_the_meetings_that_happened(world: World) -> None:
    live = by_name(world.engine)
    got = {name: live[name][0].last_touch for name in world.data.cast if len(live.get(name, [])) == 1}
    assert got == {name: p.last_touch for name, p in world.data.cast.items()}


def test_nothing_usable_is_skipped_and_what_is_skipped_says_why(world: World) -> None:
    skipped = [line for line in world.output if "skipped" in line and "(UID" in line]
    for uid in world.data.skipped:
        assert any(uid in line for line in skipped), f"{uid} not reported as skipped: {world.output}"
    assert not [line for line in skipped if not any(uid in line for uid in world.data.skipped)]
    if "uptime-probe-2020@example.org" in world.data.skipped:
        [probe] = [line for line in skipped if "uptime-probe-2020@example.org" in line]
        assert "occurrences" in probe, probe


def read_in_germany(e164: str) -> str:
    """The digits the digest shows Sam (region DE, from Europe/Berlin; docs/configuration.md
    `me.region`): a German number national with its trunk 0, any other international."""
    return "0" + e164.removeprefix("+49") if e164.startswith("+49") else e164


def test_the_first_digest_picks_the_five_most_overdue_and_the_partner(world: World) -> None:
    plan = world.digest()
    assert [e["name"] for e in plan["calls"]] == CALLS
    assert [e["name"] for e in plan["partners"]] == PARTNERS
    for entry in plan["calls"] + plan["partners"]:
        want = world.data.cast[entry["name"]]
        assert want.phone is not None
        assert entry["tel_href"] == f"tel:{want.phone}", entry  # the link dials E.164
        assert re.sub(r"[^0-9+]", "", entry["tel"]) == read_in_germany(want.phone), entry
        assert entry["email"] in want.emails, entry
    assert any("birthday" in why.lower() for why in plan["calls"][0]["why"]), plan["calls"][0]


def test_every_pick_says_why_in_words_and_no_two_share_a_prompt(world: World) -> None:
    plan = world.digest()
    entries = plan["calls"] + plan["partners"]
    assert entries
    assert all(entry["why"] and all(w.strip() for w in entry["why"]) for entry in entries), entries
    prompts = [entry["prompt"] for entry in entries]
    assert len(set(prompts)) == len(prompts), prompts


def snapshot(engine: Engine) -> tuple[list[Stored], int, int]:
    with Session(engine) as s:
        touches = s.exec(select(func.count()).select_from(Touch)).one()
        records = s.exec(select(func.count()).select_from(SourceRecord)).one()
    return stored(engine), touches, records


def test_a_second_sync_changes_nothing(world: World) -> None:
    before = snapshot(world.engine)
    world.sync_again()
    assert snapshot(world.engine) == before


# --- The same address book, exported again ------------------------------------------------------

RE_EXPORTS = {  # file, whose address changed, from, to
    "jonas": ("contacts.vcf", "Jonas Weber", "jonas.weber@example.com", "jonas@weber.example.net"),
    "uma": ("contacts-uma.vcf", "Uma Rao", "uma.rao@example.com", "uma@rao.example.net"),
}


@pytest.mark.parametrize(
    ("backend", "who"),
    [("files", "jonas"), ("radicale", "jonas"), ("files", "uma")],
    ids=["files-address-and-phone", "radicale-address-and-phone", "files-address-only"],
)
def test_a_re_export_changes_nothing_but_the_changed_email(
    backend: str, who: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Google's export a week later: other order, no UIDs as ever, one person has a new address.

    Jonas also has a phone number; Uma has nothing but her address (so only her card's name and
    its place among the vanished and new cards can tell it is her). Through Radicale the server
    gives every re-imported card a new UID, so only the identities link them: that case is Jonas.
    """
    name, person_name, old, new = RE_EXPORTS[who]
    w = make_world("google", backend, tmp_path, request)
    assert w.ok, w.output
    before = {c.id: c for c in stored(w.engine)}
    assert len(by_name(w.engine).get(person_name, [])) == 1
    again = EXPORTS / "google" / "re-export" / name
    if backend == "files":
        shutil.copyfile(again, tmp_path / "exports" / "google" / "contacts.vcf")
    else:
        server: Radicale = request.getfixturevalue("radicale")
        server.request("PUT", f"/{w.dav_user}/contacts/", w.dav_user, again.read_bytes(), "text/vcard")
    reports = service.sync_all(w.engine, w.settings, NOW + timedelta(hours=1))
    assert all(r.ok for r in reports), [r.line() for r in reports]
    after = {c.id: c for c in stored(w.engine)}
    assert after.keys() == before.keys(), "no contact added, none lost"
    assert not any(c.archived for c in after.values())
    [changed] = [c for c in after.values() if c.name == person_name]
    assert new in changed.emails and changed.emails <= {old, new}
    unchanged = {cid: c for cid, c in after.items() if cid != changed.id}
    assert unchanged == {cid: c for cid, c in before.items() if cid != changed.id}
    was = before[changed.id]
    assert (changed.phones, changed.last_touch, changed.tier) == (was.phones, was.last_touch, was.tier)


# --- Work that must stay bounded -----------------------------------------------------------------


def test_the_hostile_calendars_sync_in_bounded_time_and_skip_only_what_is_broken(odd_sync: CliSync) -> None:
    """A FREQ=SECONDLY series from 2020 and a daily stand-up since 2005 next to one broken VTIMEZONE.

    The sync runs as `nudge sync` in its own process with a time limit, so a hang fails this
    test instead of stopping the suite.
    """
    assert odd_sync.done is not None, f"`nudge sync` did not finish within {SYNC_SECONDS} s"
    out = odd_sync.done.stdout + odd_sync.done.stderr
    assert odd_sync.done.returncode == 0, out
    assert "Traceback" not in out
    assert re.search(r"skipped .*uptime-probe-2020@example\.org.*occurrences", out), out
    live = by_name(open_db(config.validate(odd_sync.raw).database))
    assert [c.last_touch for c in live.get("Sven Berg", [])] == [STANDUP]  # the stand-up is kept
    assert [c.last_touch for c in live.get("Greta Holm", [])] == [
        at(6, 6, 9)
    ]  # the broken zone's call is not


def test_a_secondly_series_served_by_caldav_is_skipped_not_followed(
    radicale: Radicale,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The team calendar on a CalDAV server (Radicale takes it; it refuses the broken zone and the
    mis-encoded files, which a client converts before upload, so those are tested as files only)."""
    user = radicale.add_user()
    upload(
        radicale,
        user,
        EXPORTS,
        (("contacts", "google/contacts.vcf", "bulk"), ("team", "odd/team.ics", "bulk")),
    )
    sources = dav_sources(radicale, user)
    for source in sources:
        del source["password"]
        source["password_env"] = "NUDGE_TEST_DAV_PASSWORD"
    raw = config_data(tmp_path, sources)
    (tmp_path / "config.toml").write_text(toml(raw), encoding="utf-8")
    try:
        done = run_cli(tmp_path, "sync", env={"NUDGE_TEST_DAV_PASSWORD": PASSWORD})
    except subprocess.TimeoutExpired:
        pytest.fail(f"`nudge sync` did not finish within {SYNC_SECONDS} s")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert re.search(r"skipped .*uptime-probe-2020@example\.org.*occurrences", out), out
    live = by_name(open_db(config.validate(raw).database))
    assert [c.last_touch for c in live.get("Sven Berg", [])] == [STANDUP]
    assert [c.last_touch for c in live.get("Uma Rao", [])] == [STANDUP]
