"""Who belongs in your top 100: relationship evidence, ranked (pure).

Meetings and calls over the last two years, how recent the last one is, how
many different months you were in touch, whether it goes both ways, and any
referral history. Every part only grows with more evidence, so someone with
strictly more and more recent contact never ranks below someone with less.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from nudge.core.warmth import decay

WINDOW_DAYS = 730
KIND_POINTS = {"meeting": 1.0, "call": 0.8, "message": 0.3, "email": 0.2}


@dataclass(frozen=True)
class Evidence:
    """What the store knows about one contact over the last two years."""

    id: int
    name: str
    tier: str | None
    counts: dict[str, int]  # touches by kind
    last_at: datetime | None  # the most recent touch
    months: int  # distinct calendar months with a touch
    inbound: int  # touches they started
    outbound: int  # touches you started (meetings count both ways)
    referrals: int  # ledger entries either way
    # Someone met or mailed who is in no address book (`Sighting`s): their address; `id` is 0.
    email: str = ""
    first_at: datetime | None = None  # the first time they were seen


@dataclass(frozen=True)
class Ranked:
    evidence: Evidence
    score: float
    reasons: str


def _age(days: float) -> str:
    if days < 1:
        return "today"
    if days < 2:
        return "yesterday"
    if days < 14:
        return f"{int(days)} days ago"
    if days < 70:
        return f"{int(days // 7)} weeks ago"
    return f"{int(days // 30)} months ago"


def score(e: Evidence, now: datetime) -> float:
    volume = sum(KIND_POINTS.get(kind, 0.2) * n for kind, n in e.counts.items())
    recency = 0.0
    if e.last_at is not None:
        recency = 10.0 * decay((now - e.last_at).total_seconds() / 86400, 90)
    both_ways = 3.0 if e.inbound and e.outbound else 0.0
    return volume + 1.5 * e.months + recency + both_ways + 4.0 * e.referrals


def _sighted(e: Evidence) -> str:
    """'met 6 times since Mar 2026, last 12 Nov, 3 emails': what the calendars and mail saw."""
    met, mails = e.counts.get("meeting", 0), e.counts.get("email", 0)
    parts = [f"met {met} time{'s' if met != 1 else ''}"] if met else []
    if mails:
        parts.append(f"{mails} email{'s' if mails != 1 else ''}")
    if e.first_at is not None and e.last_at is not None and e.first_at.date() != e.last_at.date():
        parts[0] += f" since {e.first_at:%b %Y}"
    if e.last_at is not None:
        parts.append(f"last {e.last_at:%d %b %Y}")
    return ", ".join(parts) + "; in no address book"


def reasons(e: Evidence, now: datetime) -> str:
    if e.email:
        return _sighted(e)
    parts = []
    for kind in ("meeting", "call", "message", "email"):
        n = e.counts.get(kind, 0)
        if n:
            parts.append(f"{n} {kind}{'s' if n != 1 else ''}")
    if e.last_at is not None:
        age = _age((now - e.last_at).total_seconds() / 86400)
        parts.append(f"last {age}")
    if e.months > 1:
        parts.append(f"in {e.months} months")
    if e.inbound and e.outbound:
        parts.append("both ways")
    if e.referrals:
        parts.append(f"{e.referrals} referral{'s' if e.referrals != 1 else ''}")
    return ", ".join(parts) or "no contact in two years"


def rank(evidence: list[Evidence], now: datetime, limit: int) -> list[Ranked]:
    ranked = [Ranked(e, score(e, now), reasons(e, now)) for e in evidence]
    ranked.sort(key=lambda r: (-r.score, r.evidence.name, r.evidence.id, r.evidence.email))
    return ranked[:limit]
