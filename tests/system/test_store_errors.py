"""Every error a user can meet in the config or the store is one clear line, exit 1, nothing lost.

Each case runs the real `nudge` command (a subprocess, so nothing of the test's
own process can catch a traceback for it) against a real SQLite file that has
been made broken the way a user's machine breaks it: a garbage file, damaged
pages, another process holding the write lock, a read-only database, a full
disk (a small tmpfs in a private mount namespace).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import ME, vcard
from tests.system.test_extras import run as without_modules

NUDGE = [sys.executable, "-m", "nudge"]


def run(config: Path, *args: str, prefix: tuple[str, ...] = ()) -> tuple[int, str]:
    done = subprocess.run(
        [*prefix, *NUDGE, "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def one_line_error(code: int, out: str) -> str:
    """The `nudge: ...` message of a failed command, and that there is nothing else.

    One line; a config's problems follow it indented, one per line.
    """
    assert code == 1, out
    assert "Traceback" not in out, out
    first, *rest = out.strip().splitlines()
    assert first.startswith("nudge: ") and all(line.startswith("  ") for line in rest), out
    return " ".join([first, *(line.strip() for line in rest)])


def write_config(tmp_path: Path, database: str, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'database_url = "{database}"\nmaildir = "{tmp_path / "Maildir"}"\n{extra}'
        f'[me]\nemails = ["{ME}"]\n[[sources]]\ntype = "files"\nname = "book"\n'
        f'paths = ["{tmp_path / "contacts.vcf"}"]\n'
    )
    path.chmod(0o600)
    return path


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A synced store with one contact, Ana; returns the database file."""
    (tmp_path / "contacts.vcf").write_text(
        vcard("ana", "Ana Ruiz", emails=("ana@example.org",), categories=("top100",))
    )
    db = tmp_path / "nudge.db"
    code, out = run(write_config(tmp_path, f"sqlite:///{db}"), "sync")
    assert code == 0, out
    return db


def touches(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM touch").fetchone()[0])


def contact_names(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM contact")]


def test_a_config_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes('[me]\nname = "René"\n'.encode("cp1252"))
    line = one_line_error(*run(path, "contacts"))
    assert str(path) in line and "line 2: not UTF-8 text" in line and "save the file as UTF-8" in line


def test_a_postgresql_url_without_its_driver(tmp_path: Path) -> None:
    """Run where neither driver can be imported, whatever this machine has installed."""
    config = write_config(tmp_path, "postgresql://nudge:pg-s3cret@db.example.com/nudge")
    line = one_line_error(
        *without_modules(tmp_path, ("psycopg", "psycopg2"), "--config", str(config), "contacts")
    )
    assert "needs the Python package psycopg" in line and "pip install" in line
    assert "pg-s3cret" not in line and "nudge:***@db.example.com" in line


def test_a_database_path_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("my notes\n")
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'notes.txt' / 'nudge.db'}")
    line = one_line_error(*run(config, "contacts"))
    assert f"{tmp_path / 'notes.txt'} is a file, not a folder" in line
    assert (tmp_path / "notes.txt").read_text() == "my notes\n"


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    db = tmp_path / "nudge.db"
    db.write_bytes(b"this is my shopping list, not SQLite\n" * 200)
    before = db.read_bytes()
    line = one_line_error(*run(write_config(tmp_path, f"sqlite:///{db}"), "contacts"))
    assert f"{db} is not an SQLite database" in line and "move this one away" in line
    assert db.read_bytes() == before


def test_a_damaged_database(store: Path) -> None:
    config = store.parent / "config.toml"
    with sqlite3.connect(store) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'contact'").fetchone()[0]
    with store.open("r+b") as f:  # the contact table's root page becomes garbage
        f.seek((root - 1) * page)
        f.write(b"\xa5" * page)
    line = one_line_error(*run(config, "contacts"))
    assert f"the database {store} is damaged" in line and ".recover" in line


def test_a_database_locked_past_the_wait_then_nothing_lost(store: Path) -> None:
    config = write_config(store.parent, f"sqlite:///{store}", "database_wait = 0.5\n")
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process is in the middle of a long write
    try:
        line = one_line_error(*run(config, "log", "ana", "call: about the move"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert f"the database {store} stayed locked" in line and "database_wait" in line
    assert touches(store) == 0
    code, out = run(config, "log", "ana", "call: about the move")  # once it is free, it works
    assert code == 0, out
    assert touches(store) == 1 and contact_names(store) == ["Ana Ruiz"]


def test_a_read_only_database(store: Path) -> None:
    config = write_config(store.parent, f"sqlite:///file:{store}?mode=ro&uri=true")
    line = one_line_error(*run(config, "log", "ana", "call"))
    assert "is read-only" in line and "writable" in line
    assert touches(store) == 0 and contact_names(store) == ["Ana Ruiz"]


def _namespace() -> tuple[str, ...]:
    """A private mount namespace (as root, or as a user where user namespaces are allowed)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare is not installed")
    probe = subprocess.run([unshare, "-rm", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here: {probe.stderr.decode().strip()}")
    return (unshare, "-rm")


def test_a_full_disk_then_nothing_lost(store: Path, tmp_path: Path) -> None:
    """The store on a tmpfs filled up to the last few pages: the write is refused, the store intact."""
    namespace = _namespace()
    small = tmp_path / "small"
    small.mkdir()
    full = small / "nudge.db"
    config = write_config(tmp_path, f"sqlite:///{full}")
    size = store.stat().st_size + 64 * 1024
    script = f"""
set -e
mount -t tmpfs -o size={size} tmpfs {small}
cp {store} {full}
{sys.executable} - <<'EOF'
import os, sqlite3
sqlite3.connect("{full}").execute("SELECT 1").fetchone()  # as after any use: WAL mode
st = os.statvfs("{small}")
with open("{small}/filler", "wb") as f:  # leave room for the -shm index, not for the change
    f.write(b"x" * max(0, st.f_bavail * st.f_frsize - 40 * 1024))
EOF
set +e
{" ".join(NUDGE)} --config {config} log ana "call: {"long note " * 2000}"
echo "rc=$?"
{sys.executable} -c "import sqlite3; c = sqlite3.connect('{full}'); \\
print('check', c.execute('PRAGMA integrity_check').fetchone()[0], \\
c.execute('SELECT count(*) FROM touch').fetchone()[0], c.execute('SELECT name FROM contact').fetchone()[0])"
"""
    done = subprocess.run(
        [*namespace, "sh", "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    out = done.stdout + done.stderr
    assert "rc=1" in out, out
    assert "Traceback" not in out and "Logged" not in out, out
    [line] = [x for x in out.splitlines() if x.startswith("nudge: ")]
    assert f"the disk holding the database {full} is full" in line
    assert "check ok 0 Ana Ruiz" in out, out  # intact, and the refused change is not half in
