"""Fast paths for the plain objects a first sync is mostly made of (pure).

A full parse with icalendar or vobject costs about 0.35 ms per object, which at
25,000 objects is most of a first sync, and nearly all of that is their generic
content-line machinery. Most objects servers hand over are plain: one VEVENT in
UTC, floating or all-day time with a few attendees; one vCard 3.0/4.0 with a
name, addresses, phones, ORG and TITLE. For those, this module splits the
content lines itself and builds the record with the same code and the same
value types as the library path (`parse.ical.one_off_record`, `parse.vcard.contact_from`,
icalendar's property types). Everything else returns None and the library
decides: quoted-printable, unknown time zones, unusual recurrence (plain series go to
`parse.fast_series`),
more than one VEVENT, a property or parameter whose handling is not plainly the
identity. A hypothesis test checks that wherever a fast path answers, it
answers exactly what the library path does.
"""

from __future__ import annotations

import binascii
import codecs
import re
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Any

import icalendar
from icalendar.parser import Contentline
from icalendar.prop import vDDDTypes
from vobject.icalendar import stringToTextValues
from vobject.vcard import NAME_ORDER, Name, splitFields

from nudge.core.records import ContactRecord, EventRecord
from nudge.parse.fast_series import SERIES, Decline, series_record
from nudge.parse.fast_series import kind as value_kind
from nudge.parse.ical import one_off_record
from nudge.parse.text import card_key
from nudge.parse.vcard import contact_from
from nudge.parse.zones import drop_known_timezones, known_zone

_NAME_AT = re.compile(r"([A-Za-z0-9-]+)[;:]")  # a token followed by the first ';' or ':'
# One content line: name, parameters with one plain or quoted value each, value.
_LINE = re.compile(r'([A-Za-z0-9-]+)((?:;[A-Za-z0-9-]+=(?:"[^"^\\]*"|[^";:,^\\]*))*):(.*)', re.DOTALL)
_PARAM = re.compile(r';([A-Za-z0-9-]+)=("[^"^\\]*"|[^";:,^\\]*)')
# vCard parameters may list values (TYPE=INTERNET,WORK); nudge reads none of them.
_CARD_PARAM = r'(?:"[^"]*"|[^";:,]*)'
_CARD_LINE = re.compile(
    rf"([A-Za-z0-9-]+)((?:;[A-Za-z0-9-]+={_CARD_PARAM}(?:,{_CARD_PARAM})*)*):(.*)", re.DOTALL
)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

# --- iCalendar ---------------------------------------------------------------------

# icalendar's own unfolding and line splitting (icalendar.parser.content_line)
_UNFOLD = re.compile(r"(?:(?<!\n)\r\n|(?<![\r\n])\n)(?:\r?\n)*[ \t]")
_NEWLINE = re.compile(r"\r?\n")
_TYPES = icalendar.Event.types_factory
_PARSE_TIME: Any = vDDDTypes.from_ical  # untyped in icalendar

_READ = frozenset({"UID", "DTSTART", "DTEND", "DURATION", "SUMMARY", "ORGANIZER", "ATTENDEE", "STATUS"})
# Series with RRULE, EXDATE and RECURRENCE-ID take `parse.fast_series`; these take the library path.
_REFUSED = frozenset({"RDATE", "EXRULE"})
_Decline = Decline  # not plain enough: the library path decides


def _strict(line: str, escapes: bool = False) -> tuple[str, dict[str, str], str]:
    """(NAME, PARAMETERS, value) of a line the library reads the same way, or _Decline.

    With `escapes`, the value may hold backslash escapes (the caller decodes them).
    """
    m = _LINE.fullmatch(line)
    if m is None or ("\\" in m.group(3) and not escapes) or _CONTROL.search(line):
        raise _Decline
    params: dict[str, str] = {}
    for key, value in _PARAM.findall(m.group(2)):
        if key.upper() in params:
            raise _Decline
        params[key.upper()] = value[1:-1] if value.startswith('"') else value
    return m.group(1).upper(), params, m.group(3)


def _check(name: str, params: dict[str, str], raw: str) -> None:
    """Decline a value icalendar's type for `name` refuses (it raises outside VEVENT)."""
    factory: Any = _TYPES.for_property(name, params.get("VALUE"))
    try:
        factory.from_ical(raw)
    except (ValueError, TypeError) as e:
        raise _Decline from e


