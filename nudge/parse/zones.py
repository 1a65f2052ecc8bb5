"""Time zones by name: the IANA database, and Windows names through CLDR's map (pure).

A calendar object carries each zone it uses twice: as a `TZID` name and as a
VTIMEZONE block of rules. When the name is one the IANA database knows
(`Europe/Berlin`), or a Windows name Outlook and Exchange write (`W. Europe
Standard Time`, mapped to IANA by CLDR's windowsZones, which icalendar ships),
nudge uses the database and never reads the block: both parse paths drop such
blocks before they read the object (`drop_known_timezones`) and name the zone
by its IANA name (`by_iana_name`). Rules written
into an object are copies of the database at best (Outlook's carry one rule
from 1601 for all years, so they are wrong before the current rule began) and
slow at worst: a zone built from a VTIMEZONE answers each `utcoffset` by
walking its yearly rules from their start. A name neither knows keeps its
VTIMEZONE, which icalendar then builds the zone from.
"""

from __future__ import annotations

import re
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

_BLOCK = re.compile(r"BEGIN:VTIMEZONE\r?\n.*?END:VTIMEZONE(?:\r?\n|$)", re.DOTALL | re.IGNORECASE)
_TZID_LINE = re.compile(r"^TZID(?:;[^:\r\n]*)?:([^\r\n]*)", re.IGNORECASE | re.MULTILINE)
_FOLD = re.compile(r"\r?\n[ \t]")


@lru_cache(maxsize=512)
def known_zone(tzid: str) -> ZoneInfo | None:
    """The IANA zone a TZID names (directly, or as a Windows name), or None.

    The name is cleaned as icalendar cleans it (surrounding `/` dropped), so both
    paths resolve it to the same zone.
    """
    name = tzid.strip("/")
    for candidate in (name, WINDOWS_TO_OLSON.get(name)):
        if not candidate:
            continue
        try:
            return ZoneInfo(candidate)
        except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
            continue
    return None


def drop_known_timezones(text: str) -> str:
    """`text` without the VTIMEZONE blocks whose TZID `known_zone` resolves."""
    if "VTIMEZONE" not in text.upper():
        return text

    def keep(block: re.Match[str]) -> str:
        found = _TZID_LINE.search(_FOLD.sub("", block.group()))
        return "" if found and known_zone(found.group(1)) is not None else block.group()

    return _BLOCK.sub(keep, text)


_TZID_PARAM = re.compile(r';TZID=("[^"]*"|[^;:]*)', re.IGNORECASE)


def by_iana_name(line: str) -> str:
    """`line` with each TZID parameter `known_zone` resolves written as its IANA name.

    icalendar looks a zone up by the TZID as written, in a cache that a VTIMEZONE
    read once anywhere in the process fills for a Windows name; by its IANA name
    the zone always comes from the database.
    """
    if ";TZID=" not in line.upper():
        return line
    quoted, end = False, len(line)
    for i, char in enumerate(line):  # the parameters end at the first ':' outside quotes
        if char == '"':
            quoted = not quoted
        elif char == ":" and not quoted:
            end = i
            break

    def iana(m: re.Match[str]) -> str:
        zone = known_zone(m.group(1).strip('"'))
        return f";TZID={zone.key}" if zone is not None else m.group()

    return _TZID_PARAM.sub(iana, line[:end]) + line[end:]
