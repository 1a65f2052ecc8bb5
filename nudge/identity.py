"""Merge keys: normalised email addresses and E.164 phone numbers (pure).

Also the phone region nudge reads national numbers in when `me.region` is
unset: the country of the configured time zone, from tzdata's own zone.tab
(phonenumbers has no zone table), else the locale's.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from importlib import resources

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


@functools.cache
def _zone_countries() -> dict[str, str]:
    """IANA zone name -> ISO 3166 country, from tzdata's zone.tab; links (US/Eastern) follow their zone."""
    folder = resources.files("tzdata").joinpath("zoneinfo")
    countries: dict[str, str] = {}
    for line in folder.joinpath("zone.tab").read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if not line.startswith("#") and len(fields) >= 3:
            countries[fields[2]] = fields[0]
    for line in folder.joinpath("tzdata.zi").read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0] == "L" and fields[1] in countries:
            countries.setdefault(fields[2], countries[fields[1]])
    return countries


def _known(region: str) -> bool:
    return phonenumbers.country_code_for_region(region) != 0


def region_for(zone: str, locale: str = "") -> str:
    """The phone region of a time zone (Europe/Berlin: DE), else of a locale (de_AT.UTF-8: AT), else ""."""
    country = _zone_countries().get(zone, "")
    if country and _known(country):
        return country
    m = re.match(r"[a-z]{2,3}_([A-Z]{2})\b", locale)
    if m and _known(m.group(1)):
        return m.group(1)
    return ""


def phone_region(configured: str, zone: str) -> str:
    """`me.region` if set, else the region of `zone`, else of the locale ($LC_ALL, $LC_TELEPHONE, $LANG).

    "" means none: only numbers written with +country are understood; the others are kept as typed.
    """
    if configured:
        return configured
    locale = next((v for k in ("LC_ALL", "LC_TELEPHONE", "LANG") if (v := os.environ.get(k, ""))), "")
    return region_for(zone, locale)
