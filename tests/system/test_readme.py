"""The README's set-up steps work as written, from a fresh shell in an empty home folder.

Each fenced block of the "Five-minute setup" section carries a marker just
above it: `<!-- readme-test: run -->` (run with bash, as typed), `write PATH`
(what the user types into their editor: the block becomes that file), or
`skip: why` (the network, or the user's own servers). Every block has one, so a
new step cannot go untested unnoticed.

The blocks run with HOME an empty folder, no XDG_* variables, the system PATH
(nudge's virtualenv is not on it) and these stand-ins for what needs the network:
- `git clone`: skipped; this checkout is copied to ~/src/nudge instead.
- `pip install`: the README's command as written, but pip finds every
  dependency already installed, because PYTHONPATH holds this test venv's
  site-packages, and it must not download (PIP_NO_INDEX, no build isolation:
  nudge is built with this venv's setuptools; PIP_CONFIG_FILE=/dev/null keeps
  the machine's pip config out). nudge itself is really built from the copy
  and installed into the new virtualenv, which is what then runs.
- `python3`: the interpreter the tests run on (pyenv's shims would look for
  their settings in the empty HOME).
- the address book and calendar exports: nudge's demo data at ~/contacts.vcf
  and ~/calendar.ics.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from nudge.demo.data import write_demo_data

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "## Five-minute setup for real use"
VENV = ".local/share/nudge-venv"
_FENCE = re.compile(r"^ *```", re.M)
_BLOCK = re.compile(
    r"<!-- readme-test: (?P<how>run|write|skip)(?P<arg>[^>]*?) -->\n"
    r"(?P<indent> *)```(?P<lang>\w*)\n(?P<body>.*?)\n(?P=indent)```",
    re.S,
)


@dataclass(frozen=True)
class Block:
    line: int
    how: str
    arg: str
    body: str


def setup_section() -> tuple[str, int]:
    """The set-up section's text and the README line it starts on."""
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    return text[start:end], text.count("\n", 0, start) + 1


def setup_blocks() -> list[Block]:
    section, first = setup_section()
    return [
        Block(
            line=first + section.count("\n", 0, m.start("indent")),
            how=m["how"],
            arg=m["arg"].strip().removeprefix(":").strip(),
            body=textwrap.dedent(m["body"]),
        )
        for m in _BLOCK.finditer(section)
    ]


def copy_checkout(dest: Path) -> None:
    """This checkout's files, without the venv, git's own files and build output."""
    skip = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")
    shutil.copytree(ROOT, dest, ignore=skip)


def fenced_blocks(text: str) -> list[str]:
    return re.findall(r"^```\w*\n(.*?)\n```", text, re.S | re.M)


def test_the_readme_starts_with_the_demo_and_the_test_command() -> None:
    text = README.read_text(encoding="utf-8")
    demo, tests, *_ = fenced_blocks(text)
    assert demo == "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/nudge demo"
    assert tests == (
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"
    )
    assert text.index(demo) < text.index("---")  # nothing but a sentence each before them
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert tests.replace(" -e '.[test]'", " -q -e '.[test]'") in ci  # .ci/run runs exactly it, quietly


def test_every_setup_block_is_marked() -> None:
    section, _ = setup_section()
    fences = len(_FENCE.findall(section))
    assert fences % 2 == 0 and fences > 0
    assert len(setup_blocks()) == fences // 2, (
        "a fenced block in the set-up section has no readme-test marker"
    )


@pytest.mark.parametrize(
    "block", [b for b in setup_blocks() if b.how == "skip"], ids=lambda b: f"line{b.line}"
)
def test_a_setup_block_that_is_not_run(block: Block) -> None:
    assert block.arg, f"README.md line {block.line}: say why the block is skipped"
    pytest.skip(f"README.md line {block.line}: {block.arg}")


def _environment(tmp_path: Path, home: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))
    site = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    return {
        "HOME": str(home),
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join(site),
        "PIP_NO_INDEX": "1",
        "PIP_NO_BUILD_ISOLATION": "0",  # sic: pip reads this variable inverted
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


@pytest.mark.slow
def test_the_setup_steps_run_as_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    copy_checkout(home / "src" / "nudge")  # for the skipped `git clone`
    exports = write_demo_data(tmp_path / "exports", date.today(), ZoneInfo("Europe/Berlin"))
    shutil.copy(exports.contacts_after, home / "contacts.vcf")
    shutil.copy(exports.calendar, home / "calendar.ics")
    env = _environment(tmp_path, home)

    blocks = setup_blocks()
    assert [b.how for b in blocks].count("run") >= 4, "the set-up steps are not marked to be run"
    outputs: list[str] = []
    for block in blocks:
        if block.how == "run":
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", block.body],
                cwd=home,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            output = done.stdout + done.stderr
            assert done.returncode == 0, f"README.md line {block.line}:\n{block.body}\n---\n{output}"
            assert "Traceback" not in output, output
            outputs.append(output)
        elif block.how == "write":
            path = Path(block.arg.split(";")[0].replace("~", str(home), 1))
            assert path.exists(), f"README.md line {block.line}: an earlier step should have made {path}"
            path.write_text(block.body + "\n", encoding="utf-8")  # as an editor saves it: mode kept
    everything = "\n".join(outputs)

    venv = home / VENV
    config = home / ".config" / "nudge" / "config.toml"
    assert config.stat().st_mode & 0o777 == 0o600
    assert (home / ".local" / "share" / "nudge").is_dir()
    # The nudge that ran is the one built from the checkout into the README's virtualenv.
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import nudge; print(nudge.__file__)"],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(venv / "lib")), where
    assert list(venv.glob("lib/python*/site-packages/nudge_contacts-*.dist-info"))
    # sync read the exports, the dry run printed a digest, doctor found the set-up sound.
    assert "address-book" in everything and "Be curious" in everything, everything
    assert "[ok  ] source address-book" in everything and "[FAIL]" not in everything, everything
    unit = (home / ".config" / "systemd" / "user" / "nudge.service").read_text(encoding="utf-8")
    assert f"ExecStart={venv / 'bin' / 'nudge'} run" in unit
