"""Two users of one store never see or change each other's rows (issue 18: the one owner filter).

User A is the store's personal user (1): everything A does and reads goes through the
real CLI, which opens the store bound to no user. User B is added with
`store.owner.add_user` and works through the functions the CLI calls, on
`as_owner(engine, B)`. Both know the same people from the same files (the same card
and event UIDs, the same addresses), both are sent the same day's digest and reply to
it with a reply of the same Message-ID. B also has a secret of every kind: a contact
only B knows, a note, a touch's note, a referral, a follow-up. Every read path is
walked as A (each CLI command that reads, with --json where it has it; digest plan and
render; `show` by id) and the store's read functions as both users; A's writes (sync,
undo, rm) leave B's rows exactly as they were.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import time_machine
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from nudge import actions, config, follow, service
from nudge.config import Settings
from nudge.digest import replies
from nudge.reports import contacts as contact_reports
from nudge.reports import duplicates, follow_ups, method
from nudge.reports.cadence import cadence_of
from nudge.store import owner
from nudge.store.db import atomic, open_db
from nudge.store.models import OWNED, Contact, DigestRun, Moment, Note, Referral, Touch
from tests.builders import ME, vcalendar, vcard, vevent
from tests.conftest import NOW
from tests.system.test_cli import clock, nudge

__all__ = ["clock"]

pytestmark = pytest.mark.both_stores

CONFIG = """timezone = "Europe/Berlin"
database_url = "{url}"
maildir = "{root}/Maildir-{who}"
[me]
name = "{who}"
emails = ["{me}"]
region = "DE"
[[sources]]
type = "files"
name = "files"
paths = [{paths}]
"""

# What B has and A must never see: B's one contact of its own, and B's words.
B_ONLY = "Quentin Hidden"
B_ONLY_EMAIL = "q.hidden@example.net"
B_WORDS = ("B-secret note", "B-secret call", "B-secret intro", "B-Counterpart Lee", "B-secret deck")
A_WORDS = ("A-own note", "A-own call", "A-own intro", "A-Counterpart Kim", "A-own deck")
REPLY_ID = "same-reply@mail.example.com"  # both users' replies carry this Message-ID


@dataclass
class Store:
    root: Path
    url: str
    engine: Engine  # unbound: user A, the personal user
    a_config: Path
    a: Settings
    b: Settings
    b_id: int
    b_engine: Engine

    def every_row(self, user: int) -> dict[str, list[tuple[Any, ...]]]:
        """All of one user's rows, read past the filter (the whole store), by table."""
        with Session(owner.every_owner(self.engine)) as s:
            return {
                str(model.__tablename__): [
                    tuple(sorted(row.model_dump().items()))
                    for row in s.exec(
                        select(model).where(model.owner_id == user).order_by(model.id)  # type: ignore[attr-defined]
                    )
                ]
                for model in OWNED
            }


