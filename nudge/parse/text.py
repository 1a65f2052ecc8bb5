"""vCard and iCalendar files as text, before any parser reads them (pure).

Splitting a file into objects on lines (so one broken object cannot take the
rest down), and keys for objects that have no UID. The cleaning every text
field gets is the records' own (`core.records`).
"""

from __future__ import annotations

import hashlib
import re

from nudge.core.identity import fold, normalise_email, normalise_phone
from nudge.core.records import clean_line

_QP_LINE = re.compile(r"^[^:]*QUOTED-PRINTABLE[^:]*:", re.IGNORECASE)


def unfold_quoted_printable(text: str) -> str:
    """Join vCard 2.1 quoted-printable soft line breaks (a line ending in `=`).

    vCard 2.1 continues such values on the next line without the leading space
    that ordinary folding uses, so a parser for 3.0/4.0 reads the rest as a
    broken line of its own.
    """
    if "QUOTED-PRINTABLE" not in text.upper():
        return text
    out: list[str] = []
    joining = False
    for line in text.splitlines():
        if joining:
            out[-1] = out[-1][:-1] + line
        else:
            out.append(line)
        joining = out[-1].endswith("=") and (joining or bool(_QP_LINE.match(out[-1])))
    return "\r\n".join(out) + "\r\n"


# --- Keys for objects without UID ---------------------------------------------------------

DERIVED = "nudge-key-"  # prefix of the keys nudge makes for objects without UID
NO_KEY = "#no-key-"  # split_calendar's placeholder for an event without UID or DTSTART
_GROUP_OF = re.compile(r"^[A-Za-z0-9-]+\.")
_ABPERSON = re.compile(r"\\?:AB(?:Person|Group)$", re.IGNORECASE)


def _lines(text: str) -> list[tuple[str, str]]:
    """(NAME, value) of each unfolded content line, without `item1.` groups or parameters."""
    out = []
    for line in _FOLD.sub("", unfold_quoted_printable(text)).splitlines():
        head, colon, value = line.partition(":")
        if colon:
            out.append((_GROUP_OF.sub("", head.split(";", 1)[0]).strip().upper(), value.strip()))
    return out


def apple_uid(value: str) -> str:
    """The UUID of Apple's `X-ABUID:<UUID>:ABPerson` (the suffix may come escaped)."""
    return _ABPERSON.sub("", value).strip()


