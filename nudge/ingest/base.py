"""What the parts of one ingest share: the transaction, the batch's records, rows and warmth.

`Batch` owns that state and is the only one to change it; the parts (contacts,
tiers, events, mail) call its methods. A part with rows of its own to insert
before anything reads the store (new contacts) registers a flusher, which
`Batch.flush` runs before the batch's collected rows go in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from nudge.core.phone import PhoneRules
from nudge.core.touches import Effect, MailRules, Rules
from nudge.store.derived import add_warmth, refresh_contacts
from nudge.store.models import Identity, Sighting, SourceRecord
from nudge.store.query import chunks


@dataclass(frozen=True)
class Context:
    """The settings ingest needs, as plain values."""

    rules: Rules
    region: str
    tier_groups: dict[str, str]  # folded group name -> tier
    half_life_days: float
    tz: tzinfo
    now: datetime
    mail: MailRules
    phone: PhoneRules = field(default_factory=PhoneRules)  # what calls and texts from the phone count for


class Batch:
    """One source's batch inside one transaction: its session, records, pending rows and warmth."""

    def __init__(
        self,
        session: Session,
        source: str,
        ctx: Context,
        identities: dict[tuple[str, str], int],
    ) -> None:
        self.session = session
        self.source = source
        self.ctx = ctx
        self.identities = identities  # (kind, value) -> contact: written by the contacts part only
        self._records: dict[str, SourceRecord] = {}
        self._absent: set[str] = set()  # preloaded hrefs with no record yet
        self._rows: dict[type[SQLModel], list[dict[str, Any]]] = {}  # fresh rows not inserted yet
        self._flushers: list[Callable[[], None]] = []
        self._recount: set[int] = set()  # contacts whose touches changed: recounted
        self._gained: dict[int, list[tuple[datetime, float]]] = {}  # contacts that only gained touches

    # --- the batch's source records -------------------------------------------------

    def preload(self, hrefs: list[str]) -> None:
        """Fetch the records for a batch in a few queries instead of one each."""
        for chunk in chunks(hrefs):
            for sr in self.session.exec(
                select(SourceRecord).where(
                    SourceRecord.source == self.source, col(SourceRecord.href).in_(chunk)
                )
            ):
                self._records[sr.href] = sr
        self._absent.update(h for h in hrefs if h not in self._records)

    def record(self, href: str) -> SourceRecord | None:
        if href in self._records:
            return self._records[href]
        if href in self._absent:
            return None
        self.flush()
        return self.session.exec(
            select(SourceRecord).where(SourceRecord.source == self.source, SourceRecord.href == href)
        ).first()

    def remember(self, sr: SourceRecord) -> None:
        """`sr` is the record of its href from now on (a new one, or one moved to a new href)."""
        self._records[sr.href] = sr
        self._absent.discard(sr.href)

    def will_insert(self, href: str) -> None:
        """A row for `href` is collected for insertion: a later lookup reads it from the store."""
        self._absent.discard(href)

    def forget(self, href: str) -> None:
        """`href` has no record any more."""
        self._records.pop(href, None)
        self._absent.add(href)

    # --- rows inserted in bulk ----------------------------------------------------------

    def add_row(self, model: type[SQLModel], row: dict[str, Any]) -> None:
        self._rows.setdefault(model, []).append(row)

    def on_flush(self, flusher: Callable[[], None]) -> None:
        """Run `flusher` first whenever the batch flushes (a part's own pending rows)."""
        self._flushers.append(flusher)

    def flush(self) -> None:
        """Insert what the parts and the batch collected (ORM objects first: rows may refer to them)."""
        for flusher in self._flushers:
            flusher()
        if not any(self._rows.values()):
            return
        self.session.flush()
        for model, rows in self._rows.items():
            if rows:
                # Core executemany (the ORM's bulk path costs more per row); owner_id: the store stamps it.
                self.session.connection().execute(sa.insert(model), rows)
        self._rows = {}

    # --- warmth ----------------------------------------------------------------------------

    def recount(self, contact_id: int) -> None:
        """This contact's touches changed (updated, deleted): its warmth is counted again."""
        self._recount.add(contact_id)

    def gain(self, contact_id: int, at: datetime, weight: float) -> None:
        """This contact only gained a touch: its stored warmth is rolled forward and added to."""
        self._gained.setdefault(contact_id, []).append((at, weight))

    def settle_warmth(self) -> None:
        """Bring every contact touched in this batch up to date (last touch, warmth sum)."""
        now, half_life = self.ctx.now, self.ctx.half_life_days
        gained = {cid: g for cid, g in self._gained.items() if cid not in self._recount}
        add_warmth(self.session, gained, now, half_life)
        refresh_contacts(self.session, self._recount, now, half_life)
        self._recount.clear()
        self._gained.clear()

    def touch_row(self, cid: int, seen: Effect | Sighting) -> dict[str, Any]:
        """The touch a past meeting (or, for a sighting, an email or a meeting) gives a contact."""
        return {
            "contact_id": cid,
            "kind": seen.kind if isinstance(seen, Sighting) else "meeting",
            "source": seen.source if isinstance(seen, Sighting) else self.source,
            "external_id": seen.external_id,
            "at": seen.at,
            "weight": seen.weight,
            "direction": seen.direction,
            "summary": seen.summary,
            "created_at": self.ctx.now,
        }


def load_identities(session: Session, keys: Iterable[tuple[str, str]] | None) -> dict[tuple[str, str], int]:
    """(kind, value) -> contact: every identity, or (cheaper on a large store) just these."""
    if keys is None:
        return {
            (k, v): c
            for k, v, c in session.execute(select(Identity.kind, Identity.value, Identity.contact_id))
        }
    found: dict[tuple[str, str], int] = {}
    by_kind: dict[str, list[str]] = {}
    for kind, value in set(keys):
        by_kind.setdefault(kind, []).append(value)
    for kind, values in by_kind.items():
        for chunk in chunks(values):
            query = select(Identity.value, Identity.contact_id).where(
                Identity.kind == kind, col(Identity.value).in_(chunk)
            )
            found.update(((kind, v), c) for v, c in session.execute(query))
    return found
