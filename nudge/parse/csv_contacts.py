"""Contacts CSVs as exporters write them: LinkedIn `Connections.csv`, Google Contacts, Outlook (pure).

A dialect is told by its header row (`detect`), which may follow a preamble (LinkedIn's
`Notes:` paragraph) within the first lines, and may be split by `,`, `;` (Excel in locales
with a decimal comma) or a tab. Columns are read by name, never by position. Each row becomes
one object: the splitter reads the whole file (it alone sees every row, so it alone can tell
whether a name is unique in the file) and hands each row over as a small JSON object that
`parse_row` turns into a `ContactRecord`. A row the CSV reader cannot take, or that has no name,
e-mail, phone or profile URL, becomes an object whose parsing fails with its line number, so
sync skips and counts it. Encodings (BOMs, UTF-16, Windows-1252) are the files source's.

The rows' keys are stable across re-exports: the profile URL, else the first e-mail, else the
first phone, else the folded name (as `parse.text.card_key` keys UID-less vCards).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath
from typing import Any

from nudge.core.identity import fold, name_key, normalise_phone
from nudge.core.records import ContactRecord
from nudge.parse.base import ParseError, Window
from nudge.parse.csv_columns import ABBRS, EMAIL_N, PHONE_N, READERS

HEADER_LINES = 10  # the header is looked for in this many first lines (LinkedIn's preamble is 3)
DELIMITERS = (",", ";", "\t")
_EXPORT_DIR = re.compile(r"(?:Basic|Complete)_LinkedInDataExport_(\d\d)-(\d\d)-(\d{4})")


def norm(column: str) -> str:
    """A column name as compared: BOM, brackets and case ignored, spaces collapsed."""
    return " ".join(column.replace("\ufeff", "").replace("(", " ").replace(")", " ").split()).casefold()


def _google_current(names: set[str]) -> bool:
    return {"first name", "last name", "labels"} <= names and any(
        EMAIL_N.match(n) or PHONE_N.match(n) for n in names
    )


# dialect -> [(variant, whether a header of that variant)], tried in this order
_DIALECTS: dict[str, list[tuple[str, Callable[[set[str]], bool]]]] = {
    "linkedin": [("", lambda n: {"first name", "last name", "company", "position", "connected on"} <= n)],
    "google": [
        ("current", _google_current),
        ("legacy", lambda n: {"given name", "family name", "group membership"} <= n),
    ],
    "outlook": [
        ("en", lambda n: {"first name", "last name", "e-mail address"} <= n),
        ("de", lambda n: {"vorname", "nachname", "e-mail-adresse"} <= n),
    ],
}
DIALECTS = tuple(_DIALECTS)
LABELS = {"linkedin": "LinkedIn export", "google": "Google Contacts CSV", "outlook": "Outlook CSV"}


@dataclass(frozen=True)
class Header:
    """Where a file's header row is and what it says."""

    dialect: str  # linkedin | google | outlook
    variant: str  # google: current | legacy; outlook: en | de
    index: int  # the header's line (0-based)
    offset: int  # where it starts in the text
    delimiter: str
    columns: tuple[str, ...]  # normalised


def detect(text: str) -> Header | None:
    """The first of the first lines that is a known dialect's header row, or None."""
    offset = 0
    for i, line in enumerate(text.splitlines(keepends=True)[:HEADER_LINES]):
        for delimiter in DELIMITERS:
            if delimiter not in line:
                continue
            try:
                cells = next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter))
            except (csv.Error, StopIteration):
                continue
            columns = tuple(norm(c) for c in cells)
            names = set(columns)
            for dialect, variants in _DIALECTS.items():
                for variant, matches in variants:
                    if matches(names):
                        return Header(dialect, variant, i, offset, delimiter, columns)
        offset += len(line)
    return None


def header_words(text: str) -> str:
    """'First, Second, …': the start of a file's first line, for the notice naming a CSV nobody claims."""
    first = next(iter(text.lstrip("\ufeff").splitlines()), "")
    cells = [c.strip() for c in re.split(r"[,;\t]", first) if c.strip()][:4]
    return ", ".join(cells) + (", …" if cells else "")


def is_linkedin(head: str) -> bool:
    found = detect(head)
    return found is not None and found.dialect == "linkedin"


def is_google(head: str) -> bool:
    found = detect(head)
    return found is not None and found.dialect == "google"


def is_outlook(head: str) -> bool:
    found = detect(head)
    return found is not None and found.dialect == "outlook"


# --- reading a file ------------------------------------------------------------------------


def split_linkedin(text: str, path: str = "") -> list[tuple[str, str]]:
    return split(text, path, "linkedin")


