"""A process turned away by a lock is told who holds it, even in the instant after it was taken."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import pytest

from nudge.errors import Busy
from nudge.store.locks import file_lock


def test_the_holder_is_named_when_it_writes_its_pid_just_after_taking_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "nudge.db.run.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # taken; the PID not yet written
    later = threading.Timer(0.3, lambda: os.pwrite(fd, b"4242\n", 0))
    later.start()
    try:
        with pytest.raises(Busy) as caught, file_lock(path, 0.0, "already running (PID {pid})"):
            pass
    finally:
        later.join()
        os.close(fd)
    assert str(caught.value) == "already running (PID 4242)"
    assert caught.value.pid == 4242


def test_a_lock_whose_holder_never_writes_says_unknown(tmp_path: Path) -> None:
    path = tmp_path / "nudge.db.run.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        with pytest.raises(Busy, match=r"PID unknown"), file_lock(path, 0.0, "already running (PID {pid})"):
            pass
    finally:
        os.close(fd)
