"""What users of any well-kept CLI expect: completion, ids, natural dates, --json, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import time_machine
from typer.testing import CliRunner

from nudge.cli import app
from tests.builders import ME
from tests.system.test_cli import cfg, clock, nudge

__all__ = ["cfg", "clock"]


def show(cfg: Path, name: str) -> dict[str, Any]:
    code, out = nudge("show", name, "--json", config=cfg)
    assert code == 0, out
    info: dict[str, Any] = json.loads(out)
    return info


def as_json(cfg: Path, *args: str, code: int = 0) -> Any:
    """The command's stdout as JSON; warnings on stderr (a failing source) stay out of it."""
    result = CliRunner().invoke(app, ["--config", str(cfg), *args, "--json"], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


# --- completion ----------------------------------------------------------------------------


def complete(words: str, cword: int, instruction: str = "bash_complete") -> list[str]:
    env = {**os.environ, "_NUDGE_COMPLETE": instruction, "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    done = subprocess.run(
        [sys.executable, "-m", "nudge"], env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_completion_scripts_for_bash_zsh_and_fish() -> None:
    code, out = nudge("completion", "bash")
    assert code == 0
    assert "_NUDGE_COMPLETE=complete_bash" in out and "complete -o default -F _nudge_completion nudge" in out
    code, out = nudge("completion", "zsh")
    assert code == 0 and "#compdef nudge" in out
    code, out = nudge("completion", "fish")
    assert code == 0 and "complete --command nudge" in out
    code, out = nudge("completion", "tcsh")
    assert code == 2 and "bash, zsh, fish" in out


def test_completing_nudge_sn_offers_snooze() -> None:
    assert complete("nudge sn", 1) == ["snooze"]  # click's spelling of the protocol
    assert complete("nudge sn", 1, "complete_bash") == ["snooze"]  # typer's, as the script says
    assert set(complete("nudge referral ", 2)) == {"given", "received", "list"}


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_bash_script_completes_in_a_real_bash(tmp_path: Path) -> None:
    """Source the printed script in bash and press TAB after `nudge sn`, as a user would."""
    script = tmp_path / "nudge.bash"
    script.write_text(nudge("completion", "bash")[1])
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "nudge").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m nudge "$@"\n')
    (bindir / "nudge").chmod(0o755)
    line = (
        f"source {script}; COMP_WORDS=(nudge sn); COMP_CWORD=1; "
        '_nudge_completion nudge sn nudge; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "--norc", "-c", line], env=env, capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["snooze"]


# --- ids and dates -------------------------------------------------------------------------


def test_contact_ids_work_wherever_a_name_does(cfg: Path) -> None:
    ana = show(cfg, "ana r")["id"]
    for query in (f"#{ana}", str(ana)):
        assert show(cfg, query)["name"] == "Ana Ruiz"
    code, out = nudge("log", f"#{ana}", "call: hi", config=cfg)
    assert code == 0 and "Logged call with Ana Ruiz" in out
    assert nudge("snooze", str(ana), "2w", config=cfg)[0] == 0
    assert show(cfg, "ana r")["snoozed_until"] == "2026-12-07"
    code, out = nudge("tier", "#999", "none", config=cfg)
    assert code == 1 and "there is no contact #999" in out


AT = {
    "yesterday": "2026-11-22T06:00:00+00:00",  # the same time of day, in Berlin
    "3 days ago": "2026-11-20T06:00:00+00:00",
    "last friday 15:00": "2026-11-20T14:00:00+00:00",  # 15:00 in Berlin
    "last friday": "2026-11-20T11:00:00+00:00",  # a day alone is noon, as an ISO date is
    "2026-11-20": "2026-11-20T11:00:00+00:00",
    "2026-11-20T09:30": "2026-11-20T08:30:00+00:00",
}


def test_log_at_reads_natural_dates_and_iso_ones_as_before(cfg: Path) -> None:
    for at, stored in AT.items():
        code, out = nudge("log", "ben", f"call: {at}", "--at", at, config=cfg)
        assert code == 0, out
        touch = next(t for t in show(cfg, "ben")["touches"] if t["note"] == at)
        assert touch["at"] == stored, at


def test_relative_dates_count_in_the_users_time_zone(tmp_path: Path, clock: time_machine.Coordinates) -> None:
    """At 06:00 UTC on Monday it is still Sunday evening in Los Angeles: 'yesterday 09:00' is Saturday."""
    (tmp_path / "book.vcf").write_text("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:b\r\nFN:Ben Ott\r\nEND:VCARD\r\n")
    config = tmp_path / "la.toml"
    config.write_text(
        f'timezone = "America/Los_Angeles"\ndatabase_url = "sqlite:///{tmp_path / "la.db"}"\n'
        f'[me]\nemails = ["{ME}"]\n[[sources]]\ntype = "files"\nname = "f"\n'
        f'paths = ["{tmp_path / "book.vcf"}"]\n'
    )
    assert nudge("sync", config=config)[0] == 0
    assert nudge("log", "ben", "call: hi", "--at", "yesterday 09:00", config=config)[0] == 0
    assert show(config, "ben")["touches"][0]["at"] == "2026-11-21T17:00:00+00:00"  # Sat 09:00 PST
    assert nudge("snooze", "ben", "until tomorrow", config=config)[0] == 0
    assert show(config, "ben")["snoozed_until"] == "2026-11-23"  # Monday, there


def test_impossible_dates_and_durations_are_refused(cfg: Path) -> None:
    before = show(cfg, "ana r")
    code, out = nudge("log", "ana r", "call: hi", "--at", "tomorrow", config=cfg)
    assert code == 1 and "--at 'tomorrow' is in the future" in out
    code, out = nudge("log", "ana r", "call: hi", "--at", "the day the music died", config=cfg)
    assert code == 1 and "--at: cannot read 'the day the music died' as a date" in out
    code, out = nudge("referral", "given", "ben", "intro", "--at", "next week", config=cfg)
    assert code == 1 and "in the future" in out
    code, out = nudge("snooze", "ana r", "0d", config=cfg)
    assert code == 1 and "a snooze of 0d ends today" in out
    code, out = nudge("snooze", "ana r", "until", "2020-01-01", config=cfg)
    assert code == 1 and "is not in the future" in out
    code, out = nudge("snooze", "ana r", "whenever", config=cfg)
    assert code == 1 and "use a duration like 10d" in out
    code, out = nudge("plan", "--days", "-3", config=cfg)
    assert code == 2 and "Invalid value for '--days': Input should be greater than or equal to 1" in out
    for args in (
        ("stats", "--weeks", "0"),
        ("replies", "--limit", "0"),
        ("top100", "suggest", "--limit", "0"),
    ):
        assert nudge(*args, config=cfg)[0] == 2, args
    after = show(cfg, "ana r")
    assert after["touches"] == before["touches"] and after["snoozed_until"] is None
    assert "Traceback" not in out


SNOOZES = {
    ("1y",): "2027-11-23",
    ("10d",): "2026-12-03",  # the short forms stay as they were
    ("2w",): "2026-12-07",
    ("3m",): "2027-02-21",
    ("until", "2027-01-15"): "2027-01-15",
    ("3 weeks",): "2026-12-14",
    ("until next friday",): "2026-11-27",
}


def test_snooze_durations_in_short_forms_dates_and_words(cfg: Path) -> None:
    for words, until in SNOOZES.items():
        code, out = nudge("snooze", "ana r", *words, config=cfg)
        assert code == 0, out
        assert show(cfg, "ana r")["snoozed_until"] == until, words


# --- --json on every read command ----------------------------------------------------------


def test_json_of_contacts_has_emails_and_phones(cfg: Path) -> None:
    rows = as_json(cfg, "contacts")
    ana = next(r for r in rows if r["name"] == "Ana Ruiz")
    assert ana["emails"] == ["ana@example.org"] and ana["phones"] == ["+49301234567"]
    assert set(ana) == {
        "id",
        "name",
        "tier",
        "warmth",
        "label",
        "last_touch_at",
        "due",
        "standing",
        "org",
        "archived",
        "emails",
        "phones",
    }


def test_json_of_sync(cfg: Path, tmp_path: Path) -> None:
    out = as_json(cfg, "sync")
    assert set(out) == {"ok", "sources", "replies"} and out["ok"] is True and out["replies"] is None
    [files] = out["sources"]
    assert set(files) == {
        "source",
        "ok",
        "added",
        "changed",
        "archived",
        "events_removed",
        "skipped",
        "errors",
        "seconds",
    }
    (tmp_path / "calendar.ics").unlink()
    out = as_json(cfg, "sync", code=1)
    assert out["ok"] is False and "calendar.ics" in out["sources"][0]["errors"][0]


def test_json_of_doctor(cfg: Path) -> None:
    code, text = nudge("doctor", "--json", config=cfg)
    out = json.loads(text)
    assert set(out) == {"ok", "checks"} and code == (0 if out["ok"] else 1)
    assert {"config", "database"} <= {c["name"] for c in out["checks"]}
    assert all(set(c) == {"name", "ok", "detail", "fix"} for c in out["checks"])


def test_json_of_replies_referrals_top100_plan_and_stats(cfg: Path) -> None:
    assert as_json(cfg, "replies") == []
    assert nudge("referral", "given", "ben", "intro to Lee", "--counterpart", "Lee", config=cfg)[0] == 0
    [ledger] = as_json(cfg, "referral", "list")
    assert set(ledger) == {"partner", "given", "received", "balance", "last_at", "days_since_last", "entries"}
    assert (ledger["partner"], ledger["given"], ledger["balance"], ledger["days_since_last"]) == (
        "Ben Ott",
        1,
        1,
        0,
    )
    assert set(ledger["entries"][0]) == {"id", "at", "direction", "note", "counterpart"}
    top = as_json(cfg, "top100", "list")
    assert {r["name"] for r in top} == {"Ana Ruiz", "Anna Berg", "Zoë Çelik"}
    assert set(top[0]) == {"id", "name", "warmth", "label", "last_touch_at", "due", "standing"}
    days = as_json(cfg, "plan", "--days", "3")
    assert len(days) == 3 and set(days[0]) == {"date", "calls", "partners"}
    stats = as_json(cfg, "stats", "--weeks", "1")
    assert set(stats) == {"weeks", "trend_contacted", "health"}


# --- exit codes, and errors that name what failed ------------------------------------------


def test_exit_codes_are_documented_and_kept(cfg: Path) -> None:
    code, out = nudge("--help")
    assert (
        code == 0
        and "Exit status: 0 when it worked, 1 when it failed" in out
        and "2 for a usage error" in out
    )
    assert nudge("contacts", config=cfg)[0] == 0
    assert nudge("log", "nobody", "call: hi", config=cfg)[0] == 1
    assert nudge("contacts", "--no-such-option", config=cfg)[0] == 2
    assert nudge("snooze", config=cfg)[0] == 2  # a missing argument
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert "| 0 | it worked |" in readme and "| 1 |" in readme and "| 2 |" in readme


@pytest.mark.parametrize(
    ("command", "said"),
    [
        ("no-such-pass-tool show mail/smtp", "there is no command 'no-such-pass-tool'"),
        ("false --quiet", "exited with status 1"),
    ],
)
def test_a_failing_password_command_is_named(cfg: Path, command: str, said: str) -> None:
    with cfg.open("a") as f:
        f.write(f'[smtp]\nhost = "127.0.0.1"\nport = 2\nusername = "me"\npassword_command = "{command}"\n')
    code, out = nudge("digest", config=cfg)
    assert code == 1
    assert f"smtp.password_command `{command}`: {said}" in out
    assert "Traceback" not in out
