"""The curiosity prompt library: situations, no repeats within 90 days, user overrides."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from nudge.core import prompts
from nudge.digest.render import load_prompts
from nudge.errors import ConfigError

PITCH = re.compile(
    r"\b(buy|sell|offer|deal|discount|pitch|product|demo|pricing|price|purchase|sign up)\b", re.I
)


def test_every_situation_has_prompts_and_none_is_a_pitch() -> None:
    lib = load_prompts()
    assert set(lib) == set(prompts.SITUATIONS)
    for situation, texts in lib.items():
        assert texts, situation
        for text in texts:
            assert text.endswith("?"), text
            assert not PITCH.search(text), text


def test_the_first_matching_situation_wins_then_general() -> None:
    lib = {"job_change": ("J1?",), "general": ("G1?", "G2?")}
    assert prompts.choose(lib, ["job_change"], [], "s") == "J1?"
    assert prompts.choose(lib, ["job_change"], ["J1?"], "s") in ("G1?", "G2?")
    assert prompts.choose(lib, ["birthday"], [], "s") in ("G1?", "G2?")  # no such section: general


def test_no_prompt_twice_within_the_window() -> None:
    lib = load_prompts()
    used: list[str] = []
    for day in range(12):
        choice = prompts.choose(lib, ["long_silence"], used, prompts.today_seed(7, date(2026, 1, 1 + day)))
        assert choice not in used
        used.append(choice)
    assert len(set(used)) == 12


def test_when_everything_was_asked_the_oldest_comes_back() -> None:
    lib = {"general": ("A?", "B?", "C?")}
    assert prompts.choose(lib, [], ["B?", "C?", "A?"], "s") == "B?"


def test_situations_for_a_person() -> None:
    assert prompts.situations_for(["job_change", "overdue"], "call", 100, "meeting", False) == [
        "job_change",
        "long_silence",
        "no_notes",
    ]
    assert prompts.situations_for(["birthday"], "partner", 10, "meeting", True) == [
        "birthday",
        "partner",
        "recent_meeting",
    ]


def test_a_user_file_replaces_sections(tmp_path: Path) -> None:
    path = tmp_path / "prompts.toml"
    path.write_text('[general]\nprompts = ["How is the garden?"]\n')
    lib = load_prompts(path)
    assert lib["general"] == ("How is the garden?",)
    assert lib["job_change"] == load_prompts()["job_change"]


def test_a_broken_user_file_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "prompts.toml"
    path.write_text('[jobchange]\nprompts = ["x?"]\n[general]\nprompts = "not a list"\n')
    with pytest.raises(ConfigError) as caught:
        load_prompts(path)
    assert any("jobchange: unknown situation" in p for p in caught.value.problems)
    assert any("general.prompts: must be a list" in p for p in caught.value.problems)


def test_a_prompt_someone_else_got_today_is_never_given_again() -> None:
    lib = {"job_change": ("J1?",), "general": ("G1?", "G2?")}
    assert prompts.choose(lib, ["job_change"], [], "s", taken={"J1?"}) in ("G1?", "G2?")
    assert prompts.choose(lib, ["job_change"], [], "s", taken={"J1?", "G1?"}) == "G2?"
    # asked lately and taken today: the oldest asked that nobody has today
    assert prompts.choose(lib, ["job_change"], ["G2?", "J1?", "G1?"], "s", taken={"G2?"}) == "J1?"
    assert prompts.choose(lib, ["job_change"], [], "s", taken={"J1?", "G1?", "G2?"}) is None
