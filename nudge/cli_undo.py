"""`nudge undo`, `nudge rm ID` and `nudge log --list`: taking back what was done by hand.
Registered on the app in cli.py; the journal itself is journal.py.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from nudge.cli import app, handled, now, settings, store


def list_entries(name: str | None, limit: int, as_json: bool) -> None:
    """`nudge log --list`: the hand-made entries, newest first, with the ids `nudge rm` takes."""
    from sqlmodel import Session

    from nudge import journal, people

    cfg = settings()
    with Session(store(cfg)) as s:
        contact_id = people.find(s, name, include_archived=True).id if name else None
        entries = journal.hand_made(s, contact_id, limit)
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


@app.command()
@handled
def undo() -> None:
    """Take back the last change you made by hand (a touch, note, outcome, snooze, tier, referral,
    rm, or a reply to the digest); repeat to go further back."""
    from nudge import journal
    from nudge.store.db import atomic

    cfg = settings()
    with atomic(store(cfg)) as s:
        actions = journal.undo_last(s, cfg.touches.half_life_days, now())
    via = " (from your reply to the digest)" if actions[0].via == "reply" else ""
    if len(actions) == 1:
        typer.echo(f"Undid{via}: {actions[0].summary}")
        return
    typer.echo(f"Undid {len(actions)} changes{via}:")
    for action in actions:
        typer.echo(f"  {action.summary}")


@app.command()
@handled
def rm(
    entry: Annotated[
        str,
        typer.Argument(metavar="ID", help="An entry id from `nudge log --list` or `nudge show`: t12, n3."),
    ],
) -> None:
    """Delete one touch, note or referral you entered by hand (`nudge undo` brings it back)."""
    from nudge import journal
    from nudge.store.db import atomic

    cfg = settings()
    with atomic(store(cfg)) as s:
        what = journal.remove(s, entry, cfg.touches.half_life_days, now())
    typer.echo(f"Removed {what}.")
