"""Which cadence applies to a person, and why (`nudge show`): their own, or their tier's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from sqlmodel import Session, col, select

from nudge.config import Settings
from nudge.core.cadence import days_words
from nudge.store.models import Contact, UserAction


@dataclass(frozen=True)
class Cadence:
    days: int | None  # what the planner uses; None when they are in no tier and have none of their own
    why: str  # "14 days, set with nudge cadence on 3 Dec", "30 days, the top100 tier's default"


def cadence_of(session: Session, settings: Settings, contact: Contact, tz: tzinfo) -> Cadence:
    tier = settings.tiers.get(contact.tier) if contact.tier else None
    own, source = contact.cadence_days, contact.cadence_source
    if own:
        if source == "cli":
            why = f"{days_words(own)}, set with nudge cadence{_when(session, contact, tz)}"
        elif source and source.startswith("source:"):
            why = f"{days_words(own)}, from the address book {source[7:]!r}"
        else:
            why = f"{days_words(own)}, their own"
        return Cadence(own, why if tier else f"{why} (counts once they are in a tier)")
    if tier is None:
        return Cadence(None, "none: they are in no tier")
    why = f"{days_words(tier.cadence_days)}, the {contact.tier} tier's default"
    if source == "cli":
        why += f" (set back with nudge cadence{_when(session, contact, tz)})"
    return Cadence(tier.cadence_days, why)


def _when(session: Session, contact: Contact, tz: tzinfo) -> str:
    """' on 3 Dec': the day of the latest `nudge cadence` for them still in force."""
    at = session.exec(
        select(UserAction.at)
        .where(
            UserAction.contact_id == contact.id,
            UserAction.kind == "cadence",
            col(UserAction.undone_at).is_(None),
        )
        .order_by(col(UserAction.id).desc())
    ).first()
    if at is None:
        return ""
    local = at.astimezone(tz)
    return f" on {local.day} {local:%b}"
