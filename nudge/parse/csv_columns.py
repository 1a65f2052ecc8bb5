"""What the contacts CSV dialects' columns mean: one reader per dialect, and their dates (pure).

Each reader takes a row by normalised column name (`csv_contacts.norm`) and the header's
variant (Google: current | legacy; Outlook: en | de) and returns the row's fields as plain
values, the shape `csv_contacts.parse_row` makes a `ContactRecord` of.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

from nudge.core.identity import normalise_email, normalise_profile
from nudge.core.records import clean_line, clean_text

MULTI = " ::: "  # Google's separator of several values in one cell
OUTLOOK_SYSTEM = {"mycontacts", "starred"}  # what Google's "Outlook CSV" adds to Categories
ABBRS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {m: i + 1 for i, m in enumerate(ABBRS)}
EMAIL_N = re.compile(r"^e-mail \d+ - value$")
PHONE_N = re.compile(r"^phone \d+ - value$")
_WEBSITE_N = re.compile(r"^website \d+ - value$")


def _fields(
    name: str,
    emails: list[str],
    phones: list[str],
    org: str = "",
    title: str = "",
    birthday: str | None = None,
    categories: list[str] | None = None,
    note: str = "",
    websites: list[str] | None = None,
    connected_on: str | None = None,
) -> dict[str, Any]:
    return {
        "name": clean_line(name),
        "emails": list(dict.fromkeys(e for v in emails if (e := normalise_email(v)))),
        "phones": list(dict.fromkeys(t for v in phones if (t := clean_line(v)))),
        "org": clean_line(org),
        "title": clean_line(title),
        "birthday": birthday,
        "categories": list(dict.fromkeys(c for v in categories or [] if (c := clean_line(v)))),
        "note": clean_text(note).strip(),
        "profiles": list(dict.fromkeys(p for v in websites or [] if (p := normalise_profile(v)))),
        "connected_on": connected_on,
    }


def _joined(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _linkedin(row: dict[str, str], variant: str) -> dict[str, Any]:
    last = row.get("last name", "")
    if "," in last:  # credentials typed after the name: `Costa, CFA`
        last = last.split(",", 1)[0].strip()
    return _fields(
        _joined(row.get("first name", ""), last),
        [row.get("email address", "")],
        [],
        row.get("company", ""),
        row.get("position", ""),
        websites=[row.get("url", "")],
        connected_on=_connected(row.get("connected on", "")),
    )


def _many(row: dict[str, str], pattern: re.Pattern[str]) -> list[str]:
    return [v.strip() for c, cell in row.items() if pattern.match(c) for v in cell.split(MULTI) if v.strip()]


def _google(row: dict[str, str], variant: str) -> dict[str, Any]:
    if variant == "legacy":
        name = row.get("name", "") or _joined(
            row.get("given name", ""), row.get("additional name", ""), row.get("family name", "")
        )
        labels = row.get("group membership", "")
        org, title = row.get("organization 1 - name", ""), row.get("organization 1 - title", "")
    else:
        name = _joined(row.get("first name", ""), row.get("middle name", ""), row.get("last name", ""))
        labels = row.get("labels", "")
        org = row.get("organization name", "") or row.get("organization 1 - name", "")
        title = row.get("organization title", "") or row.get("organization 1 - title", "")
    name = name or row.get("nickname", "") or row.get("file as", "")
    return _fields(
        name,
        _many(row, EMAIL_N),
        _many(row, PHONE_N),
        org,
        title,
        _birthday(row.get("birthday", ""), "iso"),
        [g.strip() for g in labels.split(MULTI) if g.strip() and not g.strip().startswith("*")],
        row.get("notes", ""),
        _many(row, _WEBSITE_N),
    )


_OUTLOOK = {  # what nudge reads, by the header's language
    "en": {
        "names": ("first name", "middle name", "last name"),
        "emails": (
            ("e-mail address", "e-mail type"),
            ("e-mail 2 address", "e-mail 2 type"),
            ("e-mail 3 address", "e-mail 3 type"),
        ),
        "phone": "phone",
        "not phones": ("assistant's phone", "tty/tdd phone"),
        "org": "company",
        "title": "job title",
        "birthday": "birthday",
        "categories": "categories",
        "notes": "notes",
        "web": ("web page", "personal web page"),
    },
    "de": {
        "names": ("vorname", "weitere vornamen", "nachname"),
        "emails": (
            ("e-mail-adresse", "e-mail-typ"),
            ("e-mail 2: adresse", "e-mail 2: typ"),
            ("e-mail 3: adresse", "e-mail 3: typ"),
        ),
        "phone": "telefon",
        "not phones": ("telefon assistent", "telefon für hörbehinderte"),
        "org": "firma",
        "title": "position",
        "birthday": "geburtstag",
        "categories": "kategorien",
        "notes": "notizen",
        "web": ("webseite", "webseite privat"),
    },
}


def _outlook(row: dict[str, str], variant: str) -> dict[str, Any]:
    cols: dict[str, Any] = _OUTLOOK[variant]
    emails = [
        row.get(address, "")
        for address, kind in cols["emails"]
        if row.get(kind, "").upper() != "EX" and not row.get(address, "").startswith("/")
    ]
    phones = [v for c, v in row.items() if cols["phone"] in c and c not in cols["not phones"] and v]
    categories = re.split(r"[;,]", row.get(cols["categories"], ""))
    return _fields(
        _joined(*(row.get(c, "") for c in cols["names"])),
        emails,
        phones,
        row.get(cols["org"], ""),
        row.get(cols["title"], ""),
        _birthday(row.get(cols["birthday"], ""), variant),
        [c for c in categories if c.strip().casefold() not in OUTLOOK_SYSTEM],
        row.get(cols["notes"], ""),
        [row.get(c, "") for c in cols["web"]],
    )


READERS: dict[str, Callable[[dict[str, str], str], dict[str, Any]]] = {
    "linkedin": _linkedin,
    "google": _google,
    "outlook": _outlook,
}


# --- dates ---------------------------------------------------------------------------------

_ISO = re.compile(r"^(\d{4}|-)-(\d{1,2})-(\d{1,2})$")
_US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_DE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


def _birthday(value: str, variant: str) -> str | None:
    """`YYYY-MM-DD`, or `--MM-DD` without a year, from the dialect's spelling; None for none or nonsense.

    Outlook writes the exporting machine's short date (`2/29/1984` in English, `29.02.1984` in
    German) and `0/0/00` / `0.0.00` for none; Google writes ISO dates and `--MM-DD`.
    """
    value = value.strip()
    year: int | None
    if m := _ISO.match(value):
        year, month, day = (None if m.group(1) == "-" else int(m.group(1))), int(m.group(2)), int(m.group(3))
    elif variant == "en" and (m := _US.match(value)):
        year, month, day = int(m.group(3)), int(m.group(1)), int(m.group(2))
    elif variant == "de" and (m := _DE.match(value)):
        year, month, day = int(m.group(3)), int(m.group(2)), int(m.group(1))
    else:
        return None
    try:
        date(year or 2000, month, day)  # 2000: a leap year, so `--02-29` is a birthday
    except ValueError:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}" if year else f"--{month:02d}-{day:02d}"


def _connected(value: str) -> str | None:
    """LinkedIn's `02 Jun 2026` (English months, whatever the user's locale) as `2026-06-02`."""
    parts = value.split()
    if len(parts) != 3 or not parts[0].isdigit() or not parts[2].isdigit():
        return None
    month = _MONTHS.get(parts[1][:3].casefold())
    try:
        return date(int(parts[2]), month or 0, int(parts[0])).isoformat()
    except ValueError:
        return None
