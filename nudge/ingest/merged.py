"""The contacts the user merged (`nudge merge`), as sync looks them up: a card met afresh stays merged."""

from __future__ import annotations

from sqlmodel import Session, select

from nudge.core.identity import fold
from nudge.store.models import Merge


class Merged:
    """Where the cards of merged-in contacts belong, loaded once per batch when first asked.

    A card is known by its href or UID; else by the merged-in person's name within a source
    their cards came from, so a card re-exported with a new UID and new addresses stays merged.
    """

    def __init__(self, session: Session, source: str) -> None:
        self.session = session
        self.source = source
        self._keys: dict[str, int] | None = None

    def _load(self) -> dict[str, int]:
        keys: dict[str, int] = {}
        for cid, name, cards in self.session.exec(select(Merge.contact_id, Merge.name, Merge.cards)):
            for line in cards.splitlines():
                keys[line] = cid
                keys[f"{line.partition(chr(9))[0]}\tname:{name}"] = cid
        return keys

    def into(self, href: str, uid: str, name: str) -> int | None:
        """The contact this card was merged into, if it was."""
        if self._keys is None:
            self._keys = self._load()
        if not self._keys:
            return None
        keys = [f"{self.source}\thref:{href}", f"{self.source}\tuid:{uid}" if uid else ""]
        keys.append(f"{self.source}\tname:{fold(name)}")
        return next((self._keys[k] for k in keys if k in self._keys), None)
