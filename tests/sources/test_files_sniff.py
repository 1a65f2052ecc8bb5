"""Formats that share a suffix: each file goes to the format that recognises it, the rest are named.

Two throwaway formats on a suffix nobody uses, registered for the length of a test, stand in for
the CSV dialects (LinkedIn, Google, a call log) that share `.csv`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nudge.parse import FORMATS, Format, register
from nudge.sources.base import Item
from nudge.sources.files import FilesOptions, FilesSource

SUFFIX = ".sniffed"


def split_lines(text: str) -> list[tuple[str, str]]:
    return [(line.split(",")[0], line) for line in text.splitlines()[1:] if line.strip()]


def is_people(head: str) -> bool:
    return head.startswith("Name,Email")


def is_calls(head: str) -> bool:
    return head.startswith("Number,Date")


@pytest.fixture
def two_formats() -> Iterator[None]:
    here = __name__
    register(
        Format(
            "t-people",
            "contacts",
            f"{here}:split_lines",
            (SUFFIX,),
            f"{here}:split_lines",
            "people list",
            sniff=f"{here}:is_people",
        )
    )
    register(
        Format(
            "t-calls",
            "events",
            f"{here}:split_lines",
            (SUFFIX,),
            f"{here}:split_lines",
            "call list",
            sniff=f"{here}:is_calls",
        )
    )
    yield
    del FORMATS["t-people"], FORMATS["t-calls"]


def test_files_sharing_a_suffix_go_to_the_format_that_recognises_them(
    tmp_path: Path, two_formats: None
) -> None:
    (tmp_path / "people.sniffed").write_text("Name,Email\nana,ana@example.org\nben,ben@example.org\n")
    # UTF-16 with a BOM, as Outlook writes: recognised from the decoded text, not the bytes
    (tmp_path / "calls.sniffed").write_bytes("Number,Date\n+4915112345678,2026-11-30\n".encode("utf-16"))
    (tmp_path / "other.sniffed").write_text("Something,Else\n1,2\n")
    source = FilesSource("phone", FilesOptions(paths=[str(tmp_path)]))

    kinds = {c.kind: c for c in source.collections()}

    assert set(kinds) == {"contacts", "events"}
    people = list(source.fetch(kinds["contacts"], source.list(kinds["contacts"])))
    calls = list(source.fetch(kinds["events"], source.list(kinds["events"])))
    assert [(i.format, i.data) for i in people if isinstance(i, Item)] == [
        ("t-people", "ana,ana@example.org"),
        ("t-people", "ben,ben@example.org"),
    ]
    assert [(i.format, i.data) for i in calls if isinstance(i, Item)] == [
        ("t-calls", "+4915112345678,2026-11-30")
    ]
    notices = [n.text for n in source.notices()]
    assert any("other.sniffed" in n and "people list or call list" in n for n in notices), notices
    assert not any("people.sniffed" in n or "calls.sniffed" in n for n in notices), notices


def test_a_listed_file_no_format_recognises_is_named_not_read(tmp_path: Path, two_formats: None) -> None:
    path = tmp_path / "export.sniffed"
    path.write_text("First Name,Last Name\nAna,Lima\n")
    source = FilesSource("x", FilesOptions(paths=[str(path)]))

    assert source.collections() == []
    assert [n.text for n in source.notices() if "export.sniffed" in n.text and "left out" in n.text]
