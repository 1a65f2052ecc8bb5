"""The manager's view of a team: `nudge team stats`, and `nudge team share-stats` for a rep to opt in.

Registered into the `team` group (`register_team`), beside `team add/list/remove`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from nudge.cli.common import State, handled, now, settings, store

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from nudge.config import Settings
    from nudge.reports.team import Member


def members(main: Settings, engine: Engine) -> tuple[list[Member], list[str]]:
    """The team's users with their settings and bound engines; and the files that cannot be read.

    With a team folder, the team is the store's users who have a file there, each read
    with it (their tiers, cadences, time zone); without one, every user of the store,
    with the main config (the personal install: user 1).
    """
    from nudge.config import team as team_config
    from nudge.reports.team import Member
    from nudge.store import owner

    files = {m.name: m for m in team_config.load_team(main)} if team_config.folder(main) else None
    out: list[Member] = []
    problems: list[str] = []
    for user in owner.users(engine):
        assert user.id is not None
        cfg = main
        if files is not None:
            found = files.get(user.name)
            if found is None:
                continue
            if found.settings is None:
                problems.append(f"{found.path}: {found.error} (skipped; `nudge doctor` says more)")
                continue
            cfg = found.settings
        out.append(Member(user.name, owner.as_owner(engine, user.id), cfg, user.stats_opt_in))
    return out, problems


@handled
def team_stats(
    weeks: Annotated[int, typer.Option(min=1, max=104, help="How many weeks back.")] = 12,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
    mail: Annotated[
        bool,
        typer.Option("--mail", help="Send the report to the main config's digest address and channels."),
    ] = False,
) -> None:
    """Each sharing rep's curious calls, referrals given, funnel, top-100 health and streak.

    Numbers only: no contact's name, address or note. A rep who does not share is only counted.
    `--mail` sends it instead of printing it (a Monday timer makes it the manager's weekly mail).
    """
    from nudge import config
    from nudge.reports import team

    main = config.load(State.config)
    engine = store(main)
    found, problems = members(main, engine)
    for line in problems:
        typer.echo(f"nudge: {line}", err=True)
    result = team.team(found, now(), weeks)
    if mail:
        from nudge.digest import team_mail

        lines = team.text(result, weeks)
        subject = f"Team stats: {len(result.reps)} sharing, last {weeks} week{'s' if weeks != 1 else ''}"
        wheres = team_mail.send(
            main, subject, "\n".join(lines) + "\n", team.as_dict(result, weeks, now()), now()
        )
        typer.echo(f"Sent the team report: {'; '.join(wheres)}")
        return
    if as_json:
        typer.echo(json.dumps(team.as_dict(result, weeks, now()), indent=2, ensure_ascii=False))
        return
    for line in team.text(result, weeks):
        typer.echo(line)


@handled
def share_stats(
    state: Annotated[Literal["on", "off"], typer.Argument(help="on: your figures appear in `team stats`.")],
) -> None:
    """Share your figures (counts and ratios, never a contact) with `nudge team stats`, or stop.

    Run it as yourself: `nudge --user NAME team share-stats on`.
    """
    from nudge import actions
    from nudge.config import team as team_config
    from nudge.errors import UserError
    from nudge.store import owner
    from nudge.store.db import atomic

    cfg = settings()  # with --user, that user's file
    name = State.user
    if not name and team_config.folder(cfg) is not None:
        raise UserError("say whose figures: `nudge --user NAME team share-stats on|off`")
    engine = store(cfg)  # bound to that user (the row is made for a new file), or user 1
    uid = owner.owner_of(engine)
    with atomic(engine) as s:
        actions.share_stats(s, uid, state == "on")
    who = name or "you"
    typer.echo(
        f"{who}: figures shared with `nudge team stats`"
        if state == "on"
        else f"{who}: figures no longer shared (`nudge team stats` only counts you)"
    )


def register_team(team: typer.Typer) -> None:
    """Add `stats` and `share-stats` to the `team` group."""
    team.command("stats")(team_stats)
    team.command("share-stats")(share_stats)


def register(app: typer.Typer, referral: typer.Typer) -> None:
    """Add `stats` and `share-stats` to `nudge team` (cli/team.py's group, registered before this)."""
    from nudge.cli.team import group

    register_team(group)
