"""Email header blocks -> plain message records (pure).

Only headers ever reach nudge (see `sources/base.py`). The standard library's
`email` package does the RFC 5322 / 2047 work; this module tells a person's
message from a list's or a machine's; what a message means for touches is `core.touches`.
"""

from __future__ import annotations

import re
from contextlib import suppress
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parsedate_to_datetime

from nudge.core.identity import normalise_email
from nudge.core.records import MessageRecord
from nudge.core.touches import is_machine
from nudge.parse.base import ParseError, content_hash, short_reason

# compat32: raw header strings, ten times faster than policy.default's header objects. Addresses
# and dates are read from the raw text; only the subject, which is shown, is decoded (RFC 2047).
_PARSER = HeaderParser()
_ID = re.compile(r"<([^<>\s]+)>")


def message_ids(value: str | None) -> tuple[str, ...]:
    """The `<id>`s of a Message-ID / In-Reply-To / References value, without brackets."""
    if not value:
        return ()
    found = _ID.findall(value)
    if not found and value.strip() and " " not in value.strip():
        found = [value.strip()]  # some clients forget the brackets
    return tuple(dict.fromkeys(found))


def _header(msg: Message, name: str) -> str:
    values = msg.get_all(name) or []
    return " ".join(str(values[0]).split()) if values else ""


def _addresses(msg: Message, *names: str) -> tuple[str, ...]:
    raw = [" ".join(str(v).split()) for name in names for v in (msg.get_all(name) or [])]
    found = (normalise_email(addr) for _, addr in getaddresses(raw))
    return tuple(dict.fromkeys(a for a in found if a))


def _sender_name(msg: Message) -> str:
    """The From header's display name, decoded; "" when it has none or only repeats the address."""
    raw = " ".join(str(v).split()) if (v := msg.get("from")) else ""
    pairs = getaddresses([raw]) if raw else []
    name = pairs[0][0].strip() if pairs else ""
    if "=?" in name:
        with suppress(LookupError, UnicodeError, ValueError):
            name = str(make_header(decode_header(name)))
    return "" if "@" in name else " ".join(name.split())[:200]


def _subject(msg: Message) -> str:
    raw = _header(msg, "subject")
    if "=?" in raw:
        with suppress(LookupError, UnicodeError, ValueError):  # broken: the raw text still says something
            raw = str(make_header(decode_header(raw)))
    return " ".join(raw.split())[:200]


def _date(msg: Message) -> datetime:
    raw = _header(msg, "date")
    if not raw:
        raise ParseError("no Date header")
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError) as e:
        raise ParseError(f"unreadable Date {raw[:40]!r}") from e
    if when.tzinfo is None:  # "-0000": the zone is unknown; UTC is the honest guess
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def _automated(msg: Message, sender: str | None) -> str:
    if _header(msg, "list-id"):
        return "mailing list"
    if _header(msg, "precedence").lower() in ("bulk", "list", "junk"):
        return "bulk mail"
    auto = _header(msg, "auto-submitted").lower()
    if auto and auto != "no":
        return f"automatic ({auto})"
    if sender and is_machine(sender):
        return "machine sender"
    return ""


# A delivery status notification (RFC 3464): `multipart/report; report-type=delivery-status`.
_REPORT = re.compile(r"multipart/report\b.*\breport-type\s*=\s*\"?delivery-status", re.IGNORECASE | re.DOTALL)
_FIELD = re.compile(r"^([A-Za-z-]+)\s*:\s*(.*)$")


def bounced(msg: Message) -> tuple[str, ...]:
    """The recipients a delivery report says failed for good (`Action: failed`, `Status: 5.x.x`).

    The report's message/delivery-status part, when the text holds it (the IMAP source adds it
    to the headers of such reports), else the `X-Failed-Recipients` header Exim and Gmail write.
    """
    if not _REPORT.search(_header(msg, "content-type")):
        return ()
    body = msg.get_payload()
    failed: list[str] = []
    if isinstance(body, str) and "final-recipient" in body.lower():
        for block in re.split(r"\r?\n[ \t]*\r?\n", body):
            fields: dict[str, str] = {}
            for line in block.splitlines():
                m = _FIELD.match(line.strip())
                if m:
                    fields.setdefault(m.group(1).lower(), m.group(2).strip())
            recipient = fields.get("final-recipient", "")
            if not recipient:
                continue
            action = fields.get("action", "").lower()
            status = fields.get("status", "")
            if action == "failed" and status.startswith("5"):
                address = normalise_email(recipient.partition(";")[2] or recipient)
                if address:
                    failed.append(address)
        return tuple(dict.fromkeys(failed))
    return _addresses(msg, "x-failed-recipients")


def parse_message(text: str) -> MessageRecord:
    """One message's header block; ParseError for what cannot be dated or identified."""
    try:
        msg = _PARSER.parsestr(text)
        sender = next(iter(_addresses(msg, "from") or _addresses(msg, "sender")), None)
        recipients = _addresses(msg, "to", "cc", "bcc")
        at = _date(msg)
        subject = _subject(msg)
        ids = message_ids(_header(msg, "message-id"))
        refs = tuple(
            dict.fromkeys(message_ids(_header(msg, "in-reply-to")) + message_ids(_header(msg, "references")))
        )
        automated = _automated(msg, sender)
        failed = bounced(msg)
        name = _sender_name(msg)
    except ParseError as e:
        e.uid = e.uid or _header_safely(text)
        raise
    except Exception as e:  # the email package is lenient, but headers can be anything
        raise ParseError(f"unreadable message headers: {short_reason(e)}", _header_safely(text)) from e
    if ids:
        mid = ids[0]
    else:  # stable across folders and sources: what the message says, not how it was stored
        mid = "sha1:" + content_hash(f"{at.isoformat()}|{sender}|{','.join(recipients)}|{subject}")
    return MessageRecord(mid, at, sender, recipients, subject, refs, automated, failed, name)


def _header_safely(text: str) -> str:
    """The Message-ID as written, for the skip report, without trusting the parser."""
    m = re.search(r"^message-id:\s*(.+)$", text, re.IGNORECASE | re.MULTILINE)
    return m.group(1).strip()[:200] if m else ""
