"""Looking people up (contacts, show) and taking back what was done by hand (undo, rm, and the
list `log --list` prints)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from nudge.cli.common import handled, now, settings, store


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
    from nudge.reports.cadence import cadence_of
    from nudge.reports.follow_ups import open_follow_ups

    cfg = settings()
    with Session(store(cfg)) as s:
        contact = actions.find(s, name, include_archived=True)
        info = reports.detail(s, cfg, contact, now())
        cadence = cadence_of(s, cfg, contact, cfg.tz)
        promised = open_follow_ups(s, now().astimezone(cfg.tz).date(), info.id)
    data = info.as_json()
    data["cadence"] = {"days": cadence.days, "why": cadence.why}
    data["follow_ups"] = [
        {"id": f.id, "due": f.due.isoformat(), "text": f.text, "late_days": f.late_days} for f in promised
    ]
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
    if info.tier or cadence.days:
        typer.echo(f"  cadence: {cadence.why}")
    typer.echo(f"  warmth: {info.warmth:.0f} ({info.warmth_label})")
    for key, values in (("emails", info.emails), ("phones", info.phones), ("linkedin", info.profiles)):
        if values:
            typer.echo(f"  {key}: {', '.join(values)}")
    for p in data["planned"]:
        typer.echo(f"  planned {p['at'][:16]}: {p['summary']}")
    for f in promised:
        typer.echo(f"  follow-up {f.id}, {f.when}{': ' + f.text if f.text else ''}")
    typer.echo("  timeline, newest first (ids for `nudge rm`):")
    for event in info.timeline:
        ref = f"  [{event.id}]" if event.id else ""
        typer.echo(f"    {event.at.astimezone(cfg.tz):%Y-%m-%d}  {event.what}{ref}")


@handled
def undo() -> None:
    """Take back the last change you made by hand (a touch, note, outcome, snooze, tier, referral,
    rm, or a reply to the digest); repeat to go further back."""
    from nudge import undo
    from nudge.store.db import atomic

    cfg = settings()
    with atomic(store(cfg)) as s:
        undone = undo.undo_last(s, cfg.touches.half_life_days, now(), cfg)
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
    from nudge import undo
    from nudge.store.db import atomic

    cfg = settings()
    with atomic(store(cfg)) as s:
        what = undo.remove(s, entry, cfg.touches.half_life_days, now())
    typer.echo(f"Removed {what}.")


@handled
def cadence(
    name: Annotated[str, typer.Argument(help="Who.")],
    every: Annotated[
        str,
        typer.Argument(metavar="EVERY", help="How often: 14d, 2w, 3m, 1y; or default (their tier's)."),
    ],
) -> None:
    """How often to be in touch with one person, whatever their tier's cadence (undo takes it back)."""
    from nudge import actions
    from nudge.core.cadence import days_words
    from nudge.store.db import atomic

    cfg = settings()
    with atomic(store(cfg)) as s:
        contact = actions.find(s, name)
        days = actions.set_cadence(s, cfg, contact, every, now())
        tier = cfg.tiers.get(contact.tier) if contact.tier else None
        if days:
            said = f"{contact.name}: every {days_words(days)}."
        elif tier is not None:
            said = (
                f"{contact.name}: the {contact.tier} tier's cadence, every {days_words(tier.cadence_days)}."
            )
        else:
            said = f"{contact.name}: no cadence of their own."
        if days and tier is None:
            said += " They are in no tier yet: `nudge tier` puts them in one."
    typer.echo(said)


def register(app: typer.Typer, referral: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    for command in (contacts, show, undo, rm, cadence):
        app.command()(command)
