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


class MaskSecrets(logging.Filter):
    """The password of any URL in a log line (a source's, a database's) becomes ***."""

    def filter(self, record: logging.LogRecord) -> bool:
        from nudge.secrets import mask

        text = record.getMessage()
        masked = mask(text)
        if masked != text:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        return True


def under_journal() -> bool:
    return bool(os.environ.get("JOURNAL_STREAM"))


def setup(verbosity: int = 0) -> None:
    level = logging.WARNING - 10 * min(verbosity, 2)
    handler = logging.StreamHandler(sys.stderr)
    if under_journal():
        handler.setFormatter(JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(MaskSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries are chatty at INFO; their warnings still come through.
    for noisy in ("urllib3", "niquests", "caldav", "googleapiclient", "apscheduler", "radicale"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
