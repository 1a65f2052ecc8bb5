"""The registered formats' entry points: one object's text (and the window) -> a record (pure).

Each takes `(text, Window)`, the shape `parse.Format.parser` names. vCards and
events try the fast path first (`parse.fast`: plain objects without the
libraries' machinery) and fall back to the library; the splitters cut a file
of the format into its objects, keyed by UID (or a derived key).
"""

from __future__ import annotations

from nudge.core.records import ContactRecord, EventRecord, GroupRecord, MessageRecord
from nudge.parse.base import Window
from nudge.parse.fast import fast_card, fast_event
from nudge.parse.ical import parse_ical
from nudge.parse.text import NO_KEY, block_uid, card_key, split_calendar, split_components
from nudge.parse.vcard import parse_vcard


def vcard(data: str, window: Window) -> ContactRecord | GroupRecord:
    return fast_card(data) or parse_vcard(data)


def ical(data: str, window: Window) -> EventRecord:
    return fast_event(data, window.tz, window.start, window.end) or parse_ical(
        data, window.tz, window.start, window.end
    )


def email(data: str, window: Window) -> MessageRecord:
    from nudge.parse.email import parse_message  # only for mail sources

    return parse_message(data)


def google_person(data: str, window: Window) -> ContactRecord:
    from nudge.parse.google import parse_person  # only for Google sources

    return parse_person(data)


def google_event(data: str, window: Window) -> EventRecord:
    from nudge.parse.google import parse_event

    return parse_event(data, window.tz, window.start, window.end)


def split_vcards(text: str) -> list[tuple[str, str]]:
    """(key, card) per VCARD block; the key is its UID, else `card_key`, else ""."""
    return [(block_uid(b) or card_key(b), b) for b in split_components(text, "VCARD")]


def split_events(text: str) -> list[tuple[str, str]]:
    """(key, calendar) per UID: its VEVENTs and the VTIMEZONEs they use (`split_calendar`); the key
    is "" for an event with neither UID nor DTSTART."""
    return [("" if key.startswith(NO_KEY) else key, data) for key, data in split_calendar(text)]
