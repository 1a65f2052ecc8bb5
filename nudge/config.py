"""The config file: one pydantic schema, every problem reported at once.

The field descriptions are the documentation: `config.example.toml` repeats
them and a test checks that it names every field.
"""

from __future__ import annotations

import functools
import os
import re
import stat
import tomllib
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from nudge import config_dir, data_dir, secrets
from nudge.channels.smtp import SmtpOptions
from nudge.errors import ConfigError, problems_of

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
__all__ = ["config_dir", "data_dir"]  # the app's folders live in the package root; read here too


def default_config_path() -> Path:
    return config_dir() / "config.toml"


class _Section(BaseModel):
    # Strict: `port = "25"` or `enabled = "yes"` is a mistake to report, not to guess at.
    model_config = ConfigDict(extra="forbid", validate_default=True, strict=True)


class Me(_Section):
    name: str = Field("", description="Your name, used to sign the digest.")
    emails: list[str] = Field(
        default_factory=list,
        description="Your own addresses: never contacts, and how nudge knows you in calendars.",
    )
    region: str = Field(
        "",
        description="Default phone region (ISO 3166 code) for numbers without a country code; "
        "default: the country of `timezone`, else of the locale. Numbers that do not parse are "
        "kept as typed.",
    )

    @field_validator("region")
    @classmethod
    def _region(cls, v: str) -> str:
        if v and not re.fullmatch(r"[A-Za-z]{2}", v):
            raise ValueError("must be a two-letter country code such as US or DE")
        return v.upper()

    @field_validator("emails")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        bad = [e for e in v if "@" not in e]
        if bad:
            raise ValueError(f"not an email address: {', '.join(bad)}")
        return v


class Digest(_Section):
    time: str = Field("07:30", description="Local time (HH:MM, or HH:MM:SS) the daemon sends the digest.")
    workdays: list[str] = Field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"],
        description="Days with a digest: mon tue wed thu fri sat sun.",
    )
    daily_size: int = Field(5, ge=1, le=50, description="People to call per digest.")
    partner_count: int = Field(1, ge=0, le=10, description="Referral partners to follow up per digest.")
    to: str = Field("", description="Recipient address; defaults to the first of me.emails.")
    sender: str = Field("", description="From address; defaults to smtp.username, then to `to`.")
    cooldown_workdays: int = Field(
        3,
        ge=0,
        le=20,
        description="Workdays a suggestion that was not acted on rests before it can return.",
    )
    cutoff: str = Field(
        "12:00",
        description="Local time after which a missed morning digest is no longer caught up.",
    )
    retry_delay: float = Field(
        60,
        ge=1,
        le=3600,
        description="Seconds before the daemon retries a failed send; doubles each time, "
        "at most 15 minutes, until the cutoff.",
    )
    templates_dir: str = Field(
        "",
        description="Folder with digest.txt.j2 / digest.html.j2 overrides; "
        "default: the templates folder next to the config file.",
    )

    @field_validator("time", "cutoff")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        parse_hhmm(v)
        return v

    @field_validator("workdays")
    @classmethod
    def _days(cls, v: list[str]) -> list[str]:
        days = [d.strip().lower()[:3] for d in v]
        bad = [d for d, raw in zip(days, v, strict=True) if d not in WEEKDAYS or not raw]
        if bad or not days:
            raise ValueError(f"use day names from {' '.join(WEEKDAYS)}; got {v}")
        return days


class Sync(_Section):
    interval: float = Field(
        30, gt=0, le=1440, description="Minutes between syncs while the daemon runs (and one at start)."
    )


class Weights(_Section):
    meeting: float = Field(1.0, ge=0, le=10, description="Weight of a meeting touch.")
    call: float = Field(0.8, ge=0, le=10, description="Weight of a call.")
    message: float = Field(0.4, ge=0, le=10, description="Weight of a message (chat, SMS).")
    email: float = Field(0.3, ge=0, le=10, description="Weight of an email.")


class Touches(_Section):
    half_life_days: float = Field(
        90, gt=0, le=3650, description="Days after which a touch counts half toward warmth."
    )
    max_attendees: int = Field(
        8, ge=1, description="Events with more other attendees than this are no touch."
    )
    max_recipients: int = Field(
        8, ge=1, description="Emails to or among more other people than this are no touch."
    )
    unanswered_days: int = Field(
        3,
        ge=1,
        le=60,
        description="An email from someone in a tier with no reply (call, meeting, email) after "
        "this many days is a moment that puts them on the list.",
    )
    history_days: int = Field(
        730, ge=30, le=3650, description="How far back calendar events and emails become touches."
    )
    planned_days: int = Field(
        14, ge=1, le=60, description="How far ahead calendar events count as planned meetings."
    )
    weights: Weights = Field(default_factory=Weights, description="Touch kinds and weights.")


class Tier(_Section):
    cadence_days: int = Field(30, ge=1, le=3650, description="Days between calls.")
    groups: list[str] = Field(
        default_factory=list,
        description="Address-book groups / CATEGORIES / Google labels that put a contact "
        "in this tier (case-insensitive).",
    )
    slot: Literal["call", "partner"] = Field(
        "call", description="`call`: the daily list; `partner`: the referral-partner block."
    )


