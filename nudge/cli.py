"""The `nudge` command: parse arguments, call service.py, print. Nothing else.

Heavy modules are imported inside the commands so that `nudge --help` is fast.
One module for the everyday commands, which share the error handler, the
global options and the date parsing; the method's commands are in
cli_coach.py, the daemon's in cli_service.py, undo and rm in cli_undo.py.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from nudge import __version__
from nudge.errors import NudgeError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from nudge.config import Settings
    from nudge.replies import PollReport
    from nudge.sync import Report

EXIT_CODES = (
    "Exit status: 0 when it worked, 1 when it failed (one line on stderr says why and what to do), "
    "2 for a usage error (an unknown option, a missing or impossible argument)."
)

app = typer.Typer(
    help="Relationship-first nudges: who to call today, and why.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
referral_app = typer.Typer(help="The referral ledger: what you gave partners and what you received.")
app.add_typer(referral_app, name="referral")
service_app = typer.Typer(help="The systemd user service that runs `nudge run`.")
app.add_typer(service_app, name="service")
auth_app = typer.Typer(help="Grant nudge read-only access to an online account.")
app.add_typer(auth_app, name="auth")

F = TypeVar("F", bound=Callable[..., Any])


class State:
    config: str | None = None
    verbose: int = 0


def handled(fn: F) -> F:
    """The one error handler: a NudgeError is one line on stderr and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NudgeError as e:
            from nudge.secrets import mask

            typer.echo(f"nudge: {mask(str(e))}", err=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def now() -> datetime:
    return datetime.now(UTC)


def settings() -> Settings:
    from nudge import config

    return config.load(State.config)


def store(cfg: Settings) -> Engine:
    from nudge import service

    return service.open_store(cfg)


def version_cb(value: bool) -> None:
    if value:
        typer.echo(f"nudge {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help="Config file (default: $NUDGE_CONFIG, then the XDG path)."),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv for debug).")
    ] = 0,
    version: Annotated[
        bool,
        typer.Option("--version", callback=version_cb, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Relationship-first nudges: who to call today, and why."""
    from nudge import log

    State.config = config
    State.verbose = verbose
    log.setup(verbose)


STARTER = """\
# nudge config. Every key, with its default, is documented in config.example.toml.
timezone = "{tz}"

[me]
name = ""
emails = []          # your own addresses, e.g. ["me@example.com"]
# region = "DE"      # phone numbers without +country; default: your time zone's country

[digest]
time = "07:30"
daily_size = 5
# to = "me@example.com"

# [[sources]]
# type = "files"
# name = "address-book"
# paths = ["~/contacts.vcf", "~/calendar.ics"]

# Without [smtp] the digest goes to a Maildir in the data folder.
# [smtp]
# host = "smtp.example.com"
# security = "starttls"
# username = "me@example.com"
# password_command = "pass show mail/smtp"
"""


@app.command()
@handled
def init(
    force: Annotated[bool, typer.Option(help="Overwrite an existing config.")] = False,
) -> None:
    """Write a starter config (mode 0600) and create the data folder."""
    from nudge import config

    path = Path(State.config or os.environ.get("NUDGE_CONFIG") or config.default_config_path()).expanduser()
    if path.exists() and not force:
        raise NudgeError(f"{path} exists; use --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(STARTER.format(tz=config.local_zone().key))
    os.chmod(path, 0o600)
    config.data_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
    typer.echo(f"Wrote {path}\nData folder: {config.data_dir()}\nNext: add a source, then run `nudge sync`.")


SKIPS_SHOWN = 20  # skipped objects `nudge sync` lists per source; the log has the rest


@app.command()
@handled
def sync(
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """Sync every source now and print one line per source; then read replies to the digest."""
    from nudge import service

    cfg = settings()
    engine = store(cfg)
    if not cfg.sources:
        raise NudgeError("no [[sources]] in the config: add one (see config.example.toml)")
    if sys.stdout.isatty() and not as_json:  # a bar for long first syncs; plain lines in logs and pipes
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            tasks: dict[str, Any] = {}

            def step(source: str, done: int, total: int) -> None:
                if source not in tasks:
                    tasks[source] = bar.add_task(f"sync {source}", total=total)
                bar.update(tasks[source], completed=done, total=total)

            reports = service.sync_all(
                engine, cfg, now(), progress=step, read_replies=False, shown=SKIPS_SHOWN
            )
    else:
        reports = service.sync_all(engine, cfg, now(), read_replies=False, shown=SKIPS_SHOWN)
    polled = service.poll_replies(engine, cfg, now())
    failed = not all(r.ok for r in reports) or (polled is not None and bool(polled.error))
    if as_json:
        typer.echo(json.dumps(sync_json(reports, polled, failed), indent=2, ensure_ascii=False))
        if failed:
            raise typer.Exit(1)
        return
    for r in reports:
        typer.echo(r.line())
        for sk in r.skipped[:SKIPS_SHOWN]:  # these are not logged: each skip is reported once
            typer.echo(f"  skipped {sk.href} (UID {sk.uid or '?'}): {sk.reason}")
        if len(r.skipped) > SKIPS_SHOWN:
            typer.echo(f"  ... and {len(r.skipped) - SKIPS_SHOWN} more (see the log)")
    if polled is not None:
        if polled.error:
            typer.echo(f"replies to the digest: FAILED: {polled.error}")
        else:
            typer.echo(f"replies to the digest: {polled.applied} applied, {polled.ignored} ignored")
    if failed:
        raise typer.Exit(1)


def sync_json(reports: list[Report], polled: PollReport | None, failed: bool) -> dict[str, Any]:
    """`sync --json`: per source what the text lines say, and the replies read."""
    return {
        "ok": not failed,
        "sources": [
            {
                "source": r.source,
                "ok": r.ok,
                "added": r.added,
                "changed": r.changed,
                "archived": r.archived,
                "events_removed": r.removed,
                "skipped": [{"href": k.href, "uid": k.uid, "reason": k.reason} for k in r.skipped],
                "errors": list(r.errors),
                "seconds": round(r.seconds, 3),
            }
            for r in reports
        ],
        "replies": None
        if polled is None
        else {"applied": polled.applied, "ignored": polled.ignored, "error": polled.error or None},
    }


def _entry_json(e: Any) -> dict[str, Any]:
    """`tel` is the number as the digest shows it (national at home); `tel_href` the E.164 link."""
    keys = (
        "number",
        "id",
        "name",
        "slot",
        "tier",
        "why",
        "warmth",
        "warmth_label",
        "tel",
        "tel_href",
        "email",
        "prompt",
    )
    return {k: list(getattr(e, k)) if k == "why" else getattr(e, k) for k in keys}


def plan_json(result: Any) -> dict[str, Any]:
    view = result.view
    cap = result.plan.capacity
    return {
        "date": result.day.isoformat(),
        "subject": result.subject,
        "workday": result.plan.workday,
        "calls": [_entry_json(e) for e in view.entries],
        "partners": [_entry_json(e) for e in view.partners],
        "capacity": {
            "ok": cap.ok,
            "needed_per_workday": round(cap.needed_per_workday, 2),
            "daily_size": cap.daily_size,
            "overdue": cap.overdue,
            "advice": cap.advice,
        },
        "failing_sources": list(view.failing_sources),
    }


@app.command()
@handled
def digest(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the digest; send and record nothing.")
    ] = False,
    day: Annotated[
        str | None,
        typer.Option("--date", help="Preview another day (YYYY-MM-DD); implies --dry-run."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Send even if today's digest was sent, or on a day off.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the plan as JSON (implies --dry-run).")
    ] = False,
) -> None:
    """Plan today's calls and deliver the digest (at most once a day)."""
    from nudge import service

    cfg = settings()
    engine = store(cfg)
    when = now()
    target = None
    if day:
        try:
            target = date.fromisoformat(day)
        except ValueError:
            raise NudgeError(f"--date: use YYYY-MM-DD, not {day!r}") from None
        if target != when.astimezone(cfg.tz).date():
            when = service.digest_time(cfg, target)  # that morning, as the daemon would see it
    preview = dry_run or as_json or target is not None
    if (
        not preview
        and not force
        and when.astimezone(cfg.tz).weekday() not in service.plan_rules(cfg).workdays
    ):
        typer.echo("Today is not one of digest.workdays; nothing sent (use --force to send anyway).")
        return
    # Another process sending this day (the daemon) is waited for a little, then named.
    result = service.send_digest(engine, cfg, when, day=target, force=force, dry_run=preview, wait=10.0)
    if as_json:
        typer.echo(json.dumps(plan_json(result), indent=2, ensure_ascii=False))
    elif result.state == "dry_run":
        typer.echo(result.text, nl=False)
    elif result.state == "already_sent":
        typer.echo(f"Today's digest was already sent ({result.where}); use --force to send it again.")
    elif result.state == "ambiguous":
        typer.echo(
            "Today's digest may have been sent before an interruption; not sending twice."
            " Use --force to resend."
        )
    else:
        typer.echo(f"Sent “{result.subject}” to {result.where}")


def parse_when(value: str | None, cfg: Settings) -> datetime | None:
    """`--at`: an ISO date or time, or words ('yesterday', '3 days ago'), in the user's time zone."""
    if value is None:
        return None
    from nudge.core.when import past_moment

    return past_moment(value, cfg.tz, now())


AT_HELP = (
    "When, in the past (local time): 2026-11-20, 2026-11-20T15:00, yesterday, '3 days ago', "
    "'last friday 15:00'."
)


@app.command("log")
@handled
def log_cmd(
    name: Annotated[
        str | None,
        typer.Argument(help="Who (part of the name, an email address, or #id); with --list, optional."),
    ] = None,
    note: Annotated[
        str,
        typer.Argument(help='What happened, e.g. "call: new job at Acme". A kind prefix sets --kind.'),
    ] = "",
    kind: Annotated[
        str | None,
        typer.Option(help="call, message, meeting or email (default: from the note, else call)."),
    ] = None,
    at: Annotated[str | None, typer.Option(help=AT_HELP)] = None,
    direction: Annotated[str, typer.Option(help="out (you reached out), in (they did) or both.")] = "out",
    outcome: Annotated[
        str | None, typer.Option(help="What came of it: conversation, meeting, referral or opportunity.")
    ] = None,
    list_: Annotated[
        bool,
        typer.Option(
            "--list", help="List what you entered by hand (touches, notes, referrals) with ids for `rm`."
        ),
    ] = False,
    limit: Annotated[int, typer.Option(min=1, help="With --list: how many, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="With --list: JSON for scripts.")] = False,
) -> None:
    """Log a call, message, meeting or email with an optional note and outcome (or --list them)."""
    from nudge import people
    from nudge.store.db import atomic

    if list_:
        from nudge.cli_undo import list_entries

        list_entries(name, limit, as_json)
        return
    if name is None:
        raise typer.BadParameter("give a name (or --list)", param_hint="NAME")
    cfg = settings()
    parsed_kind, text = people.split_note(note, kind or "call")
    with atomic(store(cfg)) as s:
        contact = people.find(s, name)
        touch = people.log_touch(
            s, cfg, contact, now(), kind or parsed_kind, text, parse_when(at, cfg), direction, outcome
        )
        said = f"Logged {touch.kind} with {contact.name} on {touch.at.astimezone(cfg.tz):%a %d %b %H:%M}."
    typer.echo(said)  # only once it is committed


@app.command()
@handled
def snooze(
    name: Annotated[str, typer.Argument(help="Who.")],
    duration: Annotated[
        list[str],
        typer.Argument(
            help="How long: 10d, 2w, 3m, 1y, '3 weeks', until 2027-01-15, until next friday; off to wake."
        ),
    ],
) -> None:
    """Keep someone out of the digest for a while."""
    from nudge import people
    from nudge.store.db import atomic

    cfg = settings()
    text = " ".join(duration)
    with atomic(store(cfg)) as s:
        contact = people.find(s, name)
        if text.strip().lower() in ("off", "none", "wake"):
            people.snooze(s, contact, None, now())
            said = f"{contact.name} is no longer snoozed."
        else:
            until = people.parse_duration(text, now().astimezone(cfg.tz).date())
            people.snooze(s, contact, until, now())
            said = f"{contact.name} is snoozed until {until:%a %d %b %Y}."
    typer.echo(said)


@app.command()
@handled
def tier(
    name: Annotated[str, typer.Argument(help="Who.")],
    tier_name: Annotated[
        str,
        typer.Argument(metavar="TIER", help="A configured tier (top100, partner, ...) or none."),
    ],
) -> None:
    """Put someone in a tier (this overrides the address book's category)."""
    from nudge import people
    from nudge.store.db import atomic

    cfg = settings()
    with atomic(store(cfg)) as s:
        contact = people.find(s, name)
        people.set_tier(s, cfg, contact, tier_name, now())
        said = f"{contact.name}: tier {contact.tier or 'none'}."
    typer.echo(said)


def _referral(direction: str, partner: str, note: str, counterpart: str, at: str | None) -> None:
    from nudge import people
    from nudge.store.db import atomic

    cfg = settings()
    with atomic(store(cfg)) as s:
        contact = people.find(s, partner)
        ref = people.add_referral(
            s, contact, direction, note, counterpart, parse_when(at, cfg) or now(), now=now()
        )
        verb = "to" if direction == "given" else "from"
        said = (
            f"Recorded a referral {direction} {verb} {contact.name} on {ref.at.astimezone(cfg.tz):%d %b %Y}."
        )
    typer.echo(said)


@referral_app.command("given")
@handled
def referral_given(
    partner: Annotated[str, typer.Argument(help="The partner you helped.")],
    note: Annotated[str, typer.Argument(help="What you gave, e.g. 'intro to Lee (CFO at Bolt)'.")] = "",
    counterpart: Annotated[str, typer.Option(help="Who you introduced them to.")] = "",
    at: Annotated[str | None, typer.Option(help="When (default now): " + AT_HELP)] = None,
) -> None:
    """Record an introduction or referral you gave a partner."""
    _referral("given", partner, note, counterpart, at)


@referral_app.command("received")
@handled
def referral_received(
    partner: Annotated[str, typer.Argument(help="The partner who sent it.")],
    note: Annotated[str, typer.Argument(help="What you received.")] = "",
    counterpart: Annotated[str, typer.Option(help="Who they sent your way.")] = "",
    at: Annotated[str | None, typer.Option(help="When (default now): " + AT_HELP)] = None,
) -> None:
    """Record a referral or introduction a partner gave you."""
    _referral("received", partner, note, counterpart, at)


@app.command()
@handled
def contacts(
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
    tier_name: Annotated[str | None, typer.Option("--tier", help="Only this tier.")] = None,
    archived: Annotated[bool, typer.Option("--archived", help="Include archived contacts.")] = False,
) -> None:
    """List contacts with warmth, last touch, due and tier."""
    from sqlmodel import Session

    from nudge import people

    cfg = settings()
    with Session(store(cfg)) as s:
        rows = [r for r in people.rows(s, cfg, now(), archived) if tier_name is None or r.tier == tier_name]
        ids = people.identities(s, [r.id for r in rows]) if as_json else {}
    if as_json:
        out = [
            {
                "id": r.id,
                "name": r.name,
                "tier": r.tier or None,
                "warmth": round(r.warmth, 1),
                "label": r.label,
                "last_touch_at": r.last_touch_at.isoformat() if r.last_touch_at else None,
                "due": round(r.due, 2) if r.due is not None else None,
                "standing": r.standing,
                "org": r.org or None,
                "archived": r.archived,
                "emails": ids.get(r.id, {}).get("email", []),
                "phones": ids.get(r.id, {}).get("phone", []),
            }
            for r in rows
        ]
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(rows)} contacts")
    for column in ("name", "tier", "warmth", "last touch", "due", "org"):
        table.add_column(column, justify="right" if column in ("warmth", "due") else "left")
    for r in rows:
        last = r.last_touch_at.astimezone(cfg.tz).strftime("%Y-%m-%d") if r.last_touch_at else "never"
        table.add_row(
            r.name + (" (archived)" if r.archived else ""),
            r.tier,
            f"{r.warmth:.0f} {r.label}",
            last,
            people.due_text(r.due, r.standing) if r.due is not None else "",
            r.org,
        )
    Console().print(table)


@app.command()
@handled
def show(
    name: Annotated[str, typer.Argument(help="Who.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """One contact: identities, tier and where it came from, and the timeline, newest first."""
    from sqlmodel import Session

    from nudge import people

    cfg = settings()
    with Session(store(cfg)) as s:
        info = people.detail(s, cfg, people.find(s, name, include_archived=True), now())
    if as_json:
        typer.echo(json.dumps(info, indent=2, ensure_ascii=False))
        return
    typer.echo(f"{info['name']}  (#{info['id']})")
    for key in ("org", "title", "birthday", "snoozed_until", "archived_at"):
        if info[key]:
            typer.echo(f"  {key.replace('_', ' ')}: {info[key]}")
    if info["tier"]:
        typer.echo(f"  tier: {people.tier_line(info, cfg.tz)}")
        if info["due"] is not None:
            typer.echo(f"  {people.due_text(info['due'], info['standing'])}")  # type: ignore[arg-type]
    typer.echo(f"  warmth: {info['warmth']:.0f} ({info['warmth_label']})")
    for key in ("emails", "phones"):
        if info[key]:
            typer.echo(f"  {key}: {', '.join(info[key])}")  # type: ignore[arg-type]
    for p in info["planned"]:  # type: ignore[attr-defined]
        typer.echo(f"  planned {p['at'][:16]}: {p['summary']}")
    typer.echo("  timeline, newest first (ids for `nudge rm`):")
    for event in info["timeline"]:  # type: ignore[attr-defined]
        day = datetime.fromisoformat(event["at"]).astimezone(cfg.tz)
        ref = f"  [{event['id']}]" if event["id"] else ""
        typer.echo(f"    {day:%Y-%m-%d}  {event['what']}{ref}")


@app.command()
@handled
def demo(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to put the demo data (default: a new temporary folder)."),
    ] = None,
) -> None:
    """Sync bundled sample data into a throwaway store and show a real digest."""
    from nudge import demo as demo_mod

    result = demo_mod.run(directory, now())
    typer.echo(result.text, nl=False)
    typer.echo(f"\nThe full message (text and HTML) is in the Maildir {result.maildir}\n  {result.path}")
    typer.echo(f"Try: nudge --config {result.config} contacts --tier top100")


SHELLS = ("bash", "zsh", "fish")


@app.command()
def completion(
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.")],
) -> None:
    """Print the shell completion script (see the README for where to put it)."""
    from typer._completion_classes import completion_init
    from typer.completion import shell_complete

    if shell not in SHELLS:
        raise typer.BadParameter(f"use one of {', '.join(SHELLS)}, not {shell!r}", param_hint="SHELL")
    completion_init()
    command = typer.main.get_command(app)
    raise typer.Exit(shell_complete(command, {}, "nudge", COMPLETE_VAR, f"source_{shell}"))


COMPLETE_VAR = "_NUDGE_COMPLETE"


def main() -> None:
    instruction = os.environ.get(COMPLETE_VAR, "")
    if instruction:  # the shell asks for completions: answer in the format of `nudge completion`'s script
        from typer._completion_classes import completion_init

        completion_init()
        first, _, second = instruction.partition("_")
        if first in SHELLS:  # click's spelling (bash_complete) as well as typer's (complete_bash)
            os.environ[COMPLETE_VAR] = f"{second}_{first}"
    app(prog_name="nudge")


from nudge import cli_coach, cli_service, cli_undo  # noqa: E402, F401  (they register their commands)

if __name__ == "__main__":  # pragma: no cover
    main()
