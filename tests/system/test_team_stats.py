"""`nudge team stats`: each sharing rep's own figures, as their `nudge stats` has them, and no contact.

Two reps in one store know people with distinctive names, addresses and notes; each has a
history of delivered digests (with curiosity prompts), calls with and without notes, meetings
and referrals given. A third rep has not opted in. The report must give each rep exactly the
funnel `nudge --user NAME stats --json` gives them (and `reports.method.stats` on their bound
engine), the curious calls and referrals given counted from what each did, and never a name,
address, note or id of anyone they know, in the text or the JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from nudge import actions, config
from nudge.cli import app
from nudge.config import team as team_config
from nudge.reports import method
from nudge.store.db import atomic, open_db
from nudge.store.models import Contact, DigestRun, Identity, Suggestion
from nudge.store.owner import add_user, as_owner
from tests.conftest import NOW
from tests.servers.smtp import StartServer, smtp_cert, smtp_server

pytestmark = pytest.mark.both_stores
__all__ = ["smtp_cert", "smtp_server"]  # pytest fixtures: imported to be requested by name

runner = CliRunner()
WEEKS = 4
MONDAY = NOW.date() - timedelta(days=7)  # last week's digests: 16 Nov 2026


def nudge(cfg: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(cfg), *args], catch_exceptions=False)
    return result.exit_code, result.output


@dataclass
class Rep:
    name: str
    id: int
    settings: config.Settings
    private: list[str]  # names, addresses, notes, counterparts that must never appear


def at(days_after_monday: int, hour: int = 9) -> datetime:
    return datetime.combine(MONDAY + timedelta(days=days_after_monday), datetime.min.time(), NOW.tzinfo) + (
        timedelta(hours=hour)
    )


def person(s: Session, name: str, email: str, tier: str = "top100") -> Contact:
    contact = Contact(name=name, tier=tier, tier_source="cli", created_at=NOW - timedelta(days=400))
    s.add(contact)
    s.flush()
    assert contact.id is not None
    s.add(Identity(contact_id=contact.id, kind="email", value=email))
    return contact


def digest(s: Session, day_offset: int, picks: list[tuple[Contact, str]]) -> None:
    """A delivered digest that suggested these people, each with its curiosity prompt."""
    day = MONDAY + timedelta(days=day_offset)
    s.add(DigestRun(date=day, state="sent", message_id=f"<d{day}@example.com>", attempts=1))
    for n, (contact, prompt) in enumerate(picks, 1):
        assert contact.id is not None
        s.add(Suggestion(digest_date=day, contact_id=contact.id, slot="call", prompt=prompt, position=n))


def seed_ana(engine: Engine, settings: config.Settings) -> list[str]:
    """Ana: two curious calls (one with a note, one after a prompt), one plain call, a meeting,
    one referral given, one received."""
    with atomic(engine) as s:
        zeb = person(s, "Zebulon Quixote", "zebulon@quixote.example")
        wil = person(s, "Wilhelmina Oyelaran-Brandt", "wilhelmina@brandt.example")
        ott = person(s, "Ottoline Farquharson", "ottoline@farq.example")
        par = person(s, "Perpetua Vanderplas", "perpetua@vanderplas.example", tier="partner")
        digest(s, 0, [(zeb, "Ask Zebulon about the regatta"), (wil, ""), (ott, "")])
        actions.log_touch(s, settings, zeb, NOW, "call", at=at(1))  # prompted: curious
        actions.log_touch(s, settings, wil, NOW, "call", note="her sabbatical in Lisbon", at=at(2))
        actions.log_touch(s, settings, ott, NOW, "call", at=at(3))  # plain
        actions.log_touch(s, settings, wil, NOW, "meeting", outcome="referral", at=at(4))
        actions.add_referral(s, par, "given", "introduced to Quentin Marsh-Ibbotson", "Quentin", at(2))
        actions.add_referral(s, par, "received", "a lead at Glasswing", "Glasswing", at(3))
    return [
        "Zebulon",
        "Quixote",
        "Wilhelmina",
        "Oyelaran",
        "Ottoline",
        "Farquharson",
        "Perpetua",
        "Vanderplas",
        "quixote.example",
        "brandt.example",
        "regatta",
        "sabbatical",
        "Quentin",
        "Glasswing",
    ]


def seed_ben(engine: Engine, settings: config.Settings) -> list[str]:
    """Ben: no curious call (plain calls only), two referrals given, a digest two weeks ago."""
    with atomic(engine) as s:
        hor = person(s, "Hortensia Blackwood-Achebe", "hortensia@achebe.example")
        leo = person(s, "Leopoldine Szymborska", "leopoldine@szymborska.example")
        par = person(s, "Barnabas Thistlewood", "barnabas@thistlewood.example", tier="partner")
        digest(s, -7, [(hor, ""), (leo, "")])
        digest(s, 0, [(leo, "")])
        actions.log_touch(s, settings, hor, NOW, "call", at=at(-6))
        actions.log_touch(s, settings, leo, NOW, "message", at=at(1))
        actions.add_referral(s, par, "given", "sent the Marchetti brief", "Marchetti", at(-5))
        actions.add_referral(s, par, "given", "", "", at(2))
    return [
        "Hortensia",
        "Blackwood",
        "Leopoldine",
        "Szymborska",
        "Barnabas",
        "Thistlewood",
        "achebe.example",
        "Marchetti",
    ]


@pytest.fixture
def clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def team(tmp_path: Path, store_url: str, clock: None) -> tuple[Path, dict[str, Rep], Engine]:
    users = tmp_path / "users.d"
    users.mkdir()
    main = tmp_path / "config.toml"
    main.write_text(
        f'timezone = "Europe/Berlin"\ndatabase_url = "{store_url}"\nteam = "{users}"\n'
        f'maildir = "{tmp_path / "Maildir"}"\n'
    )
    engine = open_db(store_url)
    reps: dict[str, Rep] = {}
    for name, seeder in (("ana", seed_ana), ("ben", seed_ben), ("cleo", None)):
        path = users / f"{name}.toml"
        path.write_text(f'[me]\nname = "{name.title()}"\nemails = ["{name}@team.example"]\n')
        path.chmod(0o600)
        uid = add_user(engine, name).id
        assert uid is not None
        settings = team_config.load(main, name)
        private = seeder(as_owner(engine, uid), settings) if seeder else []
        reps[name] = Rep(name, uid, settings, private)
    return main, reps, engine


def keys(tree: Any) -> set[str]:
    if isinstance(tree, dict):
        return set(tree) | {k for v in tree.values() for k in keys(v)}
    if isinstance(tree, list):
        return {k for v in tree for k in keys(v)}
    return set()


def test_each_sharing_rep_gets_their_own_stats_and_no_contact_shows(
    team: tuple[Path, dict[str, Rep], Engine],
) -> None:
    main, reps, engine = team
    for name in ("ana", "ben"):
        code, out = nudge(main, "--user", name, "team", "share-stats", "on")
        assert code == 0, out

    code, out = nudge(main, "team", "stats", "--weeks", str(WEEKS), "--json")
    assert code == 0, out
    report = json.loads(out)
    assert [r["name"] for r in report["reps"]] == ["ana", "ben"]
    assert report["not_sharing"] == 1
    by_name = {r["name"]: r for r in report["reps"]}

    for name in ("ana", "ben"):
        rep = reps[name]
        code, own_out = nudge(main, "--user", name, "stats", "--weeks", str(WEEKS), "--json")
        assert code == 0, own_out
        own = json.loads(own_out)
        with Session(as_owner(engine, rep.id)) as s:
            direct = method.stats(s, rep.settings, NOW, WEEKS)
        funnel = [{k: w[k] for k in own["weeks"][0]} for w in by_name[name]["weeks"]]
        assert funnel == own["weeks"]
        assert [w["suggested"] for w in funnel] == [w.counts["suggested"] for w in direct.weeks]
        assert by_name[name]["health"] == own["health"]

    ana, ben = by_name["ana"], by_name["ben"]
    # Ana: 3 suggested last week, all contacted; the meeting with Wilhelmina led to a referral.
    assert ana["totals"]["suggested"] == 3
    assert ana["totals"]["contacted"] == 3
    assert ana["totals"]["meeting"] == 1
    assert ana["totals"]["curious_calls"] == 2  # the noted call and the prompted one; not the plain one
    assert ana["totals"]["referrals_given"] == 1
    assert ana["top100"]["people"] == 3
    # Ben: 3 suggestions over two weeks, two contacted; plain calls are not curious.
    assert ben["totals"]["suggested"] == 3
    assert ben["totals"]["contacted"] == 2
    assert ben["totals"]["curious_calls"] == 0
    assert ben["totals"]["referrals_given"] == 2
    assert ben["top100"]["people"] == 2

    code, text = nudge(main, "team", "stats", "--weeks", str(WEEKS))
    assert code == 0, text
    assert "ana: 2 curious calls, 1 referrals given, 1 meetings" in text
    assert "ben: 0 curious calls, 2 referrals given, 0 meetings" in text
    assert "Not sharing: 1 rep does not share their figures." in text
    assert "cleo" not in text and "cleo" not in out

    secrets = [word for rep in reps.values() for word in rep.private]
    for shown in (text, out):
        leaked = [word for word in secrets if word.lower() in shown.lower()]
        assert not leaked, leaked
    assert not keys(report) & {"id", "contact_id", "contact", "email", "note", "notes", "partner"}


def test_a_rep_who_stops_sharing_is_only_counted(team: tuple[Path, dict[str, Rep], Engine]) -> None:
    main, _, _ = team
    assert nudge(main, "--user", "ana", "team", "share-stats", "on")[0] == 0
    code, out = nudge(main, "--user", "ana", "team", "share-stats", "off")
    assert code == 0, out
    code, out = nudge(main, "team", "stats", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["reps"] == []
    assert report["not_sharing"] == 3  # ana, ben, cleo (the store's first user has no file: no member)


def test_a_user_file_that_cannot_be_read_is_named_and_the_others_carry_on(
    team: tuple[Path, dict[str, Rep], Engine],
) -> None:
    main, _, engine = team
    bad = main.parent / "users.d" / "dora.toml"
    bad.write_text('[me]\nname = "Dora"\n[digest]\ndaily_size = "many"\n')
    add_user(engine, "dora", stats_opt_in=True)
    assert nudge(main, "--user", "ana", "team", "share-stats", "on")[0] == 0
    code, out = nudge(main, "team", "stats")
    assert code == 0, out
    assert "dora.toml" in out and "daily_size" in out
    assert "ana: 2 curious calls" in out
    assert "Not sharing: 2 reps do not share their figures." in out  # ben and cleo; dora is skipped


def test_a_personal_store_is_a_team_of_one(tmp_path: Path, store_url: str, clock: None) -> None:
    main = tmp_path / "config.toml"
    main.write_text(
        f'timezone = "Europe/Berlin"\ndatabase_url = "{store_url}"\nmaildir = "{tmp_path / "Maildir"}"\n'
    )
    code, out = nudge(main, "team", "stats")
    assert code == 0, out
    assert out.strip() == "Not sharing: 1 rep does not share their figures."
    code, out = nudge(main, "team", "share-stats", "on")
    assert code == 0, out
    code, out = nudge(main, "team", "stats", "--json")
    assert code == 0, out
    assert [r["name"] for r in json.loads(out)["reps"]] == ["me"]


def test_the_weekly_mail_goes_to_the_manager_with_numbers_only(
    team: tuple[Path, dict[str, Rep], Engine], smtp_server: StartServer
) -> None:
    main, reps, _ = team
    server = smtp_server(security="none")
    main.write_text(
        main.read_text()
        + f'[me]\nemails = ["manager@team.example"]\n[smtp]\nhost = "127.0.0.1"\nport = {server.port}\n'
        'security = "none"\ntimeout = 5\n'
    )
    for name in ("ana", "ben"):
        assert nudge(main, "--user", name, "team", "share-stats", "on")[0] == 0
    code, out = nudge(main, "team", "stats", "--weeks", str(WEEKS), "--mail")
    assert code == 0, out
    assert "Sent the team report" in out
    [received] = server.received
    assert received.rcpt_tos == ["manager@team.example"]
    message = received.message
    assert message["Subject"] == "Team stats: 2 sharing, last 4 weeks"
    assert message["Message-ID"].startswith("<nudge.team.2026-11-23.")
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "ana: 2 curious calls, 1 referrals given, 1 meetings" in text
    assert "Not sharing: 1 rep does not share their figures." in text
    parts = [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]
    assert len(parts) == 2  # the text and the HTML, each decoded, so no encoding hides a name
    whole = " ".join(parts).lower()
    leaked = [word for rep in reps.values() for word in rep.private if word.lower() in whole]
    assert not leaked, leaked


def test_share_stats_is_run_as_a_user_and_a_new_file_is_enough(
    team: tuple[Path, dict[str, Rep], Engine],
) -> None:
    main, _, _ = team
    code, out = nudge(main, "team", "share-stats", "on")
    assert code == 1
    assert "nudge --user NAME team share-stats" in out
    (main.parent / "users.d" / "eve.toml").write_text('[me]\nname = "Eve"\nemails = ["eve@team.example"]\n')
    code, out = nudge(main, "--user", "eve", "team", "share-stats", "on")
    assert code == 0, out
    code, out = nudge(main, "team", "stats", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert [r["name"] for r in report["reps"]] == ["eve"]
    assert report["reps"][0]["totals"]["suggested"] == 0
    assert report["not_sharing"] == 3
