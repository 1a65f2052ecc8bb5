"""Warmth and due scores (pure: `now` is always a parameter).

Warmth is `100 * (1 - exp(-S))` with `S = sum(w * 2^(-age / half_life))`.
Every term decays by the same factor, so a contact's S can be stored once with
the time it was computed and rolled forward later without reading touches.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime

DAY = 86400.0
LABELS = ((70.0, "hot"), (40.0, "warm"), (15.0, "cooling"), (0.0, "cold"))


def require_aware(value: datetime, name: str = "now") -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value


def decay(age_days: float, half_life_days: float) -> float:
    return math.pow(2.0, -max(age_days, 0.0) / half_life_days)


def touch_sum(touches: Iterable[tuple[datetime, float]], now: datetime, half_life_days: float) -> float:
    """S for the given (at, weight) touches; touches after `now` do not count yet."""
    require_aware(now)
    total = 0.0
    for at, weight in touches:
        age = (now - at).total_seconds() / DAY
        if age >= 0:
            total += weight * decay(age, half_life_days)
    return total


def roll_forward(s: float, computed_at: datetime, now: datetime, half_life_days: float) -> float:
    """S at `now` from S stored at `computed_at`."""
    age = (require_aware(now) - computed_at).total_seconds() / DAY
    return s * decay(age, half_life_days)


def score(s: float) -> float:
    """Warmth in [0, 100] from S."""
    return 100.0 * (1.0 - math.exp(-max(s, 0.0)))


def label(warmth: float) -> str:
    for threshold, name in LABELS:
        if warmth >= threshold:
            return name
    return "cold"


def due(last_touch: datetime | None, now: datetime, cadence_days: float) -> float | None:
    """Days since the last touch over the cadence; >= 1 is overdue; None if never touched."""
    if last_touch is None:
        return None
    return max((require_aware(now) - last_touch).total_seconds() / DAY, 0.0) / cadence_days
