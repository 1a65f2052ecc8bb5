"""The config file: one pydantic schema, every problem reported at once.

The field descriptions are the documentation: `config.example.toml` repeats
them and a test checks that it names every field.
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from nudge import config_dir, data_dir, secrets
from nudge.channels.smtp import SmtpOptions
from nudge.config.region import phone_region, region_for
from nudge.config.sections import (
    WEEKDAYS,
    ChannelConfig,
    Digest,
    Me,
    Replies,
    SourceConfig,
    Sync,
    Tier,
    Touches,
    Weights,
    _default_tiers,
    _Section,
    parse_hhmm,
)
from nudge.errors import ConfigError, problems_of

__all__ = [  # the sections, the app's folders and the phone region are read through `config` too
    "WEEKDAYS",
    "ChannelConfig",
    "Digest",
    "Me",
    "Replies",
    "SourceConfig",
    "Sync",
    "Tier",
    "Touches",
    "Weights",
    "config_dir",
    "data_dir",
    "parse_hhmm",
    "phone_region",
    "region_for",
]


def default_config_path() -> Path:
    return config_dir() / "config.toml"


class Settings(_Section):
    timezone: str = Field("", description="IANA time zone, e.g. Europe/Berlin; default: the system's.")
    database_url: str = Field(
        "",
        description="SQLAlchemy URL; default: SQLite in the XDG data dir. "
        "postgresql+psycopg://... for a shared deployment. A password in it counts as an inline "
        "password: the config must then be readable by you alone.",
    )
    database_wait: float = Field(
        60,
        gt=0,
        le=3600,
        description="Seconds a change waits for another nudge process to finish writing (a long "
        "sync) before giving up with an error.",
    )
    maildir: str = Field(
        "",
        description='The old form of a [[channels]] entry with type = "maildir": the Maildir the digest '
        "goes to when [smtp] is absent; default: Maildir in the XDG data dir.",
    )
    me: Me = Field(default_factory=Me, description="Who you are.")
    digest: Digest = Field(default_factory=Digest, description="The morning email.")
    sync: Sync = Field(default_factory=Sync, description="The daemon's sync schedule.")
    touches: Touches = Field(default_factory=Touches, description="What counts as a touch.")
    tiers: dict[str, Tier] = Field(
        default_factory=_default_tiers, description="Tiers by name, each with a cadence."
    )
    sources: list[SourceConfig] = Field(default_factory=list, description="Where data comes from.")
    channels: list[ChannelConfig] = Field(
        default_factory=list,
        description="Where the digest goes, each at most once a day; default: the Maildir.",
    )
    smtp: SmtpOptions | None = Field(
        None,
        description='The old form of a [[channels]] entry with type = "smtp"; still read.',
    )
    replies: Replies = Field(default_factory=Replies, description="Acting on the digest by replying.")
    team: str = Field(
        "",
        description="A team folder (e.g. ~/.config/nudge/users.d): one NAME.toml per user with that "
        "user's [me], [[sources]], [tiers], [digest] and [[channels]]; `nudge --user NAME` and "
        "`nudge run --team` read them. Only the main config may name it.",
    )
    _user: str = PrivateAttr("")  # the team member these settings are for; "" for the personal install
    _file: Path | None = PrivateAttr(None)  # the file they were read from (a relative `team` is beside it)

    @property
    def user(self) -> str:
        """The team member whose file these settings come from ("" for the personal install)."""
        return self._user

    @property
    def file(self) -> Path | None:
        """The file these settings were read from (None: built-in defaults)."""
        return self._file

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        if v:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError) as e:
                raise ValueError(f"unknown time zone {v!r} (use an IANA name such as Europe/Berlin)") from e
        return v

    @model_validator(mode="after")
    def _names(self) -> Settings:
        seen: set[str] = set()
        for i, src in enumerate(self.sources):
            if not src.name:
                src.name = f"{src.type}{i + 1}"
            if src.name in seen:
                raise ValueError(f"sources[{i}].name: {src.name!r} is used twice")
            seen.add(src.name)
        if self.channels and (self.smtp is not None or self.maildir):
            old = "[smtp]" if self.smtp is not None else "maildir"
            raise ValueError(f"{old}: give the digest's channels as [[channels]] only (move {old} into one)")
        counts: dict[str, int] = {}
        for ch in self.channels:
            counts[ch.type] = counts.get(ch.type, 0) + 1
        names: set[str] = set()
        for i, ch in enumerate(self.channels):
            if not ch.name:
                ch.name = ch.type if counts[ch.type] == 1 else f"{ch.type}{i + 1}"
            if ch.name in names:
                raise ValueError(f"channels[{i}].name: {ch.name!r} is used twice")
            names.add(ch.name)
        named = self.replies.source
        if named and not any(src.name == named and src.type == "imap" for src in self.sources):
            raise ValueError(f"replies.source: no imap source is named {named!r}")
        return self

    @property
    def reply_source(self) -> SourceConfig | None:
        """The imap source replies to the digest are read from, if replies are on."""
        if not self.replies.enabled:
            return None
        for src in self.sources:
            if src.type == "imap" and (
                src.name == self.replies.source if self.replies.source else src.enabled
            ):
                return src
        return None

    # Derived values the rest of the code should not recompute.
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone) if self.timezone else local_zone()

    @property
    def recipient(self) -> str:
        return self.digest.to or (self.me.emails[0] if self.me.emails else "")

    @property
    def delivery(self) -> list[ChannelConfig]:
        """The channels the digest goes to: [[channels]] (the enabled ones), else the old form:
        [smtp] (named smtp), else the Maildir (named maildir)."""
        if self.channels:
            return [ch for ch in self.channels if ch.enabled]
        if self.smtp is not None:
            return [ChannelConfig.old_form("smtp", **self.smtp.model_dump())]
        return [ChannelConfig.old_form("maildir", path=str(self.maildir_path))]

    @property
    def old_form(self) -> str:
        """How the config still says where the digest goes in the old way ("" when it does not)."""
        if self.channels:
            return ""
        if self.smtp is not None:
            return '[smtp] is the old form of a [[channels]] entry with type = "smtp"'
        if self.maildir:
            return 'maildir is the old form of a [[channels]] entry with type = "maildir"'
        return ""

    def _first_smtp(self) -> SmtpOptions | None:
        for ch in self.delivery:
            if ch.type == "smtp":
                return SmtpOptions.model_validate(ch.options)
        return None

    @property
    def sender(self) -> str:
        if self.digest.sender:
            return self.digest.sender
        smtp = self._first_smtp()
        if smtp and "@" in smtp.username:
            return smtp.username
        return self.recipient or "nudge@localhost"

    @property
    def mails(self) -> bool:
        """Whether the digest goes out by e-mail (SMTP), so that replying to it reaches an inbox."""
        return any(ch.type == "smtp" for ch in self.delivery)

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{data_dir() / 'nudge.db'}"

    @property
    def maildir_path(self) -> Path:
        """The Maildir the digest goes to: the first maildir channel's, else the old `maildir` key."""
        for ch in self.channels:
            if ch.type == "maildir" and ch.enabled and ch.options.get("path"):
                return Path(str(ch.options["path"])).expanduser()
        return Path(self.maildir).expanduser() if self.maildir else data_dir() / "Maildir"


