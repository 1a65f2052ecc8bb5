"""`nudge team`: the users of a team folder and of the store (add, list, remove).

`group` is the `nudge team` Typer, so another module may add a command to it.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from nudge.cli.common import State, handled

group = typer.Typer(help="A team in one store: users.d/NAME.toml per user (see `nudge --user`).")


@handled
def add(
    name: Annotated[str, typer.Argument(help="The user's name (lower-case; names users.d/NAME.toml).")],
) -> None:
    """Add a user: their row in the store and a starter file in the team folder (mode 0600)."""
    from nudge import config, team

    added = team.add(config.load(State.config), name)
    made = "wrote a starter" if added.new_file else "kept the existing"
    typer.echo(f"Added user {added.name} (id {added.id}); {made} {added.path}")
    typer.echo(f"Next: fill in [me] and [[sources]] there, then `nudge --user {added.name} sync`.")


@handled
def list_users(as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False) -> None:
    """Every user: id in the store, their file, and what is wrong with it."""
    from nudge import config, team

    rows = team.listing(config.load(State.config))
    if as_json:
        typer.echo(json.dumps([r.as_json() for r in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        typer.echo("No users.")
        return
    for r in rows:
        ident = f"{r.id:>4}" if r.id is not None else "   -"
        where = str(r.file) if r.file else "(no file)"
        line = f"{ident}  {r.name:<20} {where}"
        typer.echo(line + (f"\n        problem: {r.problem}" if r.problem else ""))


@handled
def remove(
    name: Annotated[str, typer.Argument(help="The user to delete, with every row they own.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete a user and all their data (contacts, touches, notes, ledger, digests); asks first."""
    from nudge import config, team

    main = config.load(State.config)
    counts = team.row_counts(main, name)
    total = sum(counts.values())
    listed = ", ".join(f"{n} {table}" for table, n in counts.items()) or "no rows"
    if not yes:
        typer.echo(f"User {name} holds {total} rows: {listed}.")
        if not typer.confirm(f"Delete user {name} and these {total} rows?", default=False):
            typer.echo("Nothing deleted.")
            raise typer.Exit(1)
    deleted, kept = team.remove(main, name)
    typer.echo(f"Deleted user {name} and {sum(deleted.values())} rows.")
    if kept is not None:
        typer.echo(f"Their file is kept as {kept}; delete it when you no longer need it.")


def register(app: typer.Typer, referral: typer.Typer) -> None:
    """Add `nudge team` and its commands to `app`."""
    app.add_typer(group, name="team")
    group.command("add")(add)
    group.command("list")(list_users)
    group.command("remove")(remove)
