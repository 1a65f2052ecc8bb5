"""Dates and durations as people type them: `yesterday`, `3 days ago`, `last friday 15:00`, `2w`, `1y`,
`until 2027-01-15`.

ISO dates and the short forms are read here directly; anything else goes to
dateparser, imported only then (it costs ~0.1 s to import and ~0.3 s to load
its English data, which `nudge --help` and the daemon never pay). Relative
dates count from the user's own clock in their time zone, not the machine's.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from nudge.errors import UserError

SHORT_UNITS = {"d": 1, "w": 7, "m": 30, "y": 365}
MAX_SNOOZE_DAYS = 3660
_SHORT = re.compile(r"\s*(\d+)\s*([dwmy])\s*")
_HAS_TIME = re.compile(r"\d:\d|\d\s*[ap]\.?m\b|\bnoon\b|\bmidnight\b", re.IGNORECASE)
_UNTIL = re.compile(r"^\s*(until|till|til|to|for)\s+", re.IGNORECASE)


def _natural(text: str, base: datetime, zone: str, prefer: str) -> datetime | None:
    """dateparser's reading of `text` (aware, in `zone`) relative to the naive local `base`."""
    import dateparser  # type: ignore[import-untyped]

    settings: dict[str, Any] = {
        "RELATIVE_BASE": base,
        "PREFER_DATES_FROM": prefer,
        "TIMEZONE": zone,
        "TO_TIMEZONE": zone,
        "RETURN_AS_TIMEZONE_AWARE": True,
    }
    found: datetime | None = dateparser.parse(text, languages=["en"], settings=settings)
    return found


def past_moment(text: str, tz: tzinfo, now: datetime, option: str = "--at") -> datetime:
    """When something happened, in UTC: an ISO date (noon local) or time, or words.

    A day without a time of day is taken at noon, so that it stays the same day
    wherever it is shown. A moment in the future is refused.
    """
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is not None:
        if parsed.tzinfo is None:
            has_time = "T" in value or " " in value
            parsed = parsed.replace(tzinfo=tz) if has_time else parsed.replace(hour=12, tzinfo=tz)
    else:
        local = now.astimezone(tz)
        found = _natural(value, local.replace(tzinfo=None), getattr(tz, "key", str(tz)), "past")
        if found is None:
            raise UserError(
                f"{option}: cannot read {text!r} as a date; try 2026-11-20, 2026-11-20T15:00, "
                "yesterday, '3 days ago' or 'last friday 15:00'"
            )
        parsed = found
        if not _HAS_TIME.search(value) and (parsed.hour, parsed.minute, parsed.second) == (0, 0, 0):
            parsed = parsed.replace(hour=12)
    when = parsed.astimezone(UTC)
    if when > now + timedelta(minutes=5):
        local_when = when.astimezone(tz)
        raise UserError(
            f"{option} {text!r} is in the future ({local_when:%a %d %b %Y %H:%M}); give a past time"
        )
    return when


def snooze_end(text: str, today: date) -> date:
    """The day a snooze ends: '10d', '2w', '3m', '1y', 'until 2027-01-15', '3 weeks', 'next friday'."""
    value = _UNTIL.sub("", text.strip())
    m = _SHORT.fullmatch(value.lower())
    if m:
        n, unit = int(m.group(1)), m.group(2)
        days = n * SHORT_UNITS[unit]
        if days == 0:
            raise UserError(
                f"a snooze of {text.strip()} ends today; give at least 1d (or `off` to wake someone)"
            )
        if days > MAX_SNOOZE_DAYS:
            raise UserError(f"{text.strip()} is more than ten years; use `nudge tier NAME none` instead")
        return today + timedelta(days=days)
    try:
        until = date.fromisoformat(value)
    except ValueError:
        base = datetime.combine(today, datetime.min.time()).replace(hour=12)
        found = _natural(value, base, "UTC", "future") if value else None
        if found is None:
            raise UserError(
                f"use a duration like 10d, 2w, 3m, 1y, '3 weeks', or a date (2027-01-15, "
                f"'until next friday'), not {text!r}"
            ) from None
        until = found.date()
    if until <= today:
        raise UserError(f"{text.strip()} ({until}) is not in the future; a snooze must end after today")
    if (until - today).days > MAX_SNOOZE_DAYS:
        raise UserError(f"{text.strip()} is more than ten years away; use `nudge tier NAME none` instead")
    return until


MAX_FOLLOW_UP_DAYS = 3660
_TODAY_WORDS = {"today": 0, "now": 0, "tomorrow": 1, "tmrw": 1}


def due_date(text: str, today: date) -> date:
    """The day a follow-up is due: 'fri', '2w', '10d', '12 dec', '2027-01-15', 'next monday', 'today'.

    Like `snooze_end`, but today is allowed (a promise for later today), and a
    weekday or day of the year means the next one to come.
    """
    value = _UNTIL.sub("", text.strip()).lower()
    value = re.sub(r"^(on|by|in)\s+", "", value)
    if value in _TODAY_WORDS:
        return today + timedelta(days=_TODAY_WORDS[value])
    m = _SHORT.fullmatch(value)
    if m:
        days = int(m.group(1)) * SHORT_UNITS[m.group(2)]
        if days > MAX_FOLLOW_UP_DAYS:
            raise UserError(f"{text.strip()} is more than ten years away")
        due = today + timedelta(days=days)
    else:
        try:
            due = date.fromisoformat(value)
        except ValueError:
            base = datetime.combine(today, datetime.min.time()).replace(hour=12)
            found = _natural(value, base, "UTC", "future") if value else None
            if found is None:
                raise UserError(
                    f"cannot read {text!r} as a day; try fri, 2w, 10d, 3m, '12 dec', 2027-01-15 "
                    "or 'next monday'"
                ) from None
            due = found.date()
    if due < today:
        raise UserError(f"{text.strip()} ({due}) has passed; give a day from today on")
    if (due - today).days > MAX_FOLLOW_UP_DAYS:
        raise UserError(f"{text.strip()} is more than ten years away")
    return due
