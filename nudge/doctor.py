"""`nudge doctor`: one line per check, and for each failure what to do about it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from nudge import config, secrets, unit
from nudge.config import team
from nudge.errors import ConfigError, NudgeError
from nudge.store import migrations
from nudge.store.models import Contact, SyncState


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        text = f"[{mark}] {self.name}: {self.detail}"
        return secrets.mask(text + (f"\n       fix: {self.fix}" if self.fix and not self.ok else ""))


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    minutes = int((now - when).total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"{minutes // 1440} days ago"


def run_checks(
    config_path: str | None, now: datetime | None = None, user: str | None = None
) -> Iterator[Check]:
    now = now or datetime.now(UTC)
    where = config.find_config(config_path)
    try:
        settings = team.load(config_path, user)
    except ConfigError as e:
        from nudge.extras import install_fix

        # A source whose extra is missing is fixed by installing it, not by editing the config.
        fix = install_fix(e.problems) or f"edit {e.path or where}"
        yield Check("config", False, "; ".join(e.problems), fix)
        return
    yield Check(
        "config",
        True,
        f"{where or 'no file, built-in defaults'} "
        f"({len(settings.sources)} sources, time zone {settings.tz.key})",
    )
    if settings.team and not user:
        yield from _team(settings)
    if not settings.me.emails:
        yield Check(
            "me",
            False,
            "me.emails is empty: you would count as an attendee of your own meetings",
            "add your addresses to [me] emails (every one your calendars use)",
        )
    yield from _database(settings)
    yield from _sources(settings, now)
    yield from _phones(settings)
    yield from _channels(settings)
    if settings.reply_source is not None:
        yield _replies(settings)
    yield _service()


def _team(settings: config.Settings) -> Iterator[Check]:
    """The team folder: how many users it holds, and each user file that cannot be used."""
    path = team.folder(settings)
    if path is None or not path.is_dir():
        yield Check("team", False, f"the team folder {path} does not exist", "nudge team add NAME makes it")
        return
    members = team.load_team(settings)
    yield Check("team", True, f"{path}: {sum(m.error is None for m in members)} users")
    for m in members:
        if m.error is not None:
            problems = "; ".join(m.error.problems)
            yield Check(f"user {m.name}", False, f"{m.path}: {problems}", f"edit {m.path}")


def _as_user(engine: Engine, settings: config.Settings) -> Engine:
    """`engine` bound to the team member the settings are for (`nudge --user`), if they have a row."""
    from nudge.store import owner

    found = owner.user_id(engine, settings.user) if settings.user else None
    return engine if found is None else owner.as_owner(owner.team_engine(engine), found)


def _database(settings: config.Settings) -> Iterator[Check]:
    from nudge.store.db import make_engine, shown_url

    shown = shown_url(settings.database)
    try:
        engine = make_engine(settings.database, settings.database_wait)
        done = migrations.applied(engine)
        missing = [name for name, _ in migrations.MIGRATIONS if name not in done]
        with Session(_as_user(engine, settings)) as s:
            count = s.exec(select(func.count()).select_from(Contact)).one() if not missing else 0
    except NudgeError as e:
        yield Check("database", False, str(e), "check database_url")
        return
    except Exception as e:
        yield Check("database", False, f"{shown}: {type(e).__name__}: {e}", "check database_url")
        return
    if missing:
        yield Check("database", True, f"{shown}: {len(missing)} migrations to apply ({', '.join(missing)})")
    else:
        yield Check("database", True, f"{shown}: schema {done[-1]}, {count} contacts")


def _sources(settings: config.Settings, now: datetime) -> Iterator[Check]:
    from nudge.sources import load_source
    from nudge.store.db import make_engine

    states: dict[str, SyncState] = {}
    try:
        with Session(_as_user(make_engine(settings.database, settings.database_wait), settings)) as s:
            states = {st.source: st for st in s.exec(select(SyncState).where(SyncState.collection == ""))}
    except Exception:  # a fresh or broken database: reported above
        states = {}
    if not settings.sources:
        yield Check("sources", False, "none configured", "add a [[sources]] table (see config.example.toml)")
    for cfg in settings.sources:
        name = f"source {cfg.name}"
        if not cfg.enabled:
            yield Check(name, True, "disabled")
            continue
        state = states.get(cfg.name)
        last = f"last sync {_ago(state.last_success_at if state else None, now)}"
        started = time.monotonic()
        try:
            source = load_source(cfg)
            try:
                found = source.collections()
                notices = source.notices()
            finally:
                source.close()
        except NudgeError as e:
            yield Check(
                name, False, f"{e} ({last})", f"check sources entry {cfg.name!r} and try `nudge sync`"
            )
            continue
        took = time.monotonic() - started
        kinds = ", ".join(sorted({c.kind for c in found})) or "nothing"
        folders = [c.name or c.id for c in found if c.kind == "messages"]
        if folders:
            kinds += ": " + ", ".join(folders)
        detail = f"{len(found)} collections ({kinds}) in {took:.1f}s, {last}"
        detail += "".join(f"; note: {n.text}" for n in notices if not n.problem)
        problems = [n.text for n in notices if n.problem]
        if problems:
            yield Check(
                name,
                False,
                f"{detail}; " + "; ".join(problems),
                f"point sources entry {cfg.name!r} at your exported .vcf/.ics files or their folder",
            )
        elif state and state.last_error:
            yield Check(
                name,
                False,
                f"{detail}; last error: {state.last_error}",
                "run `nudge sync -v` to see it again",
            )
        else:
            yield Check(name, True, detail)


def _phones(settings: config.Settings) -> Iterator[Check]:
    """Numbers that did not parse in the phone region are kept as typed: say how many, and why."""
    from nudge.config import phone_region
    from nudge.ingest.contacts import count_unparsed_phones
    from nudge.store.db import make_engine

    try:
        with Session(make_engine(settings.database)) as s:
            count = count_unparsed_phones(s)
    except Exception:  # a fresh or broken database: reported above
        return
    if count:
        region = phone_region(settings.me.region, settings.tz.key) or "none"
        yield Check(
            "phones",
            True,
            f"{count} phone numbers kept unparsed (as typed; phone region {region}): "
            "set me.region if they are national numbers of another country",
        )


def _replies(settings: config.Settings) -> Check:
    """Replies are read from an INBOX: log in there and find it (nothing is changed)."""
    from nudge.sources.imap import ImapOptions, find_folders, session

    src = settings.reply_source
    assert src is not None
    try:
        options = ImapOptions.model_validate(src.options)
        with session(options, f"sources.{src.name}") as client:
            inbox, _ = find_folders(client, options)
    except NudgeError as e:
        return Check(
            "replies", False, str(e), f"check sources entry {src.name!r}, or set replies.enabled = false"
        )
    where = (
        ""
        if settings.mails
        else "; note the digest goes to no mailbox (no smtp channel), so there is nothing to reply to"
    )
    return Check(
        "replies", True, f"commands in replies to the digest are read from {src.name}: {inbox}{where}"
    )


def _channels(settings: config.Settings) -> Iterator[Check]:
    """Each channel reached without sending anything (SMTP: connect, TLS and login)."""
    from nudge.channels import load_channel

    for entry in settings.delivery:
        name = "smtp" if entry.where == "smtp" else f"channel {entry.name}"
        try:
            channel = load_channel(entry)
            found = channel.check()
        except NudgeError as e:
            fix = (
                "check [smtp] host, port, security and the password"
                if entry.where == "smtp"
                else f"check [[channels]] entry {entry.name!r} (its URL, host, port or token)"
            )
            yield Check(name, False, str(e), fix)
            continue
        if entry.where == "maildir":
            name = "delivery"
            found = f"no [smtp]: {found}"
        yield Check(name, True, found)
    if settings.old_form:
        yield Check("channels", True, f"{settings.old_form}; it keeps working (see config.example.toml)")


def _service() -> Check:
    path = unit.unit_dir() / unit.UNIT_NAME
    if not path.exists():
        return Check(
            "service", True, "not installed (run `nudge service install` for a daily digest without cron)"
        )
    state = unit.systemctl("is-active", unit.UNIT_NAME)
    if state is None:
        return Check("service", True, f"{path} installed; systemctl not available here")
    active = state.stdout.strip() or "unknown"
    if active == "active":
        return Check("service", True, f"{path}: active")
    return Check(
        "service",
        False,
        f"{path}: {active}",
        "systemctl --user enable --now nudge; journalctl --user -u nudge for its log",
    )
