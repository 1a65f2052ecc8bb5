"""Per-contact cadence (issue #16 part 3): `nudge cadence NAME 14d|2w|default`, the address-book
convention (`X-NUDGE-CADENCE:14d`, a `cadence:2w` category), and `nudge show` saying which applies
and why; end to end through the CLI on a store on disk.

The `cfg` world (tests/system/test_cli.py): "now" is Monday 23 Nov 2026; Ana Ruiz is in the
top100 tier (30 days by default) and had coffee 45 days ago.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.builders import vcard
from tests.system.test_cli import cfg, clock, nudge

__all__ = ["cfg", "clock"]


def show(cfg: Path, name: str) -> dict[str, Any]:
    code, out = nudge("show", name, "--json", config=cfg)
    assert code == 0, out
    info: dict[str, Any] = json.loads(out)
    return info


def test_cadence_sets_a_persons_own_rhythm_and_show_says_why(cfg: Path) -> None:
    before = show(cfg, "ana r")
    assert before["cadence"] == {"days": 30, "why": "30 days, the top100 tier's default"}
    assert before["due"] == 1.5  # 45 days over 30

    code, out = nudge("cadence", "ana r", "2w", config=cfg)

    assert (code, out) == (0, "Ana Ruiz: every 14 days.\n")
    after = show(cfg, "ana r")
    assert after["cadence"] == {"days": 14, "why": "14 days, set with nudge cadence on 23 Nov"}
    assert after["due"] == round(45 / 14, 2)
    code, out = nudge("show", "ana r", config=cfg)
    assert "  cadence: 14 days, set with nudge cadence on 23 Nov\n" in out
    code, out = nudge("plan", "--json", config=cfg)
    assert code == 0, out

    assert nudge("undo", config=cfg)[1].startswith(
        "Undid: Ana Ruiz: cadence 14 days (was the tier's default)"
    )
    assert show(cfg, "ana r")["cadence"] == before["cadence"]
    assert show(cfg, "ana r")["due"] == 1.5


def test_cadence_default_goes_back_to_the_tier(cfg: Path) -> None:
    assert nudge("cadence", "ana r", "10d", config=cfg)[0] == 0
    code, out = nudge("cadence", "ana r", "default", config=cfg)
    assert (code, out) == (0, "Ana Ruiz: the top100 tier's cadence, every 30 days.\n")
    assert show(cfg, "ana r")["cadence"] == {
        "days": 30,
        "why": "30 days, the top100 tier's default (set back with nudge cadence on 23 Nov)",
    }


def test_a_cadence_nudge_cannot_read_is_one_line_and_changes_nothing(cfg: Path) -> None:
    code, out = nudge("cadence", "ana r", "soon", config=cfg)
    assert code != 0
    assert "'soon' is not a cadence: use 14d, 2w, 3m, 1y (or default)" in out
    assert "Traceback" not in out
    assert show(cfg, "ana r")["cadence"]["days"] == 30


def test_the_address_book_can_name_a_cadence_and_nudge_cadence_wins(cfg: Path, tmp_path: Path) -> None:
    book = tmp_path / "contacts.vcf"
    text = book.read_bytes().decode()
    ana = vcard(
        "ana", "Ana Ruiz", emails=("ana@example.org",), phones=("+49 30 1234567",), categories=("top100",)
    )
    anna = vcard("anna", "Anna Berg", emails=("anna@example.org",), categories=("top100",))
    assert ana in text and anna in text
    with_property = ana.replace("END:VCARD", "X-NUDGE-CADENCE:14d\r\nEND:VCARD")
    with_category = anna.replace("CATEGORIES:top100", "CATEGORIES:top100,cadence:3w")
    book.write_bytes(text.replace(ana, with_property).replace(anna, with_category).encode())
    assert nudge("sync", config=cfg)[0] == 0

    assert show(cfg, "ana r")["cadence"] == {"days": 14, "why": "14 days, from the address book 'files'"}
    assert show(cfg, "anna")["cadence"] == {"days": 21, "why": "21 days, from the address book 'files'"}

    assert nudge("cadence", "anna", "5w", config=cfg)[0] == 0
    book.write_bytes(text.replace(ana, with_property).encode())  # Anna's card drops its category
    assert nudge("sync", config=cfg)[0] == 0
    assert show(cfg, "anna")["cadence"] == {"days": 35, "why": "35 days, set with nudge cadence on 23 Nov"}

    book.write_bytes(text.encode())  # Ana's card drops its property: back to the tier's
    assert nudge("sync", config=cfg)[0] == 0
    assert show(cfg, "ana r")["cadence"] == {"days": 30, "why": "30 days, the top100 tier's default"}
