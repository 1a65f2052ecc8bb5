"""Google People / Calendar JSON -> plain records (pure). Filled in by the Google sources work."""

from __future__ import annotations

from datetime import datetime, tzinfo

from nudge.parse import ContactRecord, EventRecord, ParseError


def parse_person(data: str) -> ContactRecord:
    raise ParseError("Google contacts are not supported yet")


def parse_event(data: str, tz: tzinfo, window_start: datetime, window_end: datetime) -> EventRecord:
    raise ParseError("Google calendar events are not supported yet")
