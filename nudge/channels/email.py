"""The digest as an e-mail: its Message-ID (one per day, unguessable), its headers, the MIME message.

Shared by the SMTP and Maildir channels, and by replies, which find the digest
they answer by its id (`digest_key`).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from nudge.channels.base import Outgoing

_DIGEST_ID = re.compile(r"^<?nudge\.digest\.(\d{4}-\d{2}-\d{2})\.([0-9a-f]{16})(?:\.\d+)?@")


def new_token() -> str:
    return secrets.token_hex(8)


def message_id(day: str, sender: str, token: str, attempt: int = 0) -> str:
    """One per day's digest (and per forced resend of it).

    The random token makes the id unguessable: a reply must quote it to act on
    the digest, so nobody who merely knows the date and the sender can.
    """
    domain = sender.rpartition("@")[2] or "localhost"
    suffix = f".{attempt}" if attempt else ""
    return f"<nudge.digest.{day}.{token}{suffix}@{domain}>"


def digest_key(msg_id: str) -> tuple[str, str] | None:
    """(day, token) of one of our digest ids, whichever resend it was; None for any other id."""
    m = _DIGEST_ID.match(msg_id.strip())
    return (m[1], m[2]) if m else None


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def header_value(value: str) -> str:
    """One line for a header: control characters (CR, LF, NUL, ...) become a space.

    A name read from an address book can hold anything; a newline in a header
    would be refused by the email package (or, elsewhere, inject a header), and
    one bad name must never block the digest it heads. Folding long values is
    left to the email policy, which does it correctly.
    """
    return " ".join(_CONTROL.sub(" ", value).split())


def build_message(
    subject: str, text: str, html: str, sender: str, to: str, msg_id: str, when: datetime
) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = header_value(subject)
    msg["From"] = header_value(sender)
    msg["To"] = header_value(to)
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = header_value(msg_id) or make_msgid()
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Mailer"] = "nudge"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def message_of(digest: Outgoing) -> EmailMessage:
    """The multipart (text + HTML) message of a day's digest."""
    return build_message(
        digest.subject,
        digest.text,
        digest.html,
        digest.sender,
        digest.recipient,
        digest.message_id,
        digest.when,
    )
