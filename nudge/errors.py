"""The exceptions nudge raises on purpose.

Anything that is not a NudgeError is a bug and keeps its traceback; a UserError
is printed as one clear line and the CLI exits 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class NudgeError(Exception):
    """Base class of every error nudge raises deliberately."""


class UserError(NudgeError):
    """Something the user can fix: printed without a traceback."""


class ConfigError(UserError):
    """The config has problems; all of them are listed at once."""

    def __init__(self, problems: list[str], path: str | None = None) -> None:
        self.problems = problems
        self.path = path
        where = f" in {path}" if path else ""
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s){where}:\n{lines}")


class SourceError(NudgeError):
    """A source could not be read (unreachable, refused, bad credentials).

    Sync records it against that source and goes on with the others.
    """


class InvalidSyncToken(SourceError):
    """The server no longer accepts the stored sync token: do a full listing."""


class DeliveryError(UserError):
    """The digest could not be delivered; the day is recorded as failed."""


class DeliveryUnknown(DeliveryError):
    """The digest may or may not have arrived (a timeout after it went out): never sent again."""


class StoreError(UserError):
    """The database cannot be used as it is (locked, damaged, read-only, disk full); nothing was written."""


class Busy(UserError):
    """Another nudge process holds what this one needs (today's send, the daemon's place)."""

    def __init__(self, message: str, pid: int | None = None) -> None:
        self.pid = pid
        super().__init__(message)


class Interrupted(BaseException):
    """A stop was asked for (SIGTERM): unwinds a sync between batches, past `except Exception`.

    Each batch is its own transaction, so what was applied stays and the rest
    is picked up by the next sync.
    """


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_UNQUOTED = {  # strict types given as a quoted string
    "int_type": "write the number without quotes",
    "float_type": "write the number without quotes",
    "bool_type": "write true or false without quotes",
}


def problems_of(error: ValidationError, prefix: str = "") -> list[str]:
    """Turn pydantic's errors into `section.key: what is wrong` lines (config, sources, channels)."""
    lines = []
    for err in error.errors():
        loc = _loc(tuple(err["loc"]))
        if prefix:
            loc = f"{prefix}.{loc}" if loc else prefix
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling against config.example.toml)"
        elif err["type"] in _UNQUOTED and isinstance(err.get("input"), str):
            msg += f", not the text {err['input']!r}: {_UNQUOTED[err['type']]}"
        if msg.startswith("sources[") and ": " in msg:  # raised by a model validator
            lines.append(msg)
        else:
            lines.append(f"{loc}: {msg}" if loc else msg)
    return lines
