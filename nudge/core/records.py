"""The plain records everything after parsing works on, and the words nudge's data is made of (pure).

A parser (nudge.parse) turns whatever a source hands over into these; ingest,
the planner and the digest only ever see them. Each record cleans its own text
fields when it is made (control characters out, line breaks in single-line
fields turned into spaces), so nothing downstream meets a stray NUL or newline.

The vocabularies are `Literal` types: the values a column or a record field
takes, and their tuples (`TOUCH_KINDS`...) for messages and checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

Kind = Literal["contacts", "events", "messages"]  # what a collection holds
TouchKind = Literal["call", "message", "meeting", "email"]
Direction = Literal["out", "in", "both"]  # out: you reached out; in: they did
Outcome = Literal["conversation", "meeting", "referral", "opportunity"]
Slot = Literal["call", "partner"]  # a tier's place in the digest: the call list, or the partner block

TOUCH_KINDS: tuple[TouchKind, ...] = get_args(TouchKind)
DIRECTIONS: tuple[Direction, ...] = get_args(Direction)
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)


# --- cleaning text fields --------------------------------------------------------------

# Control characters: C0 but tab, DEL, C1. Line breaks of any kind are the ones a
# single-line field (a name, a summary: later a mail header) turns into a space.
_BREAKS = re.compile(r"\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_SPACED_BREAKS = re.compile(r" *(?:\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029])+ *")
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
UNCLEAN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")  # a field that needs either


def clean_line(text: str) -> str:
    """A single-line text field without control characters; line breaks become spaces."""
    if _CONTROLS.search(text) or _BREAKS.search(text):
        text = _CONTROLS.sub("", _SPACED_BREAKS.sub(" ", text)).strip()
    return text


def clean_text(text: str) -> str:
    """A multi-line text field (a note): line breaks kept as \\n, other control characters dropped."""
    if _CONTROLS.search(text) or _BREAKS.search(text):
        text = _CONTROLS.sub("", _BREAKS.sub("\n", text))
    return text


def clean_fields(record: Any, lines: tuple[str, ...] = (), texts: tuple[str, ...] = ()) -> None:
    """Clean a frozen record's text fields in place (None and tuples of strings allowed)."""
    for name, clean in [*((n, clean_line) for n in lines), *((n, clean_text) for n in texts)]:
        value = getattr(record, name)
        if isinstance(value, str):
            object.__setattr__(record, name, clean(value))
        elif isinstance(value, tuple):
            object.__setattr__(record, name, tuple(c for v in value if (c := clean(v))))


# --- records ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactRecord:
    uid: str
    name: str
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    org: str | None = None
    title: str | None = None
    birthday: str | None = None  # "YYYY-MM-DD" or "--MM-DD"
    categories: tuple[str, ...] = ()
    note: str | None = None
    # Another key group cards may list this card by (`member_key` form): Apple's X-ABUID, when a
    # server gave the card a UID of its own (Radicale, on import) and Apple's groups still name it so.
    alias: str = ""
    cadence: str = ""  # the card's X-NUDGE-CADENCE (`14d`), as written: `core.cadence` reads it
    # From an export (a contacts CSV): LinkedIn profile URLs (normalised, an identity), the day the
    # user connected ("YYYY-MM-DD", a fact for the timeline, not a touch), where the row came from
    # (for moments' evidence), and whether its folded name is unique in its file (it may then merge
    # by name with a contact whose name is unique too).
    profiles: tuple[str, ...] = ()
    connected_on: str | None = None
    origin: str = ""
    name_unique: bool = False

    def __post_init__(self) -> None:
        fields = (self.uid, self.name, self.org or "", self.title or "", self.note or "", self.alias)
        if UNCLEAN.search("".join((*fields, *self.phones, *self.categories))):
            clean_fields(self, ("uid", "name", "phones", "org", "title", "categories", "alias"), ("note",))


@dataclass(frozen=True)
class GroupRecord:
    """A group card (vCard 4 KIND:group, Apple's X-ADDRESSBOOKSERVER-KIND:group): a name and members.

    `members` are the members' UIDs as `member_key` spells them; a group whose name is a
    tier's group gives its members that tier.
    """

    uid: str
    name: str
    members: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if UNCLEAN.search(self.uid + self.name):
            clean_fields(self, ("uid", "name"))


@dataclass(frozen=True)
class Attendee:
    email: str | None  # normalised; None for attendees without an address
    name: str = ""
    declined: bool = False
    person: bool = True  # False for rooms and resources (CUTYPE)

    def __post_init__(self) -> None:
        if UNCLEAN.search(self.name):
            clean_fields(self, ("name",))


@dataclass(frozen=True)
class Occurrence:
    recurrence_id: str  # its slot's UTC start in a series, "" for a one-off: with the UID, the key
    start: datetime  # aware, UTC
    summary: str = ""
    cancelled: bool = False
    organizer: str | None = None  # normalised email
    attendees: tuple[Attendee, ...] = ()

    def __post_init__(self) -> None:
        if UNCLEAN.search(self.summary):
            clean_fields(self, ("summary",))


@dataclass(frozen=True)
class EventRecord:
    uid: str
    occurrences: tuple[Occurrence, ...] = ()
    # First occurrence after the expansion window, so sync knows when to look again.
    next_after_window: datetime | None = None
    recurring: bool = False


@dataclass(frozen=True)
class MessageRecord:
    message_id: str  # without angle brackets; a digest of the headers when the message has none
    at: datetime  # aware, UTC
    sender: str | None  # normalised From address
    recipients: tuple[str, ...]  # To, Cc and (in sent copies) Bcc, normalised, unique, in order
    subject: str = ""
    refs: tuple[str, ...] = ()  # In-Reply-To, then References
    automated: str = ""  # why this is no person's message ("mailing list", ...), or ""
    bounced: tuple[str, ...] = ()  # a delivery report's (RFC 3464) recipients that failed for good
    sender_name: str = ""  # the From display name ("Ana Ruiz"), RFC 2047 decoded

    def __post_init__(self) -> None:
        if UNCLEAN.search(self.sender_name):
            clean_fields(self, ("sender_name",))


PhoneKind = Literal["call", "text"]
# What the phone's log says happened: calls answered (in), placed (out), missed, rejected,
# voicemail, blocked, answered on a linked device; texts received (in) and sent (out), and the
# drafts, outbox, failed and queued ones that never reached anybody.
PhoneEvent = Literal[
    "answered",
    "placed",
    "missed",
    "rejected",
    "voicemail",
    "blocked",
    "answered_elsewhere",
    "received",
    "sent",
    "unsent",
]
PHONE_EVENTS: tuple[PhoneEvent, ...] = get_args(PhoneEvent)


@dataclass(frozen=True)
class PhoneRecord:
    """One call or text from the phone's own log (an SMS Backup & Restore file, a call-log CSV).

    `numbers` are as the phone stored them (`0221 4710123`, `+1 415-555-0111`, `EXAMPLEBNK`):
    ingest reads them in the user's region. A group text has one per counterpart.
    """

    kind: PhoneKind
    event: PhoneEvent
    numbers: tuple[str, ...]
    at: datetime  # aware, UTC
    duration: int = 0  # seconds; calls only

    def __post_init__(self) -> None:
        if UNCLEAN.search("".join(self.numbers)):
            clean_fields(self, ("numbers",))