_PLAIN_NEST = frozenset(f"{b}:{c}" for b in ("BEGIN", "END") for c in ("VEVENT", "VALARM"))


@lru_cache(maxsize=256)
def _calendar_line(line: str) -> None:
    """`_check` of a VCALENDAR property line: the same few (VERSION, PRODID, METHOD) in every object."""
    _check(*_strict(line))


class _Time:
    """DTSTART / DTEND as the record code reads icalendar's: `.dt` (in its TZID's zone, if named)."""

    __slots__ = ("dt",)

    def __init__(self, raw: str, tzid: str | None = None) -> None:
        try:
            self.dt = _PARSE_TIME(raw, tzid) if tzid else _PARSE_TIME(raw)
        except (ValueError, TypeError) as e:
            raise _Decline from e


def _text(line: str) -> Any:
    """A TEXT property with backslash escapes, decoded by icalendar's own steps for it."""
    content = Contentline(line)  # type: ignore[no-untyped-call]
    _, params, value = content.parts()
    factory: Any = _TYPES.for_property(_name_of(line), params.value)
    from_line = getattr(factory, "get_value_from_content_line", None)
    if from_line is not None:
        value = from_line(content)
    try:
        return factory(factory.from_ical(value))
    except (ValueError, TypeError) as e:
        raise _Decline from e


class _Address(str):
    """ATTENDEE / ORGANIZER as icalendar's vCalAddress: the value, with `.params`."""

    __slots__ = ("params",)
    params: dict[str, str]


def fast_event(text: str, tz: tzinfo, window_start: datetime, window_end: datetime) -> EventRecord | None:
    """The record `parse.parse_ical` would give for a plain one-off event, or None."""
    try:
        return _event(text, tz, window_start, window_end)
    except _Decline:
        return None


def _event(text: str, tz: tzinfo, window_start: datetime, window_end: datetime) -> EventRecord:
    text = drop_known_timezones(text)  # as the library path does; a zone it keeps is declined below
    lines = [line for line in _unfolded(text) if line]
    if len(lines) < 2 or lines[0] != "BEGIN:VCALENDAR" or lines[-1] != "END:VCALENDAR":
        raise _Decline
    events: list[dict[str, Any]] = []
    where = ["VCALENDAR"]  # then VEVENT, VALARM
    calendar_names: list[str] = []
    for line in lines[1:-1]:
        if line in _PLAIN_NEST:  # what `_strict` makes of these lines
            name, raw = line.split(":")
            where = _nest(where, name, {}, raw)
            if name == "BEGIN" and raw == "VEVENT":
                events.append({})
            continue
        name = _name_of(line)
        if name in ("BEGIN", "END"):
            where = _nest(where, *_strict(line))
            if name == "BEGIN" and where[-1] == "VEVENT":
                events.append({})
        elif where[-1] == "VEVENT":
            _event_line(events[-1], name, line)
        elif where[-1] == "VCALENDAR":  # the library raises on a bad value there
            calendar_names.append(name)
            _calendar_line(line)
        # VALARM lines: neither path reads them (`parse.ical.trim` cuts them)
    if where != ["VCALENDAR"] or not events or any("DTSTART" not in e for e in events):
        raise _Decline
    if calendar_names.count("CALSCALE") > 1 and (len(events) > 1 or "RRULE" in events[0]):
        raise _Decline  # a series under two CALSCALEs: recurring-ical-events refuses the calendar
    uid = str(events[0].get("UID", "")).strip()
    if not uid:
        raise _Decline
    for event in events:
        event["DTSTART"].dt  # noqa: B018 - the library's check, before the one-off path
    sequences = [e.pop("_SEQUENCE", []) for e in events]
    try:
        if len(events) == 1 and not SERIES & events[0].keys():
            return one_off_record(events[0], uid, tz, window_start, window_end)
        for event, lines_of in zip(events, sequences, strict=True):
            for line in lines_of:
                _series_line(event, *_strict(line))
        return series_record(events, uid, tz, window_start, window_end)
    except _Decline:
        raise
    except Exception as e:  # the library path then says what is wrong
        raise _Decline from e


