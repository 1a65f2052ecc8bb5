"""Logging: plain lines on stderr; under systemd no timestamps and syslog priorities."""

from __future__ import annotations

import logging
import os
import sys

_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class JournalFormatter(logging.Formatter):
    """`<N>message`: journald reads the priority prefix and adds its own time."""

    def format(self, record: logging.LogRecord) -> str:
        prio = _PRIORITY.get(record.levelno, 6)
        return f"<{prio}>{record.name}: {super().format(record)}"


def under_journal() -> bool:
    return bool(os.environ.get("JOURNAL_STREAM"))


def setup(verbosity: int = 0) -> None:
    level = logging.WARNING - 10 * min(verbosity, 2)
    handler = logging.StreamHandler(sys.stderr)
    if under_journal():
        handler.setFormatter(JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries are chatty at INFO; their warnings still come through.
    for noisy in ("urllib3", "niquests", "caldav", "googleapiclient", "apscheduler", "radicale"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
