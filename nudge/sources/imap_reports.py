"""Delivery reports in an IMAP folder: the status part that says which address bounced.

Only headers are fetched from a mailbox (`sources.imap`); a delivery report (RFC 3464,
`multipart/report; report-type=delivery-status`) names the address that failed in its second
part, `message/delivery-status`, which is small. That part is fetched for such reports only,
and handed on after the headers, where `parse.email` reads it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from imapclient import exceptions as imap_exc

log = logging.getLogger(__name__)

_REPORT = re.compile(rb"multipart/report\b[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*delivery-status", re.IGNORECASE)
PART = "BODY.PEEK[2]"
MAX_BYTES = 64 * 1024


def is_report(headers: bytes) -> bool:
    return bool(_REPORT.search(headers))


def status_parts(client: Any, uids: list[int], source: str) -> dict[int, str]:
    """The delivery-status part of these reports by UID; none when the server refuses them
    (the reports are then read from their headers alone)."""
    if not uids:
        return {}
    try:
        reply = client.fetch(uids, [PART])
    except imap_exc.IMAPClientAbortError:
        raise
    except imap_exc.IMAPClientError as e:
        log.info("%s: no delivery-status part of %d reports: %s", source, len(uids), e)
        return {}
    found: dict[int, str] = {}
    for uid, data in reply.items():
        part = next((v for k, v in data.items() if bytes(k).upper().startswith(b"BODY[2]")), None)
        if isinstance(part, bytes):
            found[uid] = part[:MAX_BYTES].decode("utf-8", errors="replace")
    return found


def with_status(headers: str, status: str | None) -> str:
    """The headers, a blank line, the report's status fields (what `parse.email` reads)."""
    return headers if status is None else headers.rstrip("\r\n") + "\r\n\r\n" + status
