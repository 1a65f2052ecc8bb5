"""The everyday commands: sync, the digest, logging what happened, snoozing, tiers, notes, outcomes,
referrals, looking people up, and taking back what was done by hand (undo, rm)."""

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


def list_entries(name: str | None, limit: int, as_json: bool) -> None:
    """`nudge log --list`: the hand-made entries, newest first, with the ids `nudge rm` takes."""
    from sqlmodel import Session

    from nudge import actions
    from nudge.reports import contacts as reports

    cfg = settings()
    with Session(store(cfg)) as s:
        contact_id = actions.find(s, name, include_archived=True).id if name else None
        entries = reports.hand_made(s, contact_id, limit)
    if as_json:
        out = [
            {"id": e.id, "at": e.at.isoformat(), "contact_id": e.contact_id, "name": e.name, "what": e.what}
            for e in entries
        ]
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    if not entries:
        typer.echo("Nothing entered by hand yet.")
    for e in entries:
        typer.echo(f"{e.id:>6}  {e.at.astimezone(cfg.tz):%Y-%m-%d %H:%M}  {e.what}")


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


@handled
def contacts(
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
    tier_name: Annotated[str | None, typer.Option("--tier", help="Only this tier.")] = None,
    archived: Annotated[bool, typer.Option("--archived", help="Include archived contacts.")] = False,
) -> None:
    """List contacts with warmth, last touch, due and tier."""
    from sqlmodel import Session

    from nudge.reports import contacts as reports

    cfg = settings()
    with Session(store(cfg)) as s:
        rows = [r for r in reports.rows(s, cfg, now(), archived) if tier_name is None or r.tier == tier_name]
        ids = reports.identities(s, [r.id for r in rows]) if as_json else {}
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
            reports.due_text(r.due, r.standing) if r.due is not None else "",
            r.org,
        )
    Console().print(table)


@handled
def show(
    name: Annotated[str, typer.Argument(help="Who.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """One contact: identities, tier and where it came from, and the timeline, newest first."""
    from sqlmodel import Session

    from nudge import actions
    from nudge.reports import contacts as reports

    cfg = settings()
    with Session(store(cfg)) as s:
        info = reports.detail(s, cfg, actions.find(s, name, include_archived=True), now())
    data = info.as_json()
    if as_json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    typer.echo(f"{info.name}  (#{info.id})")
    for key in ("org", "title", "birthday", "snoozed_until", "archived_at"):
        if data[key]:
            typer.echo(f"  {key.replace('_', ' ')}: {data[key]}")
    if info.tier:
        typer.echo(f"  tier: {reports.tier_line(info, cfg.tz)}")
        if info.due is not None:
            typer.echo(f"  {reports.due_text(info.due, info.standing)}")
    typer.echo(f"  warmth: {info.warmth:.0f} ({info.warmth_label})")
    for key, values in (("emails", info.emails), ("phones", info.phones)):
        if values:
            typer.echo(f"  {key}: {', '.join(values)}")
    for p in data["planned"]:
        typer.echo(f"  planned {p['at'][:16]}: {p['summary']}")
    typer.echo("  timeline, newest first (ids for `nudge rm`):")
    for event in info.timeline:
        ref = f"  [{event.id}]" if event.id else ""
        typer.echo(f"    {event.at.astimezone(cfg.tz):%Y-%m-%d}  {event.what}{ref}")


@handled
def undo() -> None:
    """Take back the last change you made by hand (a touch, note, outcome, snooze, tier, referral,
    rm, or a reply to the digest); repeat to go further back."""
    from nudge import actions
    from nudge.store.db import atomic

    cfg = settings()
    with atomic(store(cfg)) as s:
        undone = actions.undo_last(s, cfg.touches.half_life_days, now())
    via = " (from your reply to the digest)" if undone[0].via == "reply" else ""
    if len(undone) == 1:
        typer.echo(f"Undid{via}: {undone[0].summary}")
        return
    typer.echo(f"Undid {len(undone)} changes{via}:")
    for action in undone:
        typer.echo(f"  {action.summary}")


@handled
def rm(
    entry: Annotated[
        str,
        typer.Argument(metavar="ID", help="An entry id from `nudge log --list` or `nudge show`: t12, n3."),
    ],
) -> None:
    """Delete one touch, note or referral you entered by hand (`nudge undo` brings it back)."""
    from nudge import actions
    from nudge.store.db import atomic

    cfg = settings()
    with atomic(store(cfg)) as s:
        what = actions.remove(s, entry, cfg.touches.half_life_days, now())
    typer.echo(f"Removed {what}.")


def register(app: typer.Typer, referral: typer.Typer) -> None:
    """Add this group's commands to `app` (and to the shared `referral` group)."""
    app.command()(sync)
    app.command()(digest)
    app.command("log")(log_cmd)
    for command in (snooze, tier, note, outcome, contacts, show, undo, rm):
        app.command()(command)
    referral.command("given")(referral_given)
    referral.command("received")(referral_received)
