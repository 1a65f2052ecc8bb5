"""The one contract every source implements; sync sees nothing else.

A source is a set of collections (address books, calendars, files). Each
collection lists its objects as `href -> etag`; the etag changes whenever the
object does. Sync compares that listing with what it stored last time, fetches
only what is new or changed, and treats what is gone as deleted.

Errors: anything that stops a source or collection from being read is raised
as `SourceError` with a message that names what failed (URL, path, status).
`InvalidSyncToken` from `changes()` makes sync fall back to a full `list()`.
A single unreadable object is not an error: `fetch()` yields a `BadItem`.

Mail folders are collections of kind "messages". Their items have format
"email" and carry the message's header block only (RFC 5322 fields, never a
body). Messages do not change, so their sources report new ones through
`changes()` with `complete=False`; sync keeps no per-message record and
deduplicates touches by Message-ID, so a full re-scan (a new UIDVALIDITY, an
expired history id) is harmless.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nudge.core.records import Kind
from nudge.errors import SourceError, UserError

__all__ = [
    "BadItem",
    "Changes",
    "Collection",
    "Format",
    "Item",
    "Kind",
    "Notice",
    "PasswordOptions",
    "Source",
    "SourceOptions",
]

Format = str  # a format registered in `nudge.parse` (vcard, ical, google_person, google_event, email)


class SourceOptions(BaseModel):
    """Base of each source type's options: unknown keys and wrong types (`timeout = "30"`) are errors."""

    model_config = ConfigDict(extra="forbid", strict=True)


class PasswordOptions(SourceOptions):
    """The login secret of a network source: at most one way to get it, never inline if avoidable."""

    username: str = Field("", description="Login name.")
    password: str = Field(
        "", description="Inline password: discouraged, refused when the config is readable by others."
    )
    password_env: str = Field("", description="Environment variable holding the password.")
    password_command: str = Field("", description="Shell command that prints the password.")
    keyring_service: str = Field(
        "", description="Read the password from the system keyring under this service name."
    )
    keyring_username: str = Field("", description="Keyring entry's user name; default: username.")

    @property
    def secret_keys(self) -> list[str]:
        """The ways to the password that are set."""
        names = ("password", "password_env", "password_command", "keyring_service")
        return [n for n in names if getattr(self, n)]

    @model_validator(mode="after")
    def _one_secret(self) -> Self:
        if len(self.secret_keys) > 1:
            raise ValueError(f"give only one of {', '.join(self.secret_keys)}")
        return self

    def resolve_password(self, where: str) -> str | None:
        """The password, or None when none is configured; SourceError naming the key that failed."""
        from nudge import secrets

        try:
            return secrets.resolve(
                where,
                inline=self.password,
                env=self.password_env,
                command=self.password_command,
                keyring_service=self.keyring_service,
                keyring_username=self.keyring_username or self.username,
            )
        except UserError as e:
            raise SourceError(str(e)) from e


@dataclass(frozen=True)
class Collection:
    id: str  # stable within the source: a URL, a path
    kind: Kind
    name: str = ""


@dataclass(frozen=True)
class Item:
    href: str  # unique within the source
    etag: str
    format: Format
    data: str


@dataclass(frozen=True)
class BadItem:
    href: str
    reason: str
    uid: str = ""


@dataclass(frozen=True)
class Notice:
    """Something the user should hear about that is not an error (a path that holds nothing)."""

    text: str
    problem: bool = True  # likely a mistake (`nudge doctor` fails on it); False: worth knowing only


@dataclass
class Changes:
    """What changed since a sync token.

    `changed` maps new or modified hrefs to etags. When `complete` is true it is
    the whole listing instead, and every stored href not in it is gone.
    `token` is stored by sync only after the changes are committed.
    """

    changed: dict[str, str]
    deleted: set[str] = field(default_factory=set)
    token: str | None = None
    complete: bool = False


class Source(ABC):
    """Subclasses set `type_name` and `options_model`, and implement the three methods."""

    type_name: ClassVar[str]
    options_model: ClassVar[type[SourceOptions]]

    def __init__(self, name: str, options: SourceOptions) -> None:
        self.name = name
        self.options = options

    @abstractmethod
    def collections(self) -> list[Collection]:
        """The collections to read. Raises SourceError."""

    @abstractmethod
    def list(self, collection: Collection) -> dict[str, str]:
        """Every object of the collection as href -> etag. Raises SourceError."""

    def changes(self, collection: Collection, token: str | None) -> Changes:
        """Changes since `token` (None: everything).

        The default is a full listing; sources with sync tokens override it.
        Raises SourceError, or InvalidSyncToken when the token is refused.
        """
        return Changes(changed=self.list(collection), complete=True)

    @abstractmethod
    def fetch(self, collection: Collection, hrefs: Iterable[str]) -> Iterator[Item | BadItem]:
        """The objects for `hrefs` (any order; missing ones are skipped). Raises SourceError."""

    def notices(self) -> Sequence[Notice]:
        """What is worth a word after `collections()` and the listings: sync puts it in its summary,
        `nudge doctor` shows it. Reads nothing from the network."""
        return []

    def close(self) -> None:
        """Release connections; called once after a sync."""
