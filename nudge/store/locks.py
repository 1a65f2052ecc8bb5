"""OS file locks beside the store: held by a process, dropped by the kernel when it ends.

flock is released when its file is closed, and a process that dies (kill -9
included) closes every file, so a lock here is never stale and nothing needs
cleaning up. The file holds the holder's PID, for the messages of those who wait.
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from nudge.errors import Busy, UserError

log = logging.getLogger(__name__)

POLL = 0.05  # seconds between looks while waiting for a lock


def holder_id() -> str:
    """`host:pid:token`: who holds a lease in the database, and whether that process is still alive here."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def alive(holder: str) -> bool:
    """Whether `host:pid:token` names a live process, or one on another machine (assumed alive)."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_path(url: sa.URL, purpose: str) -> Path | None:
    """`<database>.<purpose>.lock` beside an SQLite file; None for other stores."""
    name = url.database or ""
    if url.get_backend_name() != "sqlite" or name in ("", ":memory:") or name.startswith("file:"):
        return None
    return Path(name).expanduser().with_name(Path(name).name + f".{purpose}.lock")


def holder_of(path: Path) -> int | None:
    """The PID written in a lock file, if any."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _holder_soon(path: Path, patience: float = 2.0) -> int | None:
    """The holder's PID, waiting a moment for it: a holder writes it just after taking the lock,
    and on a busy machine another process may look in between."""
    deadline = time.monotonic() + patience
    while (pid := holder_of(path)) is None and time.monotonic() < deadline:
        time.sleep(POLL / 5)
    return pid


@contextmanager
def file_lock(path: Path, wait: float, busy: str) -> Iterator[None]:
    """Hold an exclusive flock on `path` (waiting up to `wait` s), else Busy(busy with {pid})."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as e:
        raise UserError(f"cannot create the lock file {path}: {e.strerror}") from None
    try:
        deadline = time.monotonic() + wait
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    pid = _holder_soon(path)
                    raise Busy(busy.format(pid=pid or "unknown"), pid) from None
                if not told:
                    log.info("waiting up to %.0f s for PID %s: %s", wait, holder_of(path), path.name)
                    told = True
                time.sleep(POLL)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # still ours: the next holder writes its own PID after us
    finally:
        os.close(fd)  # closing drops the flock


@contextmanager
def single_instance(url: str, fallback: Path) -> Iterator[None]:
    """`nudge run` once per store: a lock file beside it (or `fallback` for other stores)."""
    path = lock_path(sa.engine.make_url(url), "run") or fallback
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    busy = (
        "nudge run is already running for this store (PID {pid}); stop that one first "
        "(systemctl --user stop nudge, or kill {pid})"
    )
    with file_lock(path, 0.0, busy):
        yield