def _reply(in_reply_to: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Me <{ME}>"
    msg["To"] = ME
    msg["Subject"] = "Re: Be curious today"
    msg["Date"] = format_datetime(NOW + timedelta(minutes=30))
    msg["Message-ID"] = f"<{REPLY_ID}>"
    msg["In-Reply-To"] = in_reply_to
    msg["References"] = in_reply_to
    msg.set_content(body)
    return bytes(msg)


def _apply_reply(engine: Engine, settings: Settings, body: str, now: datetime) -> None:
    with Session(engine) as s:
        run = s.exec(select(DigestRun).where(DigestRun.date == NOW.date())).one()
        raw = _reply(f"<{run.message_id}>", body)
        assert replies.apply_reply(s, settings, replies.read_reply(raw, now), now) is not None
        s.commit()


def _cli(config_path: Path, *args: str) -> str:
    code, out = nudge(*args, config=config_path)
    assert code == 0, (args, out)
    return out


@pytest.fixture
def two(tmp_path: Path, clock: time_machine.Coordinates, store_url: str) -> Iterator[Store]:
    shared = (
        vcard("ana", "Ana Ruiz", ("ana@example.org",), phones=("+49 30 1234567",), categories=("top100",))
        + vcard("ben", "Ben Ott", ("ben@example.net",), org="Acme", categories=("partner",))
        + vcard("zoe", "Zoë Çelik", ("zoe@example.com",), categories=("top100",))
    )
    (tmp_path / "contacts.vcf").write_text(shared)
    (tmp_path / "b-only.vcf").write_text(vcard("qh", B_ONLY, (B_ONLY_EMAIL,), categories=("top100",)))
    events = (
        vevent("e1", NOW - timedelta(days=45), ("ana@example.org",), "Coffee"),
        vevent("e2", NOW - timedelta(days=12), ("ben@example.net", "stranger@example.com"), "Lunch"),
        vevent("e3", NOW + timedelta(days=3), ("zoe@example.com",), "Dinner"),
    )
    (tmp_path / "calendar.ics").write_text(vcalendar(*events))
    files = [tmp_path / "contacts.vcf", tmp_path / "calendar.ics"]
    a_config = tmp_path / "a.toml"
    a_config.write_text(
        CONFIG.format(url=store_url, root=tmp_path, who="A", me=ME, paths=", ".join(f'"{p}"' for p in files))
    )
    b_config = tmp_path / "b.toml"
    b_files = [*files, tmp_path / "b-only.vcf"]
    b_config.write_text(
        CONFIG.format(
            url=store_url, root=tmp_path, who="B", me=ME, paths=", ".join(f'"{p}"' for p in b_files)
        )
    )

    # A, through the CLI.
    _cli(a_config, "sync")
    _cli(a_config, "log", "zoe", f"call: {A_WORDS[1]}")
    _cli(a_config, "note", "ana", A_WORDS[0])
    _cli(a_config, "referral", "given", "ben", A_WORDS[2], "--counterpart", A_WORDS[3])
    _cli(a_config, "follow-up", "ana", "fri", A_WORDS[4])
    _cli(a_config, "digest")

    # B, through the functions the CLI calls, on B's engine; B's changes come last, so that
    # a journal or "latest" read past the filter would find B's first.
    engine = open_db(store_url)
    b_id = owner.add_user(engine, "bea").id
    assert b_id is not None and b_id != owner.PERSONAL
    b_engine = owner.as_owner(engine, b_id)
    b = config.load(b_config)
    now = NOW
    service.sync_all(b_engine, b, now, read_replies=False)
    service.send_digest(b_engine, b, now)
    with atomic(b_engine) as s:
        zoe, ana, ben = (actions.find(s, name) for name in ("zoe", "ana", "ben"))
        actions.log_touch(s, b, zoe, now, "call", B_WORDS[1])
        actions.add_note(s, ana, B_WORDS[0], now)
        actions.add_referral(s, ben, "given", B_WORDS[2], B_WORDS[3], now)
        follow.add_follow_up(s, b, ana, "fri", B_WORDS[4], now)
    a = config.load(a_config)
    _apply_reply(engine, a, "done 1", now)
    _apply_reply(b_engine, b, "done 1", now)
    yield Store(tmp_path, store_url, engine, a_config, a, b, b_id, b_engine)
    engine.dispose()


def _ids(value: Any) -> set[int]:
    """Every contact id a JSON document or a read model names: `contact_id` keys, contact rows.

    (An `id` alone may be a follow-up's or a reply's: `contacts --json` is checked by its ids.)
    """
    found: set[int] = set()
    if isinstance(value, SQLModel):  # a row: its contact (a touch's own id is no contact's)
        cid = value.id if isinstance(value, Contact) else getattr(value, "contact_id", None)
        return {cid} if isinstance(cid, int) else set()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "contact_id" and isinstance(item, int) and not isinstance(item, bool):
                found.add(item)
            else:
                found |= _ids(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            found |= _ids(item)
    return found


def _contact_ids(store: Store, user: int) -> set[int]:
    return {row[0] for row in _table(store, "contact", user)}


def _table(store: Store, table: str, user: int) -> list[tuple[Any, ...]]:
    with owner.every_owner(store.engine).connect() as conn:
        t = sa.table(table, sa.column("id"), sa.column("owner_id"))
        return [tuple(r) for r in conn.execute(sa.select(t.c.id).where(t.c.owner_id == user))]


def _entry_ids(store: Store, user: int) -> set[str]:
    """The ids `nudge rm` takes of a user's hand-made entries: t12, n3, r5."""
    return {
        f"{letter}{row[0]}"
        for letter, table in (("t", "touch"), ("n", "note"), ("r", "referral"))
        for row in _table(store, table, user)
    }


def _assert_none_of_b(text: str, store: Store, b_message_id: str, where: str) -> None:
    for secret in (B_ONLY, B_ONLY_EMAIL, *B_WORDS, b_message_id):
        assert secret not in text, f"{where}: B's {secret!r} leaked"


def test_both_users_hold_the_same_keys_side_by_side(two: Store) -> None:
    """The per-user unique keys: the same card, event, address, day and Message-ID, once per user."""
    a_rows, b_rows = two.every_row(owner.PERSONAL), two.every_row(two.b_id)
    for table in ("identity", "sourcerecord", "syncstate", "sighting", "digestrun", "reply", "planned"):
        assert a_rows[table] and b_rows[table], table
    assert len(b_rows["contact"]) == len(a_rows["contact"]) + 1  # B's own Quentin
    assert not _contact_ids(two, owner.PERSONAL) & _contact_ids(two, two.b_id)


def test_every_cli_read_as_a_shows_nothing_of_b(two: Store) -> None:
    b_contacts = _contact_ids(two, two.b_id)
    b_entries = _entry_ids(two, two.b_id)
    with Session(owner.every_owner(two.engine)) as s:
        b_message_id = s.exec(select(DigestRun.message_id).where(DigestRun.owner_id == two.b_id)).one()
    a_names = ["Ana Ruiz", "Ben Ott", "zoe"]
    questions: list[tuple[str, ...]] = [
        ("contacts", "--json"),
        ("contacts", "--json", "--archived"),
        *(("show", name, "--json") for name in a_names),
        *(("show", f"#{cid}", "--json") for cid in sorted(_contact_ids(two, owner.PERSONAL))),
        ("stats", "--json"),
        ("plan", "--json"),
        ("digest", "--dry-run", "--json"),
        ("log", "--list", "--json"),
        ("referral", "list", "--json"),
        ("follow-ups", "--json"),
        ("replies", "--json"),
        ("duplicates", "--json"),
        ("top100", "list", "--json"),
        ("top100", "suggest", "--json"),
        ("export", "--format", "json"),
        ("export", "--format", "vcard"),
        ("export", "--format", "csv"),
    ]
    seen_words = set()
    for question in questions:
        out = _cli(two.a_config, *question)
        _assert_none_of_b(out, two, b_message_id, " ".join(question))
        for entry in b_entries - _entry_ids(two, owner.PERSONAL):
            assert f'"{entry}"' not in out and f" {entry} " not in out, (question, entry)
        if question[-1] == "--json":
            assert not _ids(json.loads(out)) & b_contacts, question
        if question[0] == "contacts":
            assert {row["id"] for row in json.loads(out)} == _contact_ids(two, owner.PERSONAL)
        if question == ("export", "--format", "json"):  # rows of every table: their contacts'
            tables = json.loads(out)["tables"]
            held = {row["id"] for row in tables["contact"]}
            held |= {row["contact_id"] for rows in tables.values() for row in rows if "contact_id" in row}
            assert held == _contact_ids(two, owner.PERSONAL)
        seen_words |= {w for w in A_WORDS if w in out}
    assert seen_words == set(A_WORDS)  # A's own rows are there: the walk reads what it should

    # B's contacts by id, and B's only contact by name or address, do not exist for A.
    for cid in sorted(b_contacts):
        code, out = nudge("show", f"#{cid}", "--json", config=two.a_config)
        assert code == 1 and f"no contact #{cid}" in out, out
    for query in (B_ONLY, B_ONLY_EMAIL):
        code, out = nudge("show", query, config=two.a_config)
        assert code == 1 and "no contact matches" in out, out


def _report_walk(engine: Engine, settings: Settings, now: datetime) -> list[Any]:
    """What each read function of nudge.reports and the digest answers, for one engine's user."""
    out: list[Any] = []
    today = now.date()
    with Session(engine) as s:
        people = list(s.exec(select(Contact)))
        out += [people, contact_reports.rows(s, settings, now), contact_reports.rows(s, settings, now, True)]
        out.append(contact_reports.planned_people(s, settings, now))
        out.append(contact_reports.identities(s, [c.id for c in people if c.id is not None]))
        for person in people:
            out.append(contact_reports.detail(s, settings, person, now))
            out.append(cadence_of(s, settings, person, settings.tz))
        out.append(
            contact_reports.timeline(
                list(s.exec(select(Touch))),
                list(s.exec(select(Note))),
                list(s.exec(select(Moment))),
                list(s.exec(select(Referral))),
            )
        )
        out.append(contact_reports.hand_made(s))
        out.append(duplicates.pairs(s))
        out.append(follow_ups.open_follow_ups(s, today + timedelta(days=30)))
        out.append(method.evidence(s, now))
        out.append(method.sighting_evidence(s, now))
        out.append(method.stats(s, settings, now, 8))
        out.append(method.forecast(s, settings, now, 14))
        out.append(method.ledgers(s))
        out.append(replies.untold(s, settings))
        out.append(replies.digest_ids(s, now))
    result = service.render_day(engine, settings, now, today + timedelta(days=1))
    out += [result.plan, result.view, result.subject, result.text, result.html]
    return out


@pytest.mark.parametrize("viewer", ["A", "B"])
def test_every_report_and_the_digest_read_one_user(two: Store, viewer: str) -> None:
    """The store's read functions (the ones every command and the digest use), as each user."""
    me, other = (owner.PERSONAL, two.b_id) if viewer == "A" else (two.b_id, owner.PERSONAL)
    engine, settings = (two.engine, two.a) if viewer == "A" else (two.b_engine, two.b)
    words = B_WORDS if viewer == "A" else A_WORDS
    answers = _report_walk(engine, settings, NOW + timedelta(hours=1))
    text = repr(answers)
    for secret in words:
        assert secret not in text, f"{viewer} read {secret!r}"
    assert (B_ONLY in text) == (viewer == "B")
    assert not _ids(answers) & _contact_ids(two, other)
    assert _ids(answers) & _contact_ids(two, me)


def test_a_writes_leave_b_as_it_was(two: Store, clock: time_machine.Coordinates) -> None:
    """A's sync (an event gone, a card changed), A's undo and A's rm change none of B's rows."""
    b_before = two.every_row(two.b_id)
    b_entries = sorted(_entry_ids(two, two.b_id))

    # The shared calendar loses the lunch and Ana's card changes: A syncs (B does not).
    (two.root / "calendar.ics").write_text(
        vcalendar(vevent("e1", NOW - timedelta(days=45), ("ana@example.org",), "Coffee"))
    )
    contacts = (two.root / "contacts.vcf").read_text().replace("Ana Ruiz", "Ana Ruiz-Lopez")
    (two.root / "contacts.vcf").write_text(contacts)
    clock.move_to(NOW + timedelta(hours=2))
    _cli(two.a_config, "sync")
    assert "Ana Ruiz-Lopez" in _cli(two.a_config, "contacts", "--json")

    # B's entries are not A's to remove.
    for entry in b_entries:
        code, out = nudge("rm", entry, config=two.a_config)
        assert code == 1, (entry, out)
    # A's undo takes back A's latest changes, never B's (which are newer), again and again.
    for _ in range(5):
        _cli(two.a_config, "undo")
    code, out = nudge("undo", config=two.a_config)
    assert code == 1 and "nothing to undo" in out, out
    # What A enters, A removes: `nudge rm`.
    _cli(two.a_config, "note", "ben", "A-later note")
    with Session(two.engine) as s:
        later = s.exec(select(Note.id).where(Note.text == "A-later note")).one()
    assert "A-later note" in _cli(two.a_config, "rm", f"n{later}")

    assert two.every_row(two.b_id) == b_before


def test_removing_a_user_deletes_theirs_only(two: Store) -> None:
    a_before = two.every_row(owner.PERSONAL)
    deleted = owner.remove_user(two.engine, "bea")
    assert deleted["contact"] == 4 and deleted["reply"] == 1 and deleted["digestrun"] == 1
    assert all(not rows for rows in two.every_row(two.b_id).values())
    assert two.every_row(owner.PERSONAL) == a_before
    assert [u.name for u in owner.users(two.engine)] == ["me"]


def test_a_team_engine_bound_to_no_user_refuses_every_user_table(two: Store) -> None:
    """A forgotten owner is a failure, not a leak: reads, bulk and ORM writes all raise."""
    team = owner.team_engine(two.engine)
    with Session(team) as s, pytest.raises(owner.NoOwner):
        s.exec(select(Contact.name)).all()
    with pytest.raises(owner.NoOwner), atomic(team) as s:
        s.add(Note(contact_id=1, at=NOW, text="who owns me?"))
    with pytest.raises(owner.NoOwner), atomic(team) as s:
        s.execute(sa.insert(Note), [{"contact_id": 1, "at": NOW, "text": "nor me"}])
    assert {u.name for u in owner.users(team)} == {"me", "bea"}  # the users table is the team's
    assert owner.owner_of(owner.as_owner(team, two.b_id)) == two.b_id
    with Session(owner.as_owner(team, two.b_id)) as s:
        assert B_ONLY in s.exec(select(Contact.name)).all()


def test_a_statement_past_the_filter_is_refused(two: Store) -> None:
    """Core SQL on a user's table (or an ORM statement run on a bare Connection) raises, never leaks."""
    with Session(two.engine) as s, pytest.raises(owner.Unfiltered):
        s.connection().execute(sa.select(col(Contact.name)))
    with two.engine.connect() as conn, pytest.raises(owner.Unfiltered):
        conn.execute(sa.select(sa.table("note", sa.column("text"))))
    with owner.every_owner(two.engine).connect() as conn:  # the whole store, on purpose
        names = conn.execute(sa.select(sa.table("contact", sa.column("name")))).scalars().all()
    assert B_ONLY in names and "Ana Ruiz" in names


def test_days_are_claimed_per_user(two: Store) -> None:
    """The same day's digest: one row per user (its own key), and each was sent."""
    with Session(owner.every_owner(two.engine)) as s:
        runs = s.exec(select(DigestRun.owner_id, DigestRun.state).where(DigestRun.date == NOW.date())).all()
    assert sorted(runs) == [(owner.PERSONAL, "sent"), (two.b_id, "sent")]
