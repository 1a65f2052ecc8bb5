"""The sections of the config file, each a strict pydantic model whose field descriptions are
the documentation (`config.example.toml` repeats them; a test checks it names every field).
"""

from __future__ import annotations

import re
from datetime import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from nudge import secrets
from nudge.core.records import Slot

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


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
    lease: float = Field(
        300,
        ge=1,
        le=86400,
        description="Seconds a team daemon (`nudge run --team`) holds a user's source while it syncs "
        "it, renewed every third of that; a daemon killed or frozen longer loses the source to another.",
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
    slot: Slot = Field("call", description="`call`: the daily list; `partner`: the referral-partner block.")


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


def parse_hhmm(value: str) -> time:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", value.strip())
    if not m or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3] or 0) > 59:
        raise ValueError(f"use HH:MM (24-hour), got {value!r}")
    return time(int(m[1]), int(m[2]), int(m[3] or 0))
