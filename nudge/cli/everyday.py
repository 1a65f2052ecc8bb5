"""The everyday commands: sync, the digest, and what happened: log, snooze, tiers, notes,
outcomes, referrals."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nudge.cli.common import AT_HELP, handled, now, parse_when, settings, store
from nudge.core.records import OUTCOMES
from nudge.errors import NudgeError

if TYPE_CHECKING:
    from nudge.digest.replies import PollReport
    from nudge.sync import Report

SKIPS_SHOWN = 20  # skipped objects `nudge sync` lists per source; the log has the rest


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
        from nudge.digest.send import plan_json

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
    from nudge import actions
    from nudge.store.db import atomic

    if list_:
        from nudge.cli.people import list_entries

        list_entries(name, limit, as_json)
        return
    if name is None:
        raise typer.BadParameter("give a name (or --list)", param_hint="NAME")
    cfg = settings()
    parsed_kind, text = actions.split_note(note, kind or "call")
    with atomic(store(cfg)) as s:
        contact = actions.find(s, name)
        touch = actions.log_touch(
            s, cfg, contact, now(), kind or parsed_kind, text, parse_when(at, cfg), direction, outcome
        )
        said = f"Logged {touch.kind} with {contact.name} on {touch.at.astimezone(cfg.tz):%a %d %b %H:%M}."
    typer.echo(said)  # only once it is committed


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
    from nudge import actions
    from nudge.store.db import atomic

    cfg = settings()
    with atomic(store(cfg)) as s:
        contact = actions.find(s, name)
        until = actions.snooze_for(s, contact, " ".join(duration), now(), cfg.tz)
        said = (
            f"{contact.name} is snoozed until {until:%a %d %b %Y}."
            if until
            else f"{contact.name} is no longer snoozed."
        )
    typer.echo(said)


@handled
def tier(
    name: Annotated[str, typer.Argument(help="Who.")],
    tier_name: Annotated[
        str,
        typer.Argument(metavar="TIER", help="A configured tier (top100, partner, ...) or none."),
    ],
) -> None:
    """Put someone in a tier (this overrides the address book's category)."""
    from nudge import actions
    from nudge.store.db import atomic

    cfg = settings()
    with atomic(store(cfg)) as s:
        contact = actions.find(s, name)
        actions.set_tier(s, cfg, contact, tier_name, now())
        said = f"{contact.name}: tier {contact.tier or 'none'}."
    typer.echo(said)


@handled
def note(
    name: Annotated[str, typer.Argument(help="Who.")],
    text: Annotated[str, typer.Argument(help="What to remember, e.g. 'loves climbing'.")],
) -> None:
    """Add a note about someone without logging a touch."""
    from nudge import actions
    from nudge.store.db import atomic

    cfg = settings()
    if not text.strip():
        raise NudgeError("the note is empty")
    with atomic(store(cfg)) as s:
        contact = actions.find(s, name)
        actions.add_note(s, contact, text, now())
        said = f"Noted for {contact.name}."
    typer.echo(said)


@handled
def outcome(
    name: Annotated[str, typer.Argument(help="Who.")],
    kind: Annotated[str, typer.Argument(help="conversation, meeting, referral or opportunity.")],
) -> None:
    """Record what came of your latest touch with someone."""
    from nudge import actions
    from nudge.store.db import atomic

    if kind not in OUTCOMES:
        raise NudgeError(f"outcome must be one of {', '.join(OUTCOMES)}, not {kind!r}")
    cfg = settings()
    with atomic(store(cfg)) as s:
        contact = actions.find(s, name)
        touch = actions.set_outcome(s, cfg, contact, kind, now())
        when = touch.at.astimezone(cfg.tz)
        article = "an" if kind[0] in "aeiou" else "a"
        typer.echo(f"{contact.name}: the {touch.kind} on {when:%d %b} led to {article} {kind}.")


def _referral(direction: str, partner: str, note: str, counterpart: str, at: str | None) -> None:
    from nudge import actions
    from nudge.store.db import atomic

    cfg = settings()
    with atomic(store(cfg)) as s:
        contact = actions.find(s, partner)
        ref = actions.add_referral(
            s, contact, direction, note, counterpart, parse_when(at, cfg) or now(), now=now()
        )
        verb = "to" if direction == "given" else "from"
        said = (
            f"Recorded a referral {direction} {verb} {contact.name} on {ref.at.astimezone(cfg.tz):%d %b %Y}."
        )
    typer.echo(said)


@handled
def referral_given(
    partner: Annotated[str, typer.Argument(help="The partner you helped.")],
    note: Annotated[str, typer.Argument(help="What you gave, e.g. 'intro to Lee (CFO at Bolt)'.")] = "",
    counterpart: Annotated[str, typer.Option(help="Who you introduced them to.")] = "",
    at: Annotated[str | None, typer.Option(help="When (default now): " + AT_HELP)] = None,
) -> None:
    """Record an introduction or referral you gave a partner."""
    _referral("given", partner, note, counterpart, at)


@handled
def referral_received(
    partner: Annotated[str, typer.Argument(help="The partner who sent it.")],
    note: Annotated[str, typer.Argument(help="What you received.")] = "",
    counterpart: Annotated[str, typer.Option(help="Who they sent your way.")] = "",
    at: Annotated[str | None, typer.Option(help="When (default now): " + AT_HELP)] = None,
) -> None:
    """Record a referral or introduction a partner gave you."""
    _referral("received", partner, note, counterpart, at)


def register(app: typer.Typer, referral: typer.Typer) -> None:
    """Add this group's commands to `app` (and to the shared `referral` group)."""
    app.command()(sync)
    app.command()(digest)
    app.command("log")(log_cmd)
    for command in (snooze, tier, note, outcome):
        app.command()(command)
    referral.command("given")(referral_given)
    referral.command("received")(referral_received)
