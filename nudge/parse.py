"""vCard and iCalendar text -> plain records (pure).

Everything a parser can throw is turned into `ParseError(reason)`, so sync can
skip and count a bad object instead of stopping.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, tzinfo
from typing import TYPE_CHECKING, Any

import icalendar
import vobject

from nudge import recurrence
from nudge.identity import normalise_email
from nudge.parse_text import (
    DERIVED,
    NO_KEY,
    UNCLEAN,
    apple_uid,
    block_uid,
    card_key,
    clean_fields,
    clean_line,
    clean_text,
    event_key,
    split_calendar,
    split_components,
    unfold_quoted_printable,
)

if TYPE_CHECKING:
    from nudge.parse_email import MessageRecord

__all__ = [  # the text-level helpers of parse_text are part of this module's interface too
    "DERIVED",
    "GROUP_KINDS",
    "MAX_OCCURRENCES",
    "MEMBERS",
    "NO_KEY",
    "Attendee",
    "ContactRecord",
    "EventRecord",
    "GroupRecord",
    "Occurrence",
    "ParseError",
    "as_utc",
    "block_uid",
    "card_key",
    "clean_line",
    "clean_text",
    "contact_from",
    "content_hash",
    "event_key",
    "is_contact_format",
    "member_key",
    "one_off_record",
    "parse_birthday",
    "parse_ical",
    "parse_object",
    "parse_vcard",
    "short_reason",
    "split_calendar",
    "split_components",
    "unfold_quoted_printable",
]

MAX_OCCURRENCES = recurrence.MAX_OCCURRENCES
# vobject logs "Skipped line" itself, beside nudge's own "skipped ... (UID ...)" line.
logging.getLogger("vobject.base").setLevel(logging.CRITICAL)


class ParseError(ValueError):
    """An object that cannot be used; `reason` says why in a few words."""

    def __init__(self, reason: str, uid: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.uid = uid


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


def content_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


# --- vCard -----------------------------------------------------------------


def _values(card: Any, name: str) -> list[Any]:
    return [line.value for line in card.contents.get(name, [])]


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(t for v in value if (t := _text(v)))
    if isinstance(value, bytes):  # ENCODING=BASE64 / b
        return value.decode("utf-8", errors="replace").strip()
    return str(value).strip()


_BDAY = re.compile(r"^(?:(\d{4})-?|--)(\d{2})-?(\d{2})")


def parse_birthday(raw: str) -> str | None:
    """`1985-03-12`, `19850312`, `--0312`, `--03-12` (time part ignored) -> canonical form."""
    m = _BDAY.match(raw.strip())
    if not m:
        return None
    year, month, day = m.group(1), int(m.group(2)), int(m.group(3))
    try:
        date(int(year) if year and int(year) > 0 else 2000, month, day)
    except ValueError:
        return None
    if year and year not in ("0000", "1604"):  # Apple writes 1604 for "no year"
        return f"{year}-{month:02d}-{day:02d}"
    return f"--{month:02d}-{day:02d}"


GROUP_KINDS = ("kind", "x-addressbookserver-kind")
MEMBERS = ("member", "x-addressbookserver-member")
_URN_UUID = "urn:uuid:"


def member_key(uid: str) -> str:
    """A card's UID as group MEMBER lines name it: `urn:uuid:` dropped, lower case (UUIDs ignore case)."""
    uid = uid.strip().lower()
    return uid[len(_URN_UUID) :] if uid.startswith(_URN_UUID) else uid


def parse_vcard(text: str) -> ContactRecord | GroupRecord:
    try:
        card = vobject.readOne(unfold_quoted_printable(text), ignoreUnreadable=True)
    except Exception as e:
        # The key the files source gave it (its href's), for a card without UID too.
        raise ParseError(f"unreadable vCard: {short_reason(e)}", block_uid(text) or card_key(text)) from e
    if card.name != "VCARD":
        raise ParseError(f"not a vCard but {card.name}")
    uid = _text(_values(card, "uid")[0]) if "uid" in card.contents else ""
    uid = clean_line(uid) or card_key(text)
    for prop in GROUP_KINDS:  # vCard 4 KIND, and Apple's / Nextcloud's 3.0 spelling
        kinds = [_text(v).lower() for v in _values(card, prop)]
        if kinds and kinds[0] == "group":
            return _group_from(card, uid)
        if kinds and kinds[0] in ("org", "location"):
            raise ParseError(f"a contact {kinds[0]} card ({prop.upper()}), not a person", uid)
    try:
        return contact_from(
            {name: [line.value for line in lines] for name, lines in card.contents.items()}, uid
        )
    except ParseError:
        raise
    except Exception as e:
        raise ParseError(f"bad vCard: {short_reason(e)}", uid) from e


