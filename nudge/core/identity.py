"""Merge keys: normalised email addresses, E.164 phone numbers and LinkedIn profile URLs (pure).

The phone region national numbers are read in comes from the config
(`config.phone_region`).
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

_UNPRINTABLE = re.compile(r"[\x00-\x20\x7f-\x9f]")


def normalise_email(raw: str) -> str | None:
    """Case-folded address without `mailto:` and display decoration; None if not an address."""
    value = raw.strip()
    if value[:7].lower() == "mailto:":
        value = value[7:]
    if "<" in value and value.endswith(">"):
        value = value[value.rindex("<") + 1 : -1]
    value = value.strip().strip("<>").casefold()
    local, at, domain = value.rpartition("@")
    if not at or not local or "." not in domain or _UNPRINTABLE.search(value):
        return None
    return value


def normalise_phone(raw: str, region: str) -> str | None:
    """E.164 form (`+4930123456`), or None when the number cannot be understood.

    `region` ("" for none) reads numbers written without +country.
    """
    value = raw.strip()
    if value[:4].lower() == "tel:":
        value = value[4:]
    try:
        number = phonenumbers.parse(value, region or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def fold(text: str) -> str:
    """Accent- and case-insensitive form of a name, for forgiving matching."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


def phone_as_typed(raw: str) -> str:
    """A number kept as written (it did not parse): without `tel:` and surrounding space."""
    value = raw.strip()
    return value[4:].strip() if value[:4].lower() == "tel:" else value


_PROFILE = re.compile(
    r"^(?:https?://)?(?:[a-z]{2,3}\.|www\.)?linkedin\.com/in/([^/?#\s]+)/?(?:[?#].*)?$", re.IGNORECASE
)


def normalise_profile(raw: str) -> str | None:
    """A LinkedIn profile URL as one spelling (`https://www.linkedin.com/in/<slug>`), else None.

    Exports and address books write the same profile with or without `www.`, a country host
    (`de.linkedin.com`), `http`, a trailing slash, a tracking query or capitals in the slug.
    """
    m = _PROFILE.match(raw.strip())
    return f"https://www.linkedin.com/in/{m.group(1).lower()}" if m else None


def name_key(name: str) -> str:
    """A full name folded for matching people across exports: `fold`, without symbols and emoji.

    `Greta Holm 🌿` and `greta holm` are one key; letters of any script and digits stay.
    """
    kept = "".join(c if c.isalnum() or c.isspace() else " " for c in fold(name))
    return " ".join(kept.split())
