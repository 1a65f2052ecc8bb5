"""Merge keys: emails and phones normalise to one form."""

from __future__ import annotations

import pytest

from nudge.core.identity import fold, normalise_email, normalise_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ana.Ruiz@Example.ORG", "ana.ruiz@example.org"),
        ("MAILTO:ana@example.org", "ana@example.org"),
        ("mailto:ana@example.org", "ana@example.org"),
        ("Ana Ruiz <ana@example.org>", "ana@example.org"),
        ("  ana@example.org  ", "ana@example.org"),
        ("not an address", None),
        ("ana@localhost", None),
        ("@example.org", None),
        ("", None),
    ],
)
def test_normalise_email(raw: str, expected: str | None) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+49 30 1234567", "US", "+49301234567"),
        ("030 1234567", "DE", "+49301234567"),
        ("tel:+1-202-555-0143", "DE", "+12025550143"),
        ("(202) 555-0143", "US", "+12025550143"),
        ("call me maybe", "US", None),
        ("12", "US", None),
    ],
)
def test_normalise_phone(raw: str, region: str, expected: str | None) -> None:
    assert normalise_phone(raw, region) == expected


def test_fold_ignores_case_and_accents() -> None:
    assert fold("Zoë  ÇELIK") == "zoe celik"
    assert fold("José Núñez") == fold("jose nunez")