def _unfolded(text: str) -> list[str]:
    """icalendar's unfolding and line splitting; by plain string operations when every break is CRLF.

    Then the two are the same (no bare CR or LF, no blank line for the pattern's lookbehinds
    to see), and four times faster: a third of a plain event's parse went to the pattern.
    """
    crlf = text.count("\r\n")
    if text.count("\n") == crlf == text.count("\r") and "\r\n\r\n" not in text:
        return text.replace("\r\n ", "").replace("\r\n\t", "").split("\r\n")
    return _NEWLINE.split(_UNFOLD.sub("", text))


def _name_of(line: str) -> str:
    """The property name the library sees: up to the first ';' or ':' (it must be a plain token)."""
    m = _NAME_AT.match(line)
    if m is None:
        raise _Decline
    return m.group(1).upper()


def _nest(where: list[str], name: str, params: dict[str, str], raw: str) -> list[str]:
    """The component stack after a BEGIN or END line: VEVENT in VCALENDAR, VALARM in VEVENT."""
    if params:
        raise _Decline
    if name == "BEGIN":
        if {"VEVENT": 1, "VALARM": 2}.get(raw) != len(where):
            raise _Decline
        return [*where, raw]
    if len(where) < 2 or where[-1] != raw:
        raise _Decline
    return where[:-1]


def _event_line(event: dict[str, Any], name: str, line: str) -> None:
    if name in _REFUSED:
        raise _Decline
    if name == "SEQUENCE":  # read only for a series (one-off events ignore it, as the library does)
        event.setdefault("_SEQUENCE", []).append(line)
        return
    if name in SERIES:
        _series_line(event, *_strict(line))
        return
    if name not in _READ:
        return  # the library keeps it (or drops it, if broken) and nudge never reads it
    name, params, raw = _strict(line, escapes=name == "SUMMARY")
    tzid = params.get("TZID")
    if tzid is not None:
        zone = known_zone(tzid)
        if zone is None or name not in ("DTSTART", "DTEND"):
            raise _Decline  # zones outside the database, and zones where nudge reads none
        tzid = zone.key  # by its IANA name, as `parse.ical.trim` rewrites it
    if "VALUE" in params and name not in ("DTSTART", "DTEND"):
        raise _Decline  # value types other than a property's usual one
    value: Any = raw  # TEXT: what icalendar's vText holds, there being no escapes
    if "\\" in raw:
        value = _text(line)
    elif name in ("DTSTART", "DTEND"):
        value = _Time(raw, tzid)
    elif name == "DURATION":
        if not raw.upper().startswith(("P", "-P", "+P")) or params:
            raise _Decline  # read as a duration by both paths, nothing else
        value = _Time(raw)
    elif name in ("ATTENDEE", "ORGANIZER"):
        value = _Address(raw)
        value.params = params
    if name == "ATTENDEE":
        event.setdefault(name, []).append(value)
    elif name in event:
        raise _Decline  # a repeated single property: the library makes a list of it
    else:
        event[name] = value


# --- vCard ---------------------------------------------------------------------------

_CARD_NAMES = frozenset(
    {
        "VERSION",
        "PRODID",
        "UID",
        "FN",
        "N",
        "EMAIL",
        "TEL",
        "ORG",
        "TITLE",
        "BDAY",
        "CATEGORIES",
        "NOTE",
        "REV",
        "ADR",
        "URL",
        "NICKNAME",
        "ROLE",
        "KIND",
        "PHOTO",
        "LABEL",
        "IMPP",
        "ANNIVERSARY",
        "GENDER",
        "LANG",
        "TZ",
        "SORT-STRING",
    }
)
_KINDS = frozenset({"KIND", "X-ADDRESSBOOKSERVER-KIND"})
_GROUP_PREFIX = re.compile(r"[A-Za-z0-9-]+\.")
# What `_card` and `contact_from` read; other lines are checked, never decoded.
_STANDARD_READ = {"VERSION", "UID", "FN", "N", "EMAIL", "TEL", "ORG", "TITLE", "BDAY", "CATEGORIES", "NOTE"}
_CARD_READ = frozenset(_STANDARD_READ | {"X-ABUID", "X-NUDGE-CADENCE"}) | _KINDS
# vobject's unfolding (vobject.base's `wrap` pattern): a line break followed by one space or tab.
_CARD_UNFOLD = re.compile(r"(?:\r\n|\r|\n)[\t ]")


