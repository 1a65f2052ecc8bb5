"""The phone's calls and texts: SMS Backup & Restore XML and call-log CSVs -> `PhoneRecord`s (pure).

Android's "SMS Backup & Restore" (SyncTech) writes `calls-<stamp>.xml` (root `<calls>`) and
`sms-<stamp>.xml` (root `<smses>`, with `<sms>` and `<mms>`); a call log also comes as a CSV,
from SMS-backup-and-restore-extractor (`Call Date (timestamp),…,Call type,…,Caller #,…`) or
in the plain shape `number,date,direction,duration` (also as Excel on a German Windows saves
it: `;`, `DD.MM.YYYY HH:MM`). Field meanings: tests/data/exports/android/README.md.

The splitters read a whole file into one object per entry, as a line of JSON keyed by the
entry's content, and the parser makes each a record, so that a bad entry is one skipped,
counted object, never the file's end:

- A file cut mid-write yields every whole entry before the cut and one object that says where
  the file breaks (the parser refuses it, so sync counts it once, naming the file).
- Emoji written as numeric references to UTF-16 surrogate halves (`&#55357;&#56842;`), which
  no XML parser accepts, are joined into their character first; a lone half becomes U+FFFD.
- The XML is read with defusedxml (a synced folder is untrusted input: no entities, no DTD
  tricks) and each entry is cleared once read, so MMS pictures do not pile up.
- Times come from `date` (UTC milliseconds), never from `readable_date` (locale, no zone).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from typing import Any

from defusedxml import ElementTree as SafeET

from nudge.core.records import PhoneEvent, PhoneRecord
from nudge.parse.base import ParseError, Window

CALL_TYPES: dict[str, PhoneEvent] = {
    "1": "answered",
    "2": "placed",
    "3": "missed",
    "4": "voicemail",
    "5": "rejected",
    "6": "blocked",
    "7": "answered_elsewhere",
}
SMS_TYPES: dict[str, PhoneEvent] = {"1": "received", "2": "sent", "3": "unsent", "4": "unsent"}
SMS_TYPES |= {"5": "unsent", "6": "unsent"}
MMS_BOXES: dict[str, PhoneEvent] = {"1": "received", "2": "sent", "3": "unsent", "4": "unsent"}
MMS_FROM, MMS_TO = "137", ("151", "130", "129")  # addr types: from; to, cc, bcc

# Call-log CSV words (the extractor's `Call type`, the plain `direction`), lower case.
CALL_WORDS: dict[str, PhoneEvent] = {
    "incoming": "answered",
    "in": "answered",
    "received": "answered",
    "answered": "answered",
    "outgoing": "placed",
    "out": "placed",
    "placed": "placed",
    "missed": "missed",
    "voicemail": "voicemail",
    "rejected": "rejected",
    "declined": "rejected",
    "blocked": "blocked",
    "answeredexternally": "answered_elsewhere",
    "answered externally": "answered_elsewhere",
}

# Each dialect's columns in one order: number, date, direction, duration.
EXTRACTOR = ("caller #", "call date (timestamp)", "call type", "call duration (s)")
PLAIN = ("number", "date", "direction", "duration")
_DELIMITERS = (",", ";", "\t")
_E_NOTATION = re.compile(r"^\s*\d+(?:[.,]\d+)?[eE]\+?\d+\s*$")  # a number a spreadsheet rounded
_LOCAL_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")

# --- recognising the files -----------------------------------------------------------------

_PROLOGUE = re.compile(r"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>|\s+", re.S)
_FIRST_TAG = re.compile(r"<([A-Za-z_][\w.-]*)")


def _root(head: str) -> str:
    """The name of the first element of an XML text's start ('' if none in it)."""
    pos = 0
    head = head.lstrip("\ufeff")
    while m := _PROLOGUE.match(head, pos):
        if m.end() == pos:
            break
        pos = m.end()
    m = _FIRST_TAG.match(head, pos)
    return m.group(1) if m else ""


def sniff_backup(head: str) -> bool:
    """An SMS Backup & Restore file: its root is `<calls>` or `<smses>`, whatever its name."""
    return _root(head) in ("calls", "smses")


def _header(text: str) -> tuple[str, list[str], int] | None:
    """(delimiter, lower-case names, line number) of a call-log CSV's header, or None."""
    for number, line in enumerate(text.lstrip("\ufeff").splitlines()[:5], start=1):
        if not line.strip():
            continue
        for delimiter in _DELIMITERS:
            try:
                names = next(csv.reader([line], delimiter=delimiter))
            except (csv.Error, StopIteration):
                continue
            folded = [n.strip().lower() for n in names]
            if all(n in folded for n in EXTRACTOR) or all(n in folded for n in PLAIN):
                return delimiter, folded, number
        return None
    return None


