"""Follow-ups: promises with a date (`follow-up NAME WHEN [TEXT]`, `--done`), and the list of open ones."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from nudge.cli.common import handled, now, settings, store
from nudge.errors import NudgeError

WHEN_HELP = "When: fri, 2w, 10d, '12 dec', 2027-01-15, 'next monday', today."


@handled
def follow_up(
    name: Annotated[
        str, typer.Argument(help="Who (part of the name, an email address, or #id); with --done also f3.")
    ],
    when: Annotated[str | None, typer.Argument(help=WHEN_HELP)] = None,
    text: Annotated[list[str] | None, typer.Argument(help="What you promised, e.g. 'send the deck'.")] = None,
    done: Annotated[
        bool, typer.Option("--done", help="Mark it done: f3 closes that one, a name all open ones with them.")
    ] = False,
) -> None:
    """Promise to get back to someone on a day: on that day they are first on the list."""
    from nudge import actions, follow
    from nudge.store.db import atomic

    cfg = settings()
    if done:
        if when is not None:
            raise NudgeError("--done takes only NAME or a follow-up id (f3), not a day")
        with atomic(store(cfg)) as s:
            contact, closed = actions.finish_follow_up(s, name, now())
            said = "; ".join(
                f"Done: {follow.follow_up_id(f)} with {contact.name}" + (f" ({f.text})" if f.text else "")
                for f in closed
            )
        typer.echo(said + ".")
        return
    if when is None:
        raise typer.BadParameter("say when: " + WHEN_HELP, param_hint="WHEN")
    with atomic(store(cfg)) as s:
        contact = actions.find(s, name)
        row = follow.add_follow_up(s, cfg, contact, when, " ".join(text or []), now())
        what = f": {row.text}" if row.text else ""
        said = f"Follow-up {follow.follow_up_id(row)} with {contact.name} on {row.due:%a %d %b %Y}{what}."
    typer.echo(said)


@handled
def follow_ups(
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """The open follow-ups, the most overdue first."""
    from sqlmodel import Session

    from nudge.reports.follow_ups import open_follow_ups

    cfg = settings()
    with Session(store(cfg)) as s:
        rows = open_follow_ups(s, now().astimezone(cfg.tz).date())
    if as_json:
        out = [
            {
                "id": r.id,
                "contact_id": r.contact_id,
                "name": r.name,
                "due": r.due.isoformat(),
                "text": r.text,
                "late_days": max(r.late_days, 0),
                "when": r.when,
                "archived": r.archived,
            }
            for r in rows
        ]
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    if not rows:
        typer.echo('No open follow-ups. Promise one with: nudge follow-up NAME fri "send the deck"')
        return
    for r in rows:
        gone = " (archived: on no list until back in an address book)" if r.archived else ""
        typer.echo(f"{r.id:<5} {r.due:%a %d %b}  {r.name:<24} {r.when:<16} {r.text}{gone}".rstrip())
    typer.echo(f"{len(rows)} open.")


def register(app: typer.Typer, referral: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("follow-up")(follow_up)
    app.command("follow-ups")(follow_ups)
