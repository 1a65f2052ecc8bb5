"""vCard text -> ContactRecord or GroupRecord, with vobject (pure).

Everything vobject can throw becomes `ParseError(reason)`, so sync skips and
counts a bad card instead of stopping. `contact_from` builds the record from
property values, for this path and the fast path (`parse.fast`) alike.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

import vobject

from nudge.core.identity import normalise_email
from nudge.core.records import ContactRecord, GroupRecord, clean_line
from nudge.parse.base import ParseError, short_reason
from nudge.parse.text import apple_uid, block_uid, card_key, unfold_quoted_printable

# vobject logs "Skipped line" itself, beside nudge's own "skipped ... (UID ...)" line.
logging.getLogger("vobject.base").setLevel(logging.CRITICAL)


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
    cadences = get("x-nudge-cadence")
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
        cadence=clean_line(_text(cadences[0])) if cadences else "",
    )