def _default_tiers() -> dict[str, Tier]:
    return {
        "top100": Tier(cadence_days=30, groups=["top100", "top 100"], slot="call"),
        "partner": Tier(cadence_days=21, groups=["partner", "referral partner"], slot="partner"),
    }


class Replies(_Section):
    enabled: bool = Field(
        True,
        description="Apply commands from your replies to the digest (`done 1 3`, `snooze 4 2w`); "
        "needs an imap source to read them from.",
    )
    source: str = Field(
        "",
        description="Name of the imap source whose INBOX receives your replies; default: the first "
        "enabled imap source. It may be a source with enabled = false, read only for replies.",
    )
    interval: float = Field(
        5, gt=0, le=1440, description="Minutes between looks for new replies while the daemon runs."
    )


class SourceConfig(BaseModel):
    """One entry of [[sources]]; each type validates its own options."""

    model_config = ConfigDict(extra="allow", strict=True)
    type: str = Field(
        description="files, carddav, caldav, google_contacts, google_calendar, imap, gmail "
        "(and memory, for tests)."
    )
    name: str = Field("", description="A short unique name; defaults to type and position.")
    enabled: bool = Field(True, description="Set false to keep the entry but skip it.")

    @model_validator(mode="after")
    def _url_login(self) -> SourceConfig:
        """`url = "https://user:pw@host/"`: the login moves to username/password, the URL keeps
        only the address, so no message that names the URL can show the password."""
        extra = self.model_extra or {}
        url = extra.get("url")
        if not isinstance(url, str):
            return self
        user, password, bare = secrets.split_url_login(url)
        if password is None and not user:
            return self
        if user and extra.get("username", user) != user:
            raise ValueError(f"url: names the user {user!r} but username is {extra['username']!r}")
        extra["url"] = bare
        if user:
            extra["username"] = user
        if password is not None:
            if extra.get("password", password) != password:
                raise ValueError("url: holds a password and so does password; give it once")
            extra["password"] = password
        return self

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ChannelConfig(BaseModel):
    """One entry of [[channels]]: where the digest goes; each type validates its own options."""

    model_config = ConfigDict(extra="allow", strict=True)
    type: str = Field(description="smtp, maildir or webhook.")
    name: str = Field("", description="A short unique name; defaults to the type (and position).")
    enabled: bool = Field(True, description="Set false to keep the entry but send nothing there.")
    _where: str = PrivateAttr("")  # the old form's section (smtp, maildir), for messages

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    @property
    def where(self) -> str:
        """How the config names this channel in messages: `channels.NAME`, or the old section."""
        return self._where or f"channels.{self.name}"

    @classmethod
    def old_form(cls, section: str, **options: Any) -> ChannelConfig:
        entry = cls(type=section, name=section, **options)
        entry._where = section
        return entry


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


def parse_hhmm(value: str) -> time:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", value.strip())
    if not m or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3] or 0) > 59:
        raise ValueError(f"use HH:MM (24-hour), got {value!r}")
    return time(int(m[1]), int(m[2]), int(m[3] or 0))


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
    """Load and validate the config; built-in defaults when there is no file."""
    path = find_config(explicit)
    if path is None:
        return validate({})
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
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"not valid TOML: {e}"], str(path)) from e
    settings = validate(data, str(path))
    _refuse_exposed_secret(settings, path)
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


def _refuse_exposed_secret(settings: Settings, path: Path) -> None:
    inline = inline_secrets(settings)
    if inline and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            [
                f"a password ({', '.join(inline)}) is in a file others can read: run "
                f"`chmod 600 {path}` or use password_env / password_command"
            ],
            str(path),
        )


# --- the phone region -------------------------------------------------------------


@functools.cache
def _zone_countries() -> dict[str, str]:
    """IANA zone name -> ISO 3166 country, from tzdata's zone.tab; links (US/Eastern) follow their zone."""
    folder = resources.files("tzdata").joinpath("zoneinfo")
    countries: dict[str, str] = {}
    for line in folder.joinpath("zone.tab").read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if not line.startswith("#") and len(fields) >= 3:
            countries[fields[2]] = fields[0]
    for line in folder.joinpath("tzdata.zi").read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0] == "L" and fields[1] in countries:
            countries.setdefault(fields[2], countries[fields[1]])
    return countries


def _known(region: str) -> bool:
    return phonenumbers.country_code_for_region(region) != 0


def region_for(zone: str, locale: str = "") -> str:
    """The phone region of a time zone (Europe/Berlin: DE), else of a locale (de_AT.UTF-8: AT), else ""."""
    country = _zone_countries().get(zone, "")
    if country and _known(country):
        return country
    m = re.match(r"[a-z]{2,3}_([A-Z]{2})\b", locale)
    if m and _known(m.group(1)):
        return m.group(1)
    return ""


def phone_region(configured: str, zone: str) -> str:
    """`me.region` if set, else the region of `zone`, else of the locale ($LC_ALL, $LC_TELEPHONE, $LANG).

    "" means none: only numbers written with +country are understood; the others are kept as typed.
    """
    if configured:
        return configured
    locale = next((v for k in ("LC_ALL", "LC_TELEPHONE", "LANG") if (v := os.environ.get(k, ""))), "")
    return region_for(zone, locale)