def sniff_call_log(head: str) -> bool:
    """A call log CSV: its header has the extractor's call columns, or number, date, direction, duration."""
    return _header(head) is not None


# --- splitting a file into entries -----------------------------------------------------------

_REF = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));")


def _value(m: re.Match[str]) -> int:
    return int(m.group(1), 16) if m.group(1) else int(m.group(2))


def _allowed(v: int) -> bool:
    """Whether XML 1.0 allows a reference to this character."""
    return v in (0x9, 0xA, 0xD) or 0x20 <= v <= 0xD7FF or 0xE000 <= v <= 0xFFFD or 0x10000 <= v <= 0x10FFFF


def join_surrogates(text: str) -> str:
    """References to UTF-16 halves joined into their character; a lone half or another character
    XML forbids (`&#1;`) replaced by U+FFFD, so that the file parses."""
    if "&#" not in text:
        return text
    refs = [m for m in _REF.finditer(text) if not _allowed(_value(m))]
    if not refs:
        return text
    parts: list[str] = []
    last, i = 0, 0
    while i < len(refs):
        m = refs[i]
        v = _value(m)
        parts.append(text[last : m.start()])
        nxt = refs[i + 1] if i + 1 < len(refs) else None
        if (
            0xD800 <= v <= 0xDBFF
            and nxt is not None
            and nxt.start() == m.end()
            and 0xDC00 <= _value(nxt) <= 0xDFFF
        ):
            parts.append(chr(0x10000 + ((v - 0xD800) << 10) + (_value(nxt) - 0xDC00)))
            last, i = nxt.end(), i + 2
            continue
        parts.append("\ufffd")
        last, i = m.end(), i + 1
    parts.append(text[last:])
    return "".join(parts)


def _entry(fields: dict[str, Any]) -> str:
    return json.dumps(fields, ensure_ascii=False, sort_keys=True)


def _key(*parts: object) -> str:
    return "-".join(re.sub(r"[^0-9A-Za-z+]", "", str(p)) or "_" for p in parts)


def _null(value: str | None) -> str:
    """An attribute's value; the app writes the string `null` for none."""
    return "" if value is None or value == "null" else value


def split_backup(text: str) -> list[tuple[str, str]]:
    """The entries of a `calls` or `smses` backup, keyed by their content; a cut file's last
    object says where it breaks."""
    out: list[tuple[str, str]] = []
    root: Any = None
    try:
        events = SafeET.iterparse(io.StringIO(join_surrogates(text)), events=("start", "end"))
        for event, elem in events:
            if event == "start":
                if root is None:
                    root = elem
                continue
            tag = elem.tag
            if tag == "call":
                a = elem.attrib
                fields = {
                    "k": "call",
                    "n": _null(a.get("number")),
                    "d": a.get("date", ""),
                    "t": a.get("type", ""),
                    "s": a.get("duration", ""),
                }
                out.append((_key("call", fields["d"], fields["t"], fields["n"], fields["s"]), _entry(fields)))
            elif tag == "sms":
                a = elem.attrib
                fields = {
                    "k": "sms",
                    "n": _null(a.get("address")),
                    "d": a.get("date", ""),
                    "t": a.get("type", ""),
                }
                out.append((_key("sms", fields["d"], fields["t"], fields["n"]), _entry(fields)))
            elif tag == "mms":
                a = elem.attrib
                addrs = [(_null(x.get("address")), x.get("type", "")) for x in elem.iter("addr")]
                fields = {
                    "k": "mms",
                    "n": _null(a.get("address")),
                    "d": a.get("date", ""),
                    "t": a.get("msg_box", ""),
                    "a": addrs,
                }
                out.append((_key("mms", fields["d"], fields["t"], a.get("m_id", "")), _entry(fields)))
            else:
                continue
            elem.clear()
            if root is not None:
                root.clear()  # the entries read so far: nothing keeps them
    except SafeET.ParseError as e:
        line = e.position[0] if getattr(e, "position", None) else "?"
        out.append(
            (f"broken-at-line-{line}", _entry({"error": f"file cut short or broken at line {line} ({e})"}))
        )
    except ValueError as e:  # defusedxml's refusals (entities, DTDs) are ValueErrors
        out.append(("refused", _entry({"error": f"not read: {e}"})))
    return out


