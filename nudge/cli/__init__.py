"""The `nudge` command: parse arguments, call the service, print. Nothing else.

The commands come in groups, each a module with a `register` function, added
here in this order: `everyday` (sync, digest, log, snooze, tier, note, outcome,
referral given/received), `follow` (follow-up, follow-ups), `people` (contacts, show, undo, rm), `method`
(top100, plan, stats, referral list, replies), `data` (export, import, merge, split,
duplicates, add) and `admin` (init, run, doctor,
auth, service, demo, completion), then `team` (add, list, remove; `team_stats` adds stats and
share-stats to it). No module registers anything by
being imported. Heavy modules are imported inside the commands, so that
`nudge --help` stays fast.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from nudge import __version__
from nudge.cli import admin, data, everyday, follow, method, people, team, team_stats
from nudge.cli.common import COMPLETE_VAR, EXIT_CODES, SHELLS, State

GROUPS = (everyday, follow, people, method, data, admin, team, team_stats)


def version_cb(value: bool) -> None:
    if value:
        typer.echo(f"nudge {__version__}")
        raise typer.Exit()


def main_options(
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help="Config file (default: $NUDGE_CONFIG, then the XDG path)."),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv for debug).")
    ] = 0,
    user: Annotated[
        str | None,
        typer.Option(
            "--user", "-u", help="Run the command as this member of the team folder (users.d/NAME.toml)."
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=version_cb, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Relationship-first nudges: who to call today, and why."""
    from nudge import log

    State.config = config
    State.verbose = verbose
    State.user = user
    log.setup(verbose)


def build() -> typer.Typer:
    """The app: its global options, then each group's commands, in the order of GROUPS."""
    app = typer.Typer(
        help="Relationship-first nudges: who to call today, and why.",
        epilog=EXIT_CODES,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(main_options)
    referral = typer.Typer(help="The referral ledger: what you gave partners and what you received.")
    app.add_typer(referral, name="referral")
    for group in GROUPS:
        group.register(app, referral)
    return app


app = build()


def main() -> None:
    instruction = os.environ.get(COMPLETE_VAR, "")
    if instruction:  # the shell asks for completions: answer in the format of `nudge completion`'s script
        from typer._completion_classes import completion_init

        completion_init()
        first, _, second = instruction.partition("_")
        if first in SHELLS:  # click's spelling (bash_complete) as well as typer's (complete_bash)
            os.environ[COMPLETE_VAR] = f"{second}_{first}"
    app(prog_name="nudge")


if __name__ == "__main__":  # pragma: no cover
    main()


if __name__ == "__main__":  # pragma: no cover
    main()