def fast_card(text: str) -> ContactRecord | None:
    """The record `parse.parse_vcard` would give for a plain person's vCard 3.0/4.0, or None."""
    try:
        return _card(text)
    except _Decline:
        return None


def _card(text: str) -> ContactRecord:
    if "\r" in text.replace("\r\n", ""):
        raise _Decline
    unfolded = _CARD_UNFOLD.sub("", text)
    lines = unfolded.split("\r\n") if "\r\n" in unfolded else unfolded.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) < 3 or lines[0] != "BEGIN:VCARD" or lines[-1] != "END:VCARD":
        raise _Decline
    values: dict[str, list[Any]] = {}
    for line in lines[1:-1]:
        if not line.strip() or line[0] in " \t":
            raise _Decline  # vobject's blank-line and folding rules
        group = _GROUP_PREFIX.match(line)  # Apple's item1.EMAIL
        m = _CARD_LINE.fullmatch(line[group.end() :] if group else line)
        if m is None or _CONTROL.search(line):
            raise _Decline
        name, params, raw = m.group(1).upper(), m.group(2).upper(), m.group(3)
        if ";ENCODING=" in params or ";CHARSET=" in params:
            _inline_photo(name, params, raw)
        if name not in _CARD_NAMES and not name.startswith("X-"):
            raise _Decline
        if name in _CARD_READ:
            values.setdefault(name.lower(), []).append(_card_value(name, raw))
    if values.get("version") not in (["3.0"], ["4.0"]):
        raise _Decline
    for kind in _KINDS:
        if any(v.strip().lower() != "individual" for v in values.get(kind.lower(), [])):
            raise _Decline  # groups and organisations take the library path
    uid = (values["uid"][0].strip() if "uid" in values else "") or card_key(text)
    try:
        return contact_from(values, uid)
    except Exception as e:  # no UID, no name: the library path says so
        raise _Decline from e


def _inline_photo(name: str, params: str, raw: str) -> None:
    """Decline an encoded line other than a PHOTO whose base64 vobject decodes (it raises otherwise)."""
    if name != "PHOTO" or ";CHARSET=" in params or not re.fullmatch(r"(;[A-Z0-9-]+=[^;]*)*", params):
        raise _Decline
    encoding = re.search(r";ENCODING=([^;]*)", params)
    if encoding is None or encoding.group(1) not in ("B", "BASE64"):
        raise _Decline
    try:
        codecs.decode(raw.encode("utf-8"), "base64")
    except (ValueError, binascii.Error) as e:
        raise _Decline from e


def _card_value(name: str, raw: str) -> Any:
    """The value as vobject's behaviour for `name` decodes it (its own functions, escapes and all)."""
    if name == "N":
        return Name(**dict(zip(NAME_ORDER, splitFields(raw), strict=False)))
    if name == "ORG":
        return splitFields(raw)
    if name == "CATEGORIES":
        return stringToTextValues(raw, listSeparator=",")
    if "\\" not in raw and "," not in raw:
        return raw
    return stringToTextValues(raw)[0]


def _series_line(event: dict[str, Any], name: str, params: dict[str, str], raw: str) -> None:
    """Keep an RRULE, EXDATE, RECURRENCE-ID or SEQUENCE line in `event`, parsed as icalendar parses it."""
    if name in ("SEQUENCE", "RRULE"):
        if params or name in event or (name == "SEQUENCE" and not re.fullmatch(r"[0-9]{1,9}", raw)):
            raise _Decline  # the library compares sequences: anything but a number is its business
        event[name] = raw
        return
    if not set(params) <= {"TZID", "VALUE"} or params.get("VALUE", "DATE-TIME") not in ("DATE", "DATE-TIME"):
        raise _Decline  # RANGE=THISANDFUTURE, PERIODs
    tzid = params.get("TZID")
    if tzid is not None:
        zone = known_zone(tzid)
        if zone is None or raw.upper().endswith("Z"):
            raise _Decline
        tzid = zone.key
    values = [_Time(one, tzid) for one in (raw.split(",") if name == "EXDATE" else [raw])]
    if any((params.get("VALUE") == "DATE") != (value_kind(v.dt) == "date") for v in values):
        raise _Decline
    if name == "EXDATE":
        event.setdefault(name, []).extend(v.dt for v in values)
    elif name in event:
        raise _Decline
    else:
        event[name] = values[0]