def split_call_log(text: str) -> list[tuple[str, str]]:
    """The rows of a call-log CSV, each with its line number; a blank row is no entry."""
    found = _header(text)
    if found is None:
        return []
    delimiter, names, header_line = found
    lines = text.lstrip("\ufeff").splitlines(keepends=True)[header_line:]
    reader = csv.reader(io.StringIO("".join(lines), newline=""), delimiter=delimiter)
    plain = all(n in names for n in PLAIN) and not all(n in names for n in EXTRACTOR)
    columns = PLAIN if plain else EXTRACTOR
    where = [names.index(c) for c in columns]
    out: list[tuple[str, str]] = []
    try:
        for row in reader:
            line = header_line + reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(names):
                out.append(
                    (
                        f"line-{line}",
                        _entry({"error": f"line {line}: {len(row)} fields, the header has {len(names)}"}),
                    )
                )
                continue
            number, date, direction, duration = (row[i].strip() for i in where)
            fields = {"k": "csv", "n": number, "d": date, "t": direction, "s": duration, "l": line}
            out.append((f"line-{line}-" + _key(date, direction, number), _entry(fields)))
    except csv.Error as e:
        out.append(("broken", _entry({"error": f"line {header_line + reader.line_num}: {e}"})))
    return out


# --- one entry -> a record -------------------------------------------------------------------


def parse_entry(data: str, window: Window) -> PhoneRecord:
    """One entry of a backup or a call log; ParseError for anything unusable."""
    try:
        fields = json.loads(data)
    except ValueError as e:
        raise ParseError(f"not an entry of a phone backup: {e}") from e
    if not isinstance(fields, dict):
        raise ParseError("not an entry of a phone backup")
    if "error" in fields:
        raise ParseError(str(fields["error"]))
    kind = fields.get("k")
    if kind == "csv":
        return _csv_row(fields, window)
    at = _millis(str(fields.get("d", "")))
    code = str(fields.get("t", ""))
    number = str(fields.get("n", ""))
    if kind == "call":
        event = CALL_TYPES.get(code)
        if event is None:
            raise ParseError(f"unknown call type {code!r}")
        return PhoneRecord("call", event, _numbers(number), at, _seconds(str(fields.get("s", ""))))
    if kind == "sms":
        event = SMS_TYPES.get(code)
        if event is None:
            raise ParseError(f"unknown message type {code!r}")
        return PhoneRecord("text", event, _numbers(number), at)
    if kind == "mms":
        event = MMS_BOXES.get(code)
        if event is None:
            raise ParseError(f"unknown MMS box {code!r}")
        return PhoneRecord("text", event, _mms_numbers(event, number, fields.get("a") or []), at)
    raise ParseError(f"unknown entry {kind!r}")


def _numbers(number: str) -> tuple[str, ...]:
    return (number,) if number.strip() else ()


def _mms_numbers(event: PhoneEvent, address: str, addrs: list[Any]) -> tuple[str, ...]:
    """A received MMS's sender; a sent one's recipients (the `addrs`, else the `~`-joined address)."""
    pairs = [(str(a[0]), str(a[1])) for a in addrs if isinstance(a, list) and len(a) == 2]
    wanted = (MMS_FROM,) if event == "received" else MMS_TO
    found = [n for n, t in pairs if t in wanted and n.strip() and n != "insert-address-token"]
    if not pairs and event == "sent":
        found = [n for n in address.split("~") if n.strip()]
    return tuple(dict.fromkeys(found))


def _millis(value: str) -> datetime:
    try:
        ms = int(value.strip())
        if ms <= 0:
            raise ValueError
        return datetime.fromtimestamp(ms / 1000, UTC)
    except (ValueError, OverflowError, OSError) as e:
        raise ParseError(f"no usable date ({value!r})") from e


def _seconds(value: str) -> int:
    value = value.strip()
    if value in ("", "N/A", "null"):
        return 0
    if not value.isdigit():
        raise ParseError(f"duration {value!r} is not whole seconds")
    return int(value)


def _csv_row(fields: dict[str, Any], window: Window) -> PhoneRecord:
    line = fields.get("l", "?")
    number, date, word = str(fields.get("n", "")), str(fields.get("d", "")), str(fields.get("t", ""))
    event = CALL_WORDS.get(word.strip().lower())
    if event is None:
        raise ParseError(f"line {line}: unknown call direction {word!r}")
    if _E_NOTATION.match(number):
        raise ParseError(f"line {line}: the number {number!r} lost its digits in a spreadsheet")
    try:
        duration = _seconds(str(fields.get("s", "")))
    except ParseError as e:
        raise ParseError(f"line {line}: {e.reason}") from e
    return PhoneRecord("call", event, _numbers(number), _when(date, window, line), duration)


def _when(value: str, window: Window, line: object) -> datetime:
    """A CSV date: milliseconds, ISO 8601 with or without an offset, or `DD.MM.YYYY HH:MM`;
    a time without an offset is the user's local time."""
    value = value.strip()
    if value.isdigit():
        return _millis(value)
    at: datetime | None = None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        for fmt in _LOCAL_FORMATS:
            try:
                at = datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
    if at is None:
        raise ParseError(f"line {line}: no usable date ({value!r})")
    if at.tzinfo is None:
        at = at.replace(tzinfo=window.tz)
    return at.astimezone(UTC)
