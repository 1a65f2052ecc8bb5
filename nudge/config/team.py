"""A team: one main config the store and the daemons share, and one file per user.

The main config names a folder (`team = "~/.config/nudge/users.d"`); each
`NAME.toml` in it is one user's `[me]`, `[[sources]]`, `[tiers]`, `[digest]`,
`[[channels]]` (and `timezone`, `[touches]`, `[replies]`), in the keys and with
the checks of a personal config. What every user shares stays in the main
config only: `database_url`, `database_wait`, `[sync]` and `team` itself; a
user's file that sets one of them is refused, naming the key. A user's file
without a timezone takes the main config's. A bad file is that user's problem:
`load_team` reports it beside the others, which carry on.
"""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nudge import data_dir
from nudge.config import Settings, inline_secrets, read_toml, validate
from nudge.config import load as load_main
from nudge.errors import ConfigError, UserError

SHARED = ("database_url", "database_wait", "sync", "team")  # the main config's keys, never a user's
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
SUFFIX = ".toml"


def load(explicit: str | Path | None = None, user: str | None = None) -> Settings:
    """The main config, or with `user` the settings of that member of its team folder."""
    main = load_main(explicit)
    return load_user(main, user) if user else main


def check_name(name: str) -> str:
    """A user's name as it is: it names a file and a row, so it is kept to a safe alphabet."""
    if not NAME.fullmatch(name):
        raise UserError(
            f"{name!r} is not a user name: use up to 64 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (it names the file users.d/NAME.toml)"
        )
    return name


def folder(main: Settings) -> Path | None:
    """The team folder the main config names (relative to that config's folder), or None."""
    if not main.team:
        return None
    path = Path(main.team).expanduser()
    if not path.is_absolute() and main.file is not None:
        path = main.file.parent / path
    return path


def require_folder(main: Settings) -> Path:
    """The team folder, or a UserError saying how to name one."""
    path = folder(main)
    if path is None:
        where = main.file or "your config"
        raise UserError(
            f'no team folder: add team = "~/.config/nudge/users.d" to {where} '
            "(one NAME.toml per user; `nudge team add NAME` makes one)"
        )
    return path


def user_file(main: Settings, name: str) -> Path:
    return require_folder(main) / f"{check_name(name)}{SUFFIX}"


def names(main: Settings) -> list[str]:
    """Every user's name in the team folder, sorted; files with another name are `strays`."""
    path = folder(main)
    if path is None or not path.is_dir():
        return []
    return sorted(p.stem for p in path.glob(f"*{SUFFIX}") if NAME.fullmatch(p.stem))


def strays(main: Settings) -> list[Path]:
    """`.toml` files in the team folder that cannot be a user's (their name), editors' copies aside."""
    path = folder(main)
    if path is None or not path.is_dir():
        return []
    return sorted(
        p for p in path.glob(f"*{SUFFIX}") if not NAME.fullmatch(p.stem) and not p.name.startswith(".")
    )


def user_data(main: Settings, name: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The settings a user's file stands for: the file's keys over the main config's shared ones."""
    data: dict[str, Any] = {
        "database_url": main.database_url,
        "database_wait": main.database_wait,
        "sync": main.sync.model_dump(),
        "timezone": main.timezone,
    }
    data.update(raw)
    if not any(key in raw for key in ("channels", "smtp", "maildir")):
        # Each user's digest has a Maildir of its own, never the personal one.
        data["maildir"] = str(data_dir() / "users" / name / "Maildir")
    return data


def load_user(main: Settings, name: str) -> Settings:
    """One user's settings from their file; a ConfigError naming that file and each bad key."""
    path = user_file(main, name)
    if not path.exists():
        raise ConfigError(
            [f"no such user file (`nudge team add {name}` makes one, or see `nudge team list`)"], str(path)
        )
    raw = read_toml(path)
    shared = [key for key in SHARED if key in raw]
    if shared:
        raise ConfigError(
            [
                f"{key}: belongs in the main config {main.file or ''} (every user shares it); "
                "remove it from this file"
                for key in shared
            ],
            str(path),
        )
    settings = validate(user_data(main, name, raw), str(path))
    inline = [key for key in inline_secrets(settings) if key != "database_url"]
    if inline and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            [
                f"a password ({', '.join(inline)}) is in a file others can read: run "
                f"`chmod 600 {path}` or use password_env / password_command"
            ],
            str(path),
        )
    settings._user = name
    settings._file = path
    return settings


@dataclass(frozen=True)
class Member:
    """A user of the team folder: their settings, or why their file cannot be used."""

    name: str
    path: Path
    settings: Settings | None = None
    error: ConfigError | None = None


def load_team(main: Settings) -> list[Member]:
    """Every user of the team folder, each with their settings or their file's problem."""
    members = []
    for name in names(main):
        path = user_file(main, name)
        try:
            members.append(Member(name, path, settings=load_user(main, name)))
        except ConfigError as e:
            members.append(Member(name, path, error=e))
    for path in strays(main):
        error = ConfigError([f"{path.stem!r} is not a user name: {check_problem(path.stem)}"], str(path))
        members.append(Member(path.stem, path, error=error))
    return members


def check_problem(name: str) -> str:
    try:
        check_name(name)
    except UserError as e:
        return str(e).partition(": ")[2]
    return ""


STARTER = """\
# {name}'s nudge settings: the keys of a personal config's [me], [[sources]], [tiers],
# [digest] and [[channels]] (config.example.toml documents each). The store, [sync] and
# the database are the main config's. Passwords: password_command, password_env or a
# keyring, never inline in a file others can read.

[me]
name = ""
emails = []          # {name}'s own addresses, e.g. ["{name}@example.com"]

[digest]
time = "07:30"
daily_size = 5
# to = "{name}@example.com"

# [[sources]]
# type = "carddav"
# url = "https://dav.example.com/"
# username = "{name}"
# password_command = "pass show nudge/{name}"

# [[channels]]
# type = "smtp"
# host = "smtp.example.com"
# username = "{name}@example.com"
# password_env = "NUDGE_SMTP_{upper}"
"""


def write_starter(main: Settings, name: str) -> Path:
    """A starter file for a new user (mode 0600); an existing file is kept as it is."""
    path = user_file(main, name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        text = STARTER.format(name=name, upper=re.sub(r"[^A-Z0-9]", "_", name.upper()))
        path.touch(mode=0o600)
        path.write_text(text, encoding="utf-8")
    return path