def local_zone() -> ZoneInfo:
    """The system zone, from TZ or /etc/localtime; UTC when neither names one."""
    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        try:
            target = os.readlink("/etc/localtime")
            name = target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else ""
        except OSError:
            name = ""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def validate(data: dict[str, Any], path: str | None = None) -> Settings:
    """Validate everything, including each source's and channel's own options, and raise once."""
    from nudge import channels, sources

    try:
        settings = Settings.model_validate(data)
    except ValidationError as e:
        problems = problems_of(e)
        # Still check the sources and channels so the user sees every problem in one go.
        for key, registry in (("sources", sources), ("channels", channels)):
            for i, raw in enumerate(data.get(key) or []):
                if isinstance(raw, dict) and "type" in raw:
                    problems += registry.options_problems(raw, f"{key}[{i}]")
        raise ConfigError(problems, path) from None
    problems = []
    for i, src in enumerate(settings.sources):
        problems += sources.options_problems(src.model_dump(), f"sources[{i}]")
    for i, ch in enumerate(settings.channels):
        problems += channels.options_problems(ch.model_dump(), f"channels[{i}]")
    if problems:
        raise ConfigError(problems, path)
    return settings


def find_config(explicit: str | Path | None) -> Path | None:
    """--config, then $NUDGE_CONFIG, then the XDG path; None when none exists."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("NUDGE_CONFIG")
    if env:
        return Path(env).expanduser()
    default = default_config_path()
    return default if default.exists() else None


def load(explicit: str | Path | None = None) -> Settings:
    """Load and validate the config; built-in defaults when there is no file.

    A team member's settings (`nudge --user NAME`) are `config.team.load`'s.
    """
    path = find_config(explicit)
    return validate({}) if path is None else _load_file(path)


def read_toml(path: Path) -> dict[str, Any]:
    """A config file's tables, or a ConfigError naming the file and what is wrong with it."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(["config file not found (run `nudge init` to create one)"], str(path)) from None
    except OSError as e:
        raise ConfigError([f"cannot read: {e.strerror}"], str(path)) from None
    except UnicodeDecodeError as e:
        line = e.object[: e.start].count(b"\n") + 1
        raise ConfigError(
            [f"line {line}: not UTF-8 text (byte 0x{e.object[e.start]:02x}); save the file as UTF-8"],
            str(path),
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"not valid TOML: {e}"], str(path)) from e


def _load_file(path: Path) -> Settings:
    data = read_toml(path)
    settings = validate(data, str(path))
    refuse_exposed_secret(settings, path)
    settings._file = path
    return settings


def inline_secrets(settings: Settings) -> list[str]:
    """The keys that hold a password in the config itself (a URL's password included)."""
    keys = []
    if settings.smtp is not None and settings.smtp.password:
        keys.append("smtp.password")
    if secrets.split_url_login(settings.database_url)[1] is not None:
        keys.append("database_url")
    for i, src in enumerate(settings.sources):
        if src.options.get("password"):
            keys.append(f"sources[{i}].password")
    for i, ch in enumerate(settings.channels):
        keys += [f"channels[{i}].{k}" for k in ("password", "token") if ch.options.get(k)]
    return keys


def refuse_exposed_secret(settings: Settings, path: Path) -> None:
    """A ConfigError when `path` holds a password and others may read it."""
    inline = inline_secrets(settings)
    if inline and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            [
                f"a password ({', '.join(inline)}) is in a file others can read: run "
                f"`chmod 600 {path}` or use password_env / password_command"
            ],
            str(path),
        )
