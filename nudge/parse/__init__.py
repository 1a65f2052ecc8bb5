"""Whatever a source hands over -> the plain records of `core.records` (pure), by format.

One registry of formats. Each `Format` names what its objects are (contacts,
events, messages), the function that parses one object, and, for formats that
come in files, the suffixes the files source reads as it and the function that
splits such a file into objects. Adding a format is one `register` call here:
the files source, sync and ingest need no change (ingest works on records, not
formats). Parsers are imported the first time an object of their format comes.

Everything a parser can throw is turned into `ParseError(reason)`, so sync can
skip and count a bad object instead of stopping.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from nudge.core.records import ContactRecord, EventRecord, GroupRecord, Kind, MessageRecord, PhoneRecord
from nudge.parse.base import ParseError, Window, content_hash, short_reason

__all__ = [
    "FORMATS",
    "Format",
    "ParseError",
    "Record",
    "Window",
    "by_suffix",
    "content_hash",
    "parse_object",
    "register",
    "short_reason",
]

Record = ContactRecord | GroupRecord | EventRecord | MessageRecord | PhoneRecord
Parser = Callable[[str, Window], Record]
Splitter = Callable[[str], list[tuple[str, str]]]


@dataclass(frozen=True)
class Format:
    """One kind of object text: what it holds, how to parse it, how a file of it splits."""

    name: str  # what a source's Item.format says
    kind: Kind  # what its records are: contacts (and groups), events, messages
    parser: str  # "module:function" taking (text, Window), imported when first used
    suffixes: tuple[str, ...] = ()  # file suffixes (lower case) the files source reads as this format
    splitter: str = ""  # "module:function": a file's text -> [(key, object text)]; key "" = none
    looks_like: str = ""  # how its objects start, for "holds no ..." notices
    no_key: str = "no UID"  # why an object the splitter found no key for is skipped
    # "module:function": the start of a file's text -> whether it is this format. Formats that share
    # a suffix (.csv: contacts from LinkedIn or Google, a phone's call log) each recognise their own
    # files; a format without one takes its suffix's files no sniffing format claimed.
    sniff: str = ""
    # Whether the splitter also takes the file's path (CSV rows name the export they came from).
    named: bool = False

    def claims(self, head: str) -> bool:
        if not self.sniff:
            return True
        sniffer: Callable[[str], bool] = _load(self.sniff)
        return sniffer(head)

    def parse(self, data: str, window: Window) -> Record:
        parser: Parser = _load(self.parser)
        return parser(data, window)

    def split(self, text: str, path: str = "") -> list[tuple[str, str]]:
        if self.named:
            named: Callable[[str, str], list[tuple[str, str]]] = _load(self.splitter)
            return named(text, path)
        splitter: Splitter = _load(self.splitter)
        return splitter(text)


FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    """Make `fmt` known to every source and to sync; a name registered twice is a bug."""
    if fmt.name in FORMATS:
        raise ValueError(f"format {fmt.name!r} is registered twice")
    FORMATS[fmt.name] = fmt
    return fmt


register(
    Format(
        "vcard",
        "contacts",
        "nudge.parse.formats:vcard",
        (".vcf", ".vcard"),
        "nudge.parse.formats:split_vcards",
        "vCard (BEGIN:VCARD)",
        "no UID, and no name, e-mail or phone to make a key from",
    )
)
register(
    Format(
        "ical",
        "events",
        "nudge.parse.formats:ical",
        (".ics", ".ical"),
        "nudge.parse.formats:split_events",
        "iCalendar event (BEGIN:VEVENT)",
        "no UID and no DTSTART",
    )
)
# Contacts CSVs (`parse.csv_contacts`): each dialect recognises its files by their header row.
for _dialect, _label in (
    ("linkedin", "LinkedIn connections CSV"),
    ("google", "Google Contacts CSV"),
    ("outlook", "Outlook contacts CSV"),
):
    register(
        Format(
            f"{_dialect}_csv",
            "contacts",
            "nudge.parse.csv_contacts:parse_row",
            (".csv",),
            f"nudge.parse.csv_contacts:split_{_dialect}",
            _label,
            "no name, e-mail, phone or profile URL",
            sniff=f"nudge.parse.csv_contacts:is_{_dialect}",
            named=True,
        )
    )
register(Format("google_person", "contacts", "nudge.parse.formats:google_person"))
register(Format("google_event", "events", "nudge.parse.formats:google_event"))
register(Format("email", "messages", "nudge.parse.formats:email"))
# The phone's calls and texts (`parse.phone`): SMS Backup & Restore files by their root element,
# call-log CSVs by their header (other .csv files are other formats' or nobody's).
register(
    Format(
        "phone_backup",
        "messages",
        "nudge.parse.phone:parse_entry",
        (".xml",),
        "nudge.parse.phone:split_backup",
        "SMS Backup & Restore calls or messages",
        "no entry key",
        "nudge.parse.phone:sniff_backup",
    )
)
register(
    Format(
        "call_log",
        "messages",
        "nudge.parse.phone:parse_entry",
        (".csv",),
        "nudge.parse.phone:split_call_log",
        "call log (number, date, direction, duration)",
        "no entry key",
        "nudge.parse.phone:sniff_call_log",
    )
)


def by_suffix(suffix: str) -> list[Format]:
    """The formats whose files may have this suffix (`.vcf`), those that sniff first."""
    suffix = suffix.lower()
    found = [f for f in FORMATS.values() if suffix in f.suffixes]
    return sorted(found, key=lambda f: not f.sniff)


def for_file(suffix: str, head: Callable[[], str]) -> Format | None:
    """The format of a file, by its suffix and, when formats share it, by the start of its text.

    `head` is only called when a format has to look: most suffixes have one format.
    """
    formats = by_suffix(suffix)
    if len(formats) == 1 and not formats[0].sniff:
        return formats[0]
    start = head() if formats else ""
    return next((f for f in formats if f.claims(start)), None)


def parse_object(fmt: str, data: str, tz: tzinfo, window_start: datetime, window_end: datetime) -> Record:
    """Any object a source hands over, by its format; ParseError for anything unusable."""
    found = FORMATS.get(fmt)
    if found is None:
        raise ParseError(f"unknown object format {fmt!r}")
    return found.parse(data, Window(tz, window_start, window_end))


_LOADED: dict[str, Any] = {}


def _load(target: str) -> Any:
    """The function `module:name`, imported once."""
    if target not in _LOADED:
        module, _, name = target.partition(":")
        _LOADED[target] = getattr(importlib.import_module(module), name)
    return _LOADED[target]
