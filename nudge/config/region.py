"""The phone region national numbers are read in: `me.region`, else the country of the time zone
(from tzdata's own zone.tab: phonenumbers has no zone table), else the locale's.
"""

from __future__ import annotations

import functools
import os
import re
from importlib import resources

import phonenumbers


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