def _group_from(card: Any, uid: str) -> GroupRecord:
    if not uid:
        raise ParseError("a group card without UID or name", uid)
    try:
        name = _text(_values(card, "fn")[0]) if "fn" in card.contents else ""
        members = [member_key(_text(v)) for prop in MEMBERS for v in _values(card, prop)]
    except Exception as e:
        raise ParseError(f"bad group card: {short_reason(e)}", uid) from e
    return GroupRecord(uid=uid, name=name, members=tuple(dict.fromkeys(m for m in members if m)))


def contact_from(values: Mapping[str, list[Any]], uid: str) -> ContactRecord:
    """The record of a person's card from its property values by lower-case name (vobject's values)."""

    def get(name: str) -> list[Any]:
        return values.get(name, [])

    name = clean_line(_text(get("fn")[0])) if get("fn") else ""
    if not name and get("n"):
        n = get("n")[0]
        parts = (_text(n.prefix), _text(n.given), _text(n.additional), _text(n.family))
        name = " ".join(c for p in parts if (c := clean_line(p)))
    emails = tuple(dict.fromkeys(e for v in get("email") if (e := normalise_email(_text(v)))))
    phones = tuple(dict.fromkeys(t for v in get("tel") if (t := clean_line(_text(v)))))
    if not name:
        name = emails[0] if emails else ""
    if not name:
        raise ParseError("no name and no email", uid)
    if not uid:
        raise ParseError("no UID and nothing to make a key from", uid)
    org_values = get("org")
    org = None
    if org_values:  # ORG is "Company;Department;..."; the company is the first part
        first = org_values[0]
        org = _text(first[0] if isinstance(first, list) and first else first)
    titles = get("title")
    title = _text(titles[0]) if titles else None
    bdays = get("bday")
    birthday = parse_birthday(str(bdays[0])) if bdays else None
    categories: list[str] = []
    for value in get("categories"):
        items = value if isinstance(value, list) else str(value).split(",")
        categories += [c.strip() for c in items if c.strip()]
    notes = get("note")
    abuids = [key for v in get("x-abuid") if (key := member_key(apple_uid(_text(v))))]
    return ContactRecord(
        uid=uid,
        name=name,
        emails=emails,
        phones=phones,
        org=org or None,
        title=title or None,
        birthday=birthday,
        categories=tuple(categories),
        note=_text(notes[0]) or None if notes else None,
        alias=abuids[0] if abuids and abuids[0] != member_key(uid) else "",
    )


# --- iCalendar ---------------------------------------------------------------


