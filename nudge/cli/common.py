"""What every command shares: the error handler, the global options' state, the clock, the
config and the store, and dates as people type them.

Heavy modules are imported inside the functions so that `nudge --help` stays fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from nudge.errors import NudgeError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from nudge.config import Settings


EXIT_CODES = (
    "Exit status: 0 when it worked, 1 when it failed (one line on stderr says why and what to do), "
    "2 for a usage error (an unknown option, a missing or impossible argument)."
)

F = TypeVar("F", bound=Callable[..., Any])


class State:
    config: str | None = None
    verbose: int = 0
    user: str | None = None  # `--user NAME`: a member of the team folder


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
    from nudge.config import team

    return team.load(State.config, State.user)


def store(cfg: Settings) -> Engine:
    from nudge import service

    return service.open_store(cfg)


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


SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_NUDGE_COMPLETE"  # the variable a shell sets to ask for completions
