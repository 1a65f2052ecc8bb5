"""Email header blocks -> plain message records, and what a message means for touches (pure).

Only headers ever reach nudge (see `sources/base.py`). The standard library's
`email` package does the RFC 5322 / 2047 work; this module decides what is a
person writing to a person and what is a machine, a list or a broadcast.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parsedate_to_datetime

from nudge.identity import normalise_email
from nudge.parse import ParseError, content_hash, short_reason

MIN_WEIGHT = 0.1
FUTURE_SLACK = timedelta(days=1)  # clocks and time zones are wrong this much at worst
# compat32: raw header strings, ten times faster than policy.default's header objects. Addresses
# and dates are read from the raw text; only the subject, which is shown, is decoded (RFC 2047).
_PARSER = HeaderParser()
_ID = re.compile(r"<([^<>\s]+)>")
# Local parts of addresses that send for machines, not people.
_MACHINE = re.compile(
    r"^(no-?reply|do-?not-?reply|donotreply|mailer-daemon|postmaster|bounces?|notifications?|"
    r"notify|alerts?|automated|auto-?confirm|newsletters?|news|marketing|info-?noreply)([+._-].*)?$"
)


@dataclass(frozen=True)
class MessageRecord:
    message_id: str  # without angle brackets; a digest of the headers when the message has none
    at: datetime  # aware, UTC
    sender: str | None  # normalised From address
    recipients: tuple[str, ...]  # To, Cc and (in sent copies) Bcc, normalised, unique, in order
    subject: str = ""
    refs: tuple[str, ...] = ()  # In-Reply-To, then References
    automated: str = ""  # why this is no person's message ("mailing list", ...), or ""


@dataclass(frozen=True)
class MailRules:
    me: frozenset[str]  # the user's normalised addresses
    weight: float
    max_recipients: int
    history_days: int


@dataclass(frozen=True)
class MailTouch:
    email: str
    external_id: str  # "mail:<message-id>": the same message from two folders or sources is one touch
    at: datetime
    weight: float
    direction: str  # out | in
    summary: str


def message_ids(value: str | None) -> tuple[str, ...]:
    """The `<id>`s of a Message-ID / In-Reply-To / References value, without brackets."""
    if not value:
        return ()
    found = _ID.findall(value)
    if not found and value.strip() and " " not in value.strip():
        found = [value.strip()]  # some clients forget the brackets
    return tuple(dict.fromkeys(found))


def is_machine(address: str) -> bool:
    return bool(_MACHINE.match(address.partition("@")[0]))


def _header(msg: Message, name: str) -> str:
    values = msg.get_all(name) or []
    return " ".join(str(values[0]).split()) if values else ""


def _addresses(msg: Message, *names: str) -> tuple[str, ...]:
    raw = [" ".join(str(v).split()) for name in names for v in (msg.get_all(name) or [])]
    found = (normalise_email(addr) for _, addr in getaddresses(raw))
    return tuple(dict.fromkeys(a for a in found if a))


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
    except ParseError as e:
        e.uid = e.uid or _header_safely(text)
        raise
    except Exception as e:  # the email package is lenient, but headers can be anything
        raise ParseError(f"unreadable message headers: {short_reason(e)}", _header_safely(text)) from e
    if ids:
        mid = ids[0]
    else:  # stable across folders and sources: what the message says, not how it was stored
        mid = "sha1:" + content_hash(f"{at.isoformat()}|{sender}|{','.join(recipients)}|{subject}")
    return MessageRecord(mid, at, sender, recipients, subject, refs, automated)


def _header_safely(text: str) -> str:
    """The Message-ID as written, for the skip report, without trusting the parser."""
    m = re.search(r"^message-id:\s*(.+)$", text, re.IGNORECASE | re.MULTILINE)
    return m.group(1).strip()[:200] if m else ""


def message_touches(rec: MessageRecord, rules: MailRules, now: datetime) -> list[MailTouch]:
    """A message the user sent touches each person it went to; one they got touches its sender.

    Lists, machines, broadcasts (more than `max_recipients` other people) and
    messages outside the history window are no touch. Like a meeting, the
    weight is shared among the people in the conversation.
    """
    if rec.automated or rec.sender is None:
        return []
    if rec.at < now - timedelta(days=rules.history_days) or rec.at > now + FUTURE_SLACK:
        return []
    at = min(rec.at, now)
    others = [a for a in rec.recipients if a not in rules.me]
    outbound = rec.sender in rules.me
    if outbound:
        people = [a for a in others if not is_machine(a)]
        crowd = len(others)
    else:
        people = [rec.sender]
        crowd = len({rec.sender, *others})
    if not people or crowd > rules.max_recipients:
        return []
    weight = max(rules.weight / crowd, min(rules.weight, MIN_WEIGHT))
    summary = f"email “{rec.subject}”" if rec.subject else "email"
    return [
        MailTouch(
            email=person,
            external_id=f"mail:{rec.message_id}",
            at=at,
            weight=weight,
            direction="out" if outbound else "in",
            summary=summary,
        )
        for person in people
    ]
