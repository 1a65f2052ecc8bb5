"""What every parser shares: the one error it raises, and small helpers (pure)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, tzinfo


class ParseError(ValueError):
    """An object that cannot be used; `reason` says why in a few words."""

    def __init__(self, reason: str, uid: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.uid = uid


@dataclass(frozen=True)
class Window:
    """What parsing an event needs besides its text: the user's zone, and the span to expand."""

    tz: tzinfo
    start: datetime
    end: datetime


def content_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


def short_reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text[:160]
