"""The phone-backup and call-log parsers on malformed input: never a crash, every bad entry counted.

Hypothesis cuts, splices and garbles the android samples (tests/data/exports/android) and writes
rows of arbitrary text under a call-log header; each file must split, and each object parse to a
record or fail with a `ParseError`, the way sync counts a skipped object.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from nudge.core.records import PhoneRecord
from nudge.parse import ParseError, Window
from nudge.parse.phone import (
    join_surrogates,
    parse_entry,
    sniff_backup,
    sniff_call_log,
    split_backup,
    split_call_log,
)

ANDROID = Path(__file__).resolve().parents[1] / "data" / "exports" / "android"
CALLS = (ANDROID / "SMSBackupRestore" / "calls-20260615080009.xml").read_text(encoding="utf-8")
SMS = (ANDROID / "SMSBackupRestore" / "sms-20260615080009.xml").read_text(encoding="utf-8")
WINDOW = Window(ZoneInfo("Europe/Berlin"), datetime(2024, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def read_all(objects: list[tuple[str, str]]) -> tuple[list[PhoneRecord], list[str]]:
    records, bad = [], []
    for key, data in objects:
        assert key  # every object has a key: none becomes an anonymous "no UID" skip
        try:
            records.append(parse_entry(data, WINDOW))
        except ParseError as e:
            bad.append(e.reason)
    return records, bad


def test_the_samples_read_whole() -> None:
    calls, bad_calls = read_all(split_backup(CALLS))
    texts, bad_texts = read_all(split_backup(SMS))
    assert (len(calls), bad_calls, len(texts), bad_texts) == (21, [], 11, [])
    assert sniff_backup(CALLS) and sniff_backup(SMS) and not sniff_call_log(CALLS)


@given(st.integers(min_value=0, max_value=len(CALLS)))
def test_a_backup_cut_anywhere_keeps_the_whole_entries_before_the_cut(cut: int) -> None:
    text = CALLS[:cut]
    records, bad = read_all(split_backup(text))
    whole = text.count("/>") - text.count("<?xml-stylesheet")  # each whole <call .../> ends so
    assert len(records) <= 21
    if text.rstrip().endswith("</calls>"):
        assert (len(records), bad) == (21, [])
    else:
        assert len(records) >= max(0, whole - 1)
        assert len(bad) == 1  # the cut, once


@given(st.data())
def test_garbled_backups_never_crash(data: st.DataObject) -> None:
    text = data.draw(st.sampled_from([CALLS, SMS]))
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 200)))
    junk = data.draw(st.text(max_size=40))
    read_all(split_backup(text[:start] + junk + text[end:]))


@given(
    st.lists(
        st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=25), max_size=6),
        max_size=8,
    ),
    st.sampled_from([",", ";"]),
)
def test_call_log_rows_of_anything_are_records_or_counted(rows: list[list[str]], sep: str) -> None:
    head = sep.join(("number", "date", "direction", "duration"))
    lines = [sep.join('"' + cell.replace('"', '""') + '"' for cell in row) for row in rows]
    text = "\n".join([head, *lines]) + "\n"
    objects = split_call_log(text)
    records, bad = read_all(objects)
    assert len(records) + len(bad) == len(objects) <= len(rows) + 1


@given(st.text(alphabet="&#x0123456789;DdCcAaBbFf<>\"'a ", max_size=60))
def test_character_references_never_break_the_join(text: str) -> None:
    joined = join_surrogates(text)
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in joined)


def test_surrogate_halves_are_joined_and_lone_ones_replaced() -> None:
    assert join_surrogates("a&#55356;&#57225;&#xD83D;&#xDE0A;b") == "a\U0001f389\U0001f60ab"
    assert join_surrogates("&#55357;x&#56842;&#1;&#10;") == "\ufffdx\ufffd\ufffd&#10;"