def split_google(text: str, path: str = "") -> list[tuple[str, str]]:
    return split(text, path, "google")


def split_outlook(text: str, path: str = "") -> list[tuple[str, str]]:
    return split(text, path, "outlook")


def split(text: str, path: str, dialect: str) -> list[tuple[str, str]]:
    """(key, object) per row of a `dialect` file; a bad row's key is `line-N` and its object fails."""
    header = detect(text)
    if header is None or header.dialect != dialect:
        return []
    origin = _origin(dialect, path)
    index: dict[str, int] = {}
    for i, c in enumerate(header.columns):
        index.setdefault(c, i)  # a repeated name: the first
    reader = csv.reader(io.StringIO(text[header.offset :], newline=""), delimiter=header.delimiter)
    rows: list[tuple[int, dict[str, Any] | str]] = []
    consumed = 0
    try:
        next(reader)
        consumed = reader.line_num
        for cells in reader:
            line = header.index + consumed + 1
            consumed = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # a blank line, or a row of empty fields
            if len(cells) != len(header.columns):
                rows.append((line, f"{len(cells)} fields, the header has {len(header.columns)}"))
                continue
            row = {c: cells[i].strip() for c, i in index.items()}
            read = READERS[dialect](row, header.variant)
            if not (read["name"] or read["emails"] or read["phones"] or read["profiles"]):
                rows.append((line, "no name, e-mail, phone or profile URL"))
                continue
            rows.append((line, read))
    except csv.Error as e:
        rows.append((header.index + consumed + 1, f"unreadable CSV ({e}); the rest of the file is left out"))
    names = Counter(name_key(f["name"]) for _, f in rows if isinstance(f, dict) and f["name"])
    out: list[tuple[str, str]] = []
    for line, fields in rows:
        if isinstance(fields, str):
            out.append((f"line-{line}", json.dumps({"error": f"line {line}: {fields}"})))
            continue
        key = _key(fields)
        fields["uid"] = f"{dialect}:{fields['profiles'][0] if fields['profiles'] else key}"
        fields["origin"] = origin
        fields["unique"] = bool(fields["name"]) and names[name_key(fields["name"])] == 1
        if not fields["name"]:
            fields["name"] = (fields["emails"] or fields["phones"] or fields["profiles"])[0]
        out.append((key, json.dumps(fields, ensure_ascii=False, sort_keys=True)))
    return out


def parse_row(data: str, window: Window) -> ContactRecord:
    """One row's object (as `split` wrote it) -> its record; a bad row's object -> ParseError."""
    try:
        fields = json.loads(data)
    except ValueError as e:
        raise ParseError(f"not a CSV row object: {e}") from e
    if "error" in fields:
        raise ParseError(str(fields["error"]))
    return ContactRecord(
        uid=fields["uid"],
        name=fields["name"],
        emails=tuple(fields["emails"]),
        phones=tuple(fields["phones"]),
        org=fields["org"] or None,
        title=fields["title"] or None,
        birthday=fields["birthday"],
        categories=tuple(fields["categories"]),
        note=fields["note"] or None,
        profiles=tuple(fields["profiles"]),
        connected_on=fields["connected_on"],
        origin=fields["origin"],
        name_unique=fields["unique"],
    )


def _origin(dialect: str, path: str) -> str:
    """'LinkedIn export of 14 Jun 2026, Connections.csv': where a row came from, for moments' evidence."""
    name = PurePath(path).name if path else "a CSV file"
    made = export_date(path) if dialect == "linkedin" else None
    if made:
        return f"{LABELS[dialect]} of {made.day} {ABBRS[made.month - 1].title()} {made.year}, {name}"
    return f"{LABELS[dialect]} {name}"


def export_date(path: str) -> date | None:
    """The day a LinkedIn export was made, from its folder's name (`Basic_LinkedInDataExport_06-14-2026`)."""
    m = _EXPORT_DIR.search(path)
    try:
        return date(int(m.group(3)), int(m.group(1)), int(m.group(2))) if m else None
    except ValueError:
        return None


def _key(fields: dict[str, Any]) -> str:
    if fields["profiles"]:
        material = f"profile:{fields['profiles'][0]}"
    elif fields["emails"]:
        material = f"email:{fields['emails'][0]}"
    elif fields["phones"]:
        phone = fields["phones"][0]
        material = f"tel:{normalise_phone(phone, '') or re.sub(r'[^0-9+]', '', phone)}"
    else:
        material = f"name:{fold(fields['name'])}"
    return "nudge-key-" + hashlib.sha1(material.encode("utf-8", "surrogatepass")).hexdigest()[:20]
