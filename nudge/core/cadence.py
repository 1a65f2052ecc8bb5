"""A person's own cadence, as the user writes it: `14d`, `2w`, `3m`, `default` (pure).

`nudge cadence NAME 14d` sets it; an address book can too, with `X-NUDGE-CADENCE:14d` on
a card or a category `cadence:14d` (so a whole group can share one). A month is 30 days
and a year 365: a cadence is a rhythm, not a calendar date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

DEFAULT_WORDS = ("default", "none", "off", "tier", "-")
MAX_DAYS = 3650
_UNITS = {"d": 1, "day": 1, "w": 7, "week": 7, "m": 30, "month": 30, "y": 365, "year": 365}
_CADENCE = re.compile(r"^\s*(\d{1,4})\s*(d|days?|w|weeks?|m|months?|y|years?)?\s*$", re.IGNORECASE)
CATEGORY = "cadence:"


def parse_cadence(text: str) -> int | None:
    """Days of `14d`, `2w`, `3 months`, `21` (days); None for `default`. ValueError otherwise."""
    if text.strip().lower() in DEFAULT_WORDS:
        return None
    m = _CADENCE.match(text)
    if m is None:
        raise ValueError(f"{text.strip()!r} is not a cadence: use 14d, 2w, 3m, 1y (or default)")
    unit = (m.group(2) or "d").lower().rstrip("s")
    days = int(m.group(1)) * _UNITS[unit]
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"a cadence is 1 day to 10 years, not {text.strip()!r}")
    return days


def book_cadence(value: str, categories: Iterable[str]) -> int | None:
    """The cadence a card names (its X-NUDGE-CADENCE, else a `cadence:14d` category); None if none
    or unreadable (an address book's typo never stops a sync)."""
    named = [value] if value.strip() else []
    named += [c[len(CATEGORY) :] for c in categories if c.strip().lower().startswith(CATEGORY)]
    for text in named:
        try:
            days = parse_cadence(text)
        except ValueError:
            continue
        if days is not None:
            return days
    return None


def days_words(days: int) -> str:
    """'14 days', '1 day'."""
    return f"{days} day{'s' if days != 1 else ''}"
