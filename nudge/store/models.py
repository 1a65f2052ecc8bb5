"""The tables. Times are UTC in the database and timezone-aware in Python.

The schema itself is created and changed only by `migrations.py`; a test checks
that these classes and the migrated schema agree.
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC; refuses naive input."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored; use UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime(), nullable=nullable, index=index)


PERSONAL = 1  # the user of a personal install: every row of a store made before users existed


class User(SQLModel, table=True):
    """One person whose contacts the store holds; a personal store has one, `PERSONAL`."""

    __tablename__ = "nudge_user"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column_kwargs={"unique": True})
    created_at: datetime | None = _ts()
    stats_opt_in: bool = False  # whether the team's stats may show this user's figures


class Owned(SQLModel):
    """A table of one user's data. Its `owner_id` (the last column, `_owner()`) is set and filtered by
    the store (store/owner.py), never by hand."""


def _owner() -> Any:
    return Field(default=None, foreign_key="nudge_user.id", nullable=False)


class Contact(Owned, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = ""
    org: str | None = None
    title: str | None = None
    birthday: str | None = None  # "YYYY-MM-DD" or "--MM-DD" when the year is unknown
    tier: str | None = Field(default=None, index=True)
    tier_source: str | None = None  # "cli" or "source:NAME"
    tier_since: datetime | None = _ts()
    cadence_days: int | None = None
    cadence_source: str | None = None  # who set cadence_days: "cli" or "source:NAME" (an address book)
    snoozed_until: date | None = None
    archived_at: datetime | None = _ts()
    created_at: datetime | None = _ts()
    last_touch_at: datetime | None = _ts()
    warmth_sum: float = 0.0
    warmth_at: datetime | None = _ts()
    owner_id: int | None = _owner()


class Identity(Owned, table=True):
    __table_args__ = (sa.UniqueConstraint("kind", "value", "owner_id"),)
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    kind: str  # email | phone
    value: str
    owner_id: int | None = _owner()


class SourceRecord(Owned, table=True):
    __table_args__ = (sa.UniqueConstraint("source", "href", "owner_id"),)
    id: int | None = Field(default=None, primary_key=True)
    source: str
    collection: str = ""
    href: str
    kind: str  # contact | group | event
    uid: str = Field(default="", index=True)
    etag: str = ""
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    org: str | None = None
    title: str | None = None
    tier: str | None = None  # the tier a contact card's CATEGORIES, or a group card's name, names
    # A contact card's other key in group MEMBER lines (`ContactRecord.alias`), "" if none.
    alias: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})
    raw: str | None = Field(default=None, sa_type=sa.Text())
    format: str = Field(default="", sa_column_kwargs={"server_default": ""})  # of `raw`: ical, google_event
    recheck_at: datetime | None = _ts(index=True)
    owner_id: int | None = _owner()


class GroupMember(Owned, table=True):
    """A card listed in a group card of the same source, by its `parse.member_key`."""

    __table_args__ = (
        sa.UniqueConstraint("source", "group_href", "member", "owner_id"),
        sa.Index("ix_groupmember_source_member", "source", "member"),
    )
    id: int | None = Field(default=None, primary_key=True)
    source: str
    group_href: str
    member: str
    owner_id: int | None = _owner()


class SyncState(Owned, table=True):
    __table_args__ = (sa.UniqueConstraint("source", "collection", "owner_id"),)
    id: int | None = Field(default=None, primary_key=True)
    source: str
    collection: str = ""
    token: str | None = None
    last_success_at: datetime | None = _ts()
    last_error: str | None = None
    last_error_at: datetime | None = _ts()
    owner_id: int | None = _owner()


class Touch(Owned, table=True):
    __table_args__ = (
        sa.UniqueConstraint("contact_id", "external_id"),
        sa.Index("ix_touch_contact_at", "contact_id", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id")
    at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    kind: str  # meeting | call | message | email
    direction: str = "out"  # out | in | both
    weight: float = 1.0
    source: str = "cli"
    external_id: str | None = Field(default=None, index=True)
    note: str | None = None
    outcome: str | None = None
    summary: str | None = None  # the event title, for "47 days since Coffee on 6 Oct"
    created_at: datetime | None = _ts()
    # The source of a calendar touch whose event went away while it carried something the
    # user added: it is theirs now (source "cli"), and comes back to the event if that returns.
    origin: str | None = None
    owner_id: int | None = _owner()

    @property
    def has_user_data(self) -> bool:
        """Whether the user added anything to it (`nudge outcome`, a note): then no sync may delete it."""
        return bool(self.note or self.outcome)


class Planned(Owned, table=True):
    __table_args__ = (sa.UniqueConstraint("contact_id", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    source: str
    event_uid: str = Field(index=True)
    external_id: str
    at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    summary: str = ""
    owner_id: int | None = _owner()


class Sighting(Owned, table=True):
    """A past meeting with an address that is not (yet) a contact's.

    Kept so that adding someone to the address book later brings their
    meeting history with them.
    """

    __table_args__ = (sa.UniqueConstraint("email", "external_id", "owner_id"),)
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(index=True)
    source: str
    event_uid: str = Field(index=True)
    external_id: str
    at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    weight: float
    direction: str
    summary: str = ""
    kind: str = Field(default="meeting", sa_column_kwargs={"server_default": "meeting"})  # meeting | email
    owner_id: int | None = _owner()


class MailAddress(Owned, table=True):
    """A contact's address as mail showed it in use: when they first wrote from it, when the user
    first wrote to it. Job changes from mail read it: a new company domain, a bounce."""

    __table_args__ = (sa.UniqueConstraint("contact_id", "address"),)
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    address: str
    first_in_at: datetime | None = _ts()
    first_out_at: datetime | None = _ts()
    owner_id: int | None = _owner()


class Moment(Owned, table=True):
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    kind: str  # job_change | birthday | inbound
    detail: str = ""
    at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    seen_at: datetime | None = _ts()
    owner_id: int | None = _owner()


class Note(Owned, table=True):
    """Something the user wants to remember about a person, without a touch."""

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    text: str
    owner_id: int | None = _owner()


class Referral(Owned, table=True):
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    direction: str  # given | received
    at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    note: str = ""
    counterpart: str = ""
    owner_id: int | None = _owner()


class Suggestion(Owned, table=True):
    __table_args__ = (sa.UniqueConstraint("digest_date", "contact_id"),)
    id: int | None = Field(default=None, primary_key=True)
    digest_date: date = Field(index=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    slot: str  # call | partner
    reason: str = ""
    prompt: str = Field(default="", sa_column_kwargs={"server_default": ""})
    acted_at: datetime | None = _ts()
    position: int | None = None  # the person's number in that digest, for replies ("done 2")
    owner_id: int | None = _owner()


class DigestRun(Owned, table=True):
    __table_args__ = (sa.UniqueConstraint("date", "owner_id"),)
    id: int | None = Field(default=None, primary_key=True)
    date: dt.date
    state: str = "planned"  # planned | sending | sent | failed
    message_id: str = ""
    attempts: int = 0
    sent_at: datetime | None = _ts()
    error: str | None = None
    updated_at: datetime | None = _ts()
    claimed_by: str | None = None  # host:pid:token of the process sending it (a store without file locks)
    claimed_until: datetime | None = _ts()  # its claim lapses then, should the process hang
    owner_id: int | None = _owner()


class Delivery(Owned, table=True):
    """One channel's delivery of one day's digest: at most one per channel and day.

    `sending` is committed before the channel sends, `sent` after it; a day whose
    channel is found `sending` after an interruption is looked into (a Maildir) or
    left alone (SMTP, webhook: it may have arrived).
    """

    __table_args__ = (sa.UniqueConstraint("date", "channel", "owner_id"),)
    id: int | None = Field(default=None, primary_key=True)
    date: dt.date = Field(index=True)
    channel: str  # the channel's name in the config
    state: str = "sending"  # sending | sent | failed
    attempts: int = 0
    error: str | None = None
    where: str = ""  # where it went, in words
    sent_at: datetime | None = _ts()
    updated_at: datetime | None = _ts()
    owner_id: int | None = _owner()


class Reply(Owned, table=True):
    """A reply to a digest, applied once: its Message-ID is the key."""

    __table_args__ = (sa.UniqueConstraint("message_id", "owner_id"),)
    id: int | None = Field(default=None, primary_key=True)
    message_id: str
    digest_date: dt.date | None = None
    received_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    state: str = "applied"  # applied | ignored (not from one of me.emails, or no digest it answers)
    applied: str = ""  # what was done, one line each
    problems: str = ""  # lines that could not be understood or applied, one each
    reported_on: dt.date | None = None  # the digest that told the user about it
    owner_id: int | None = _owner()


class UserAction(Owned, table=True):
    """One change the user made by hand (CLI or a reply to the digest), with what it replaced.

    Written in the transaction of the change itself, so `nudge undo` can take it
    back: `before` holds the previous values (snooze, tier, outcome) or the whole
    removed row (`rm`), as JSON. Actions of one command share a `batch`.
    """

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    batch: str = Field(index=True)
    via: str = "cli"  # cli | reply
    kind: str  # touch | note | referral | outcome | snooze | tier | rm
    contact_id: int = Field(foreign_key="contact.id", index=True)
    target: str = ""  # the entry it made or changed: t12 (touch), n3 (note), r5 (referral)
    before: str | None = Field(default=None, sa_type=sa.Text())
    summary: str = ""
    undone_at: datetime | None = _ts()
    owner_id: int | None = _owner()


class FollowUp(Owned, table=True):
    """A promise with a date ("send Ana the deck on Friday"): on its day the person is on the list first.

    Open while `done_at` is empty; `how` says what closed it: `cli` (`follow-up --done`), `reply`
    (a reply to the digest) or `touch` (a touch logged after it was made).
    """

    __table_args__ = (sa.Index("ix_followup_open", "done_at", "due"),)
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    due: date
    text: str = ""
    created_at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    done_at: datetime | None = _ts()
    how: str = ""  # cli | reply | touch, once done
    owner_id: int | None = _owner()


class Merge(Owned, table=True):
    """Two contacts the user said are one person (`nudge merge`), remembered so sync keeps them one.

    `contact_id` is the one kept; `absorbed` (JSON) holds what the other one was and
    brought (its row, identities, cards and moved entries), so `nudge split` and `nudge
    undo` can take it back out. `cards` ("source uid" lines) and `name` (folded) let a
    card of the other one that sync meets afresh find the kept contact.
    """

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    absorbed_id: int  # the other contact's id, free again until a split restores it
    at: datetime = Field(sa_type=UTCDateTime(), nullable=False)
    name: str = ""
    cards: str = Field(default="", sa_type=sa.Text())
    absorbed: str = Field(default="{}", sa_type=sa.Text())
    owner_id: int | None = _owner()


TABLES: list[type[SQLModel]] = [
    User,
    Contact,
    Identity,
    SourceRecord,
    GroupMember,
    SyncState,
    Touch,
    Planned,
    Sighting,
    Moment,
    Note,
    Referral,
    Suggestion,
    DigestRun,
    Delivery,
    Reply,
    UserAction,
    MailAddress,
    FollowUp,
    Merge,
]
OWNED: list[type[SQLModel]] = [model for model in TABLES if issubclass(model, Owned)]

# The column every Owned table has, on the mixin itself: the owner filter's one criterion
# (`with_loader_criteria(Owned, lambda cls: cls.owner_id == n)`) is worked out on it once.
type.__setattr__(Owned, "owner_id", sa.Column("owner_id", sa.Integer))