def _derived(material: str) -> str:
    return DERIVED + hashlib.sha1(material.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def card_key(text: str) -> str:
    """A stable key for a vCard without UID ("" if it has nothing to build one from).

    Apple's X-ABUID when present (group cards list members by it); else the first
    e-mail, else the first phone (E.164 when written with +country, else its digits),
    else the folded name. Two cards with the same key are told apart by the files
    source; a key that changes (a new first e-mail) is matched up again by sync.
    """
    lines = _lines(text)
    for name, value in lines:
        if name == "X-ABUID" and (abuid := apple_uid(value)):
            return abuid
    emails = [e for name, value in lines if name == "EMAIL" and (e := normalise_email(value))]
    if emails:
        return _derived(f"email:{emails[0]}")
    for name, value in lines:
        if name == "TEL" and (digits := re.sub(r"[^0-9+]", "", value)):
            return _derived(f"tel:{normalise_phone(value, '') or digits}")
    names = [value for name, value in lines if name == "FN" and value]
    names += [" ".join(value.split(";")) for name, value in lines if name == "N"]
    for value in names:
        if folded := fold(clean_line(value.replace("\\", ""))):
            return _derived(f"name:{folded}")
    return ""


def event_key(text: str) -> str:
    """A stable key for an event without UID: its first VEVENT's DTSTART, SUMMARY and ORGANIZER.

    Not the hash of its text, which changes with every export (DTSTAMP); a moved
    event without UID is a new event.
    """
    blocks = split_components(text, "VEVENT")
    wanted = {"DTSTART": "", "SUMMARY": "", "ORGANIZER": ""}
    for line in _FOLD.sub("", blocks[0] if blocks else text).splitlines():
        head, colon, value = line.partition(":")
        name = head.split(";", 1)[0].strip().upper()
        if colon and name in wanted and not wanted[name]:
            wanted[name] = f"{head.partition(';')[2]}:{value.strip()}" if name == "DTSTART" else value
    if not wanted["DTSTART"]:
        return ""
    organizer = normalise_email(wanted["ORGANIZER"]) or ""
    return _derived(f"event:{wanted['DTSTART']}|{fold(wanted['SUMMARY'])}|{organizer}")


# --- Splitting whole files into objects ---------------------------------------


_UID = re.compile(r"^UID(?:;[^:]*)?:(.*)$", re.IGNORECASE)
_FOLD = re.compile(r"\r?\n[ \t]")


def split_components(text: str, name: str) -> list[str]:
    """Top-level BEGIN:name ... END:name blocks of a file, as text.

    Done on lines rather than by a parser so that one broken object cannot take
    the rest of the file down with it. These components never nest, so a BEGIN
    inside an open block means that block was never closed: it is returned as
    it is (and reported when parsed), and the new one starts. `END:VCARDBEGIN:VCARD`, what
    `cat` leaves when a file lacks its last newline, ends one block and starts the next.
    """
    blocks: list[str] = []
    current: list[str] | None = None
    begin, end = f"BEGIN:{name}", f"END:{name}"
    for line in text.splitlines():
        upper = line.strip().upper()
        if upper == begin:
            if current is not None:
                blocks.append("\r\n".join(current) + "\r\n")
            current = [line]
        elif current is None and upper.endswith(begin):  # glued to garbage (or a stray BOM)
            current = [line.strip()[-len(begin) :]]
        elif current is not None and upper.startswith(end):  # `END:VCARDBEGIN:VCARD` too
            blocks.append("\r\n".join([*current, line.strip()[: len(end)]]) + "\r\n")
            current = [line.strip()[-len(begin) :]] if upper.endswith(begin) else None
        elif current is not None:
            current.append(line)
    if current is not None:
        blocks.append("\r\n".join(current) + "\r\n")
    return blocks


def block_uid(block: str) -> str:
    for line in _FOLD.sub("", block).splitlines():
        m = _UID.match(line.strip())
        if m:
            return m.group(1).strip()
    return ""


_TZID_PARAM = re.compile(r';TZID=("[^"]*"|[^;:]*)', re.IGNORECASE)
_TZID_LINE = re.compile(r"^TZID(?:;[^:]*)?:(.*)$", re.IGNORECASE | re.MULTILINE)


def split_calendar(text: str) -> list[tuple[str, str]]:
    """(uid, calendar text) per UID: its VEVENTs plus the VTIMEZONEs they name.

    Only the zones an object uses go with it, so one broken VTIMEZONE skips the
    events in that zone and no others. An event without UID is keyed by
    `event_key`.
    """
    zones: dict[str, str] = {}
    for block in split_components(text, "VTIMEZONE"):
        m = _TZID_LINE.search(_FOLD.sub("", block))
        zones.setdefault(m.group(1).strip() if m else "", block)
    by_uid: dict[str, list[str]] = {}
    for i, block in enumerate(split_components(text, "VEVENT")):
        by_uid.setdefault(block_uid(block) or event_key(block) or f"{NO_KEY}{i}", []).append(block)
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//nudge//split//EN\r\n"
    out = []
    for uid, blocks in by_uid.items():
        events = "".join(blocks)
        used = {tzid.strip('"').strip() for tzid in _TZID_PARAM.findall(_FOLD.sub("", events))}
        timezones = "".join(block for tzid, block in zones.items() if tzid in used)
        out.append((uid, head + timezones + events + "END:VCALENDAR\r\n"))
    return out