def as_utc(value: date | datetime, tz: tzinfo) -> datetime:
    """Aware UTC; floating times are the user's zone, all-day events count at local noon."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(12, 0))
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def _addresses(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _occurrence(event: Mapping[str, Any], tz: tzinfo) -> Occurrence:
    start = as_utc(event["DTSTART"].dt, tz)
    rid = event.get("RECURRENCE-ID")
    rid_utc = as_utc(rid.dt, tz) if rid is not None else start
    organizer = None
    if event.get("ORGANIZER") is not None:
        organizer = normalise_email(str(event["ORGANIZER"]))
    attendees = []
    for address in _addresses(event.get("ATTENDEE")):
        params = getattr(address, "params", {})
        attendees.append(
            Attendee(
                email=normalise_email(str(address)),
                name=str(params.get("CN", "")),
                declined=str(params.get("PARTSTAT", "")).upper() == "DECLINED",
                person=str(params.get("CUTYPE", "INDIVIDUAL")).upper() not in ("ROOM", "RESOURCE"),
            )
        )
    return Occurrence(
        recurrence_id=rid_utc.strftime("%Y%m%dT%H%M%SZ"),
        start=start,
        summary=str(event.get("SUMMARY", "")).strip(),
        cancelled=str(event.get("STATUS", "")).upper() == "CANCELLED",
        organizer=organizer,
        attendees=tuple(attendees),
    )


def parse_ical(text: str, tz: tzinfo, window_start: datetime, window_end: datetime) -> EventRecord:
    """One calendar object (all VEVENTs of one UID) expanded within the window."""
    try:
        cal = icalendar.Calendar.from_ical(text)
    except Exception as e:
        raise ParseError(
            f"unreadable iCalendar: {short_reason(e)}", block_uid(text) or event_key(text)
        ) from e
    events = [c for c in cal.walk("VEVENT")]
    if not events:
        raise ParseError("no VEVENT")
    uid = clean_line(str(events[0].get("UID", "")).strip()) or event_key(text)
    if not uid:
        raise ParseError("no UID and no DTSTART")
    try:
        return _expand(cal, events, uid, tz, window_start, window_end)
    except ParseError:
        raise
    except (recurrence.TooManyOccurrences, recurrence.BadRule) as e:
        raise ParseError(str(e), uid) from e
    except Exception as e:
        raise ParseError(f"bad event: {short_reason(e)}", uid) from e


def _expand(
    cal: Any, events: list[Any], uid: str, tz: tzinfo, window_start: datetime, window_end: datetime
) -> EventRecord:
    for event in events:
        if event.get("DTSTART") is None:
            raise ParseError("no DTSTART", uid)
        event["DTSTART"].dt  # noqa: B018 - raises on a malformed value
    recurring = any(e.get("RRULE") is not None or e.get("RDATE") is not None for e in events)
    if len(events) == 1 and not recurring and events[0].get("RECURRENCE-ID") is None:
        return one_off_record(events[0], uid, tz, window_start, window_end)
    inside, after = recurrence.expand(cal, tz, window_start, window_end)
    occurrences = tuple(sorted((_occurrence(e, tz) for e in inside), key=lambda o: o.start))
    return EventRecord(uid=uid, occurrences=occurrences, next_after_window=after, recurring=recurring)


def one_off_record(
    event: Mapping[str, Any], uid: str, tz: tzinfo, window_start: datetime, window_end: datetime
) -> EventRecord:
    """A one-off event without the recurrence machinery: most events, and 20x faster.

    `event` maps property names to icalendar's property values (an icalendar Event, or
    what `parse_fast` reads); ATTENDEE may be one value or a list.
    """
    occ = replace(_occurrence(event, tz), recurrence_id="")  # its key must not move when the event does
    start = event["DTSTART"].dt
    if event.get("DTEND") is not None:
        end = as_utc(event["DTEND"].dt, tz)
    elif event.get("DURATION") is not None:
        end = as_utc(start + event["DURATION"].dt, tz) if isinstance(start, datetime) else occ.start
    else:
        end = occ.start
    end = max(end, occ.start)
    found = (occ,) if window_start <= occ.start <= window_end else ()
    after = occ.start if end > window_end or occ.start > window_end else None
    return EventRecord(uid=uid, occurrences=found, next_after_window=after, recurring=False)


def short_reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:160]


# --- Dispatch by format ---------------------------------------------------------


def parse_object(
    fmt: str, data: str, tz: tzinfo, window_start: datetime, window_end: datetime
) -> ContactRecord | GroupRecord | EventRecord | MessageRecord:
    """Any object a source hands over, by its format; ParseError for anything unusable."""
    if fmt == "email":
        from nudge.parse_email import parse_message

        return parse_message(data)
    if fmt == "vcard":
        from nudge.parse_fast import fast_card  # plain cards without vobject's machinery

        return fast_card(data) or parse_vcard(data)
    if fmt == "ical":
        from nudge.parse_fast import fast_event  # plain one-off events without icalendar's

        return fast_event(data, tz, window_start, window_end) or parse_ical(
            data, tz, window_start, window_end
        )
    if fmt == "google_person":
        from nudge.parse_google import parse_person

        return parse_person(data)
    if fmt == "google_event":
        from nudge.parse_google import parse_event

        return parse_event(data, tz, window_start, window_end)
    raise ParseError(f"unknown object format {fmt!r}")


def is_contact_format(fmt: str) -> bool:
    return fmt in ("vcard", "google_person")
