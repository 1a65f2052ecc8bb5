"""Run `nudge` commands as separate processes that start in milliseconds, for race tests.

A forkserver imports nudge once; each command is then a fork of it, a real OS
process of its own (its own SQLite connections, file locks, signals and exit
status) that runs the real CLI entry point, without paying Python's start-up
and imports again. Fifty races then take seconds rather than minutes.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import sys
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path

import nudge.cli
import nudge.daemon
import nudge.service

PRELOAD = [
    nudge.daemon.__name__,
    nudge.service.__name__,
    "tests.servers.forked",
    "apscheduler.schedulers.background",
]


@functools.cache
def context() -> ForkServerContext:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def _main(args: list[str], log: str) -> None:
    """The child: `nudge ARGS` with stdout and stderr to `log`; its exit status is the command's."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    code = 0
    try:
        nudge.cli.app(args=args, prog_name="nudge")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def start(args: list[str], log: Path) -> BaseProcess:
    """Start `nudge ARGS` in a new process writing to `log`."""
    proc = context().Process(target=_main, args=(args, str(log)), daemon=False)
    proc.start()
    return proc
