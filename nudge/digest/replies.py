"""Replies to the digest: find them in the INBOX, apply their commands once, tell the next digest.

A reply counts only when it answers a digest nudge sent (In-Reply-To or
References holds that digest's Message-ID) and comes from one of
`me.emails`; anything else is recorded as ignored and logged, and its
commands are never applied. A new mail from the user to the digest's sender
address counts too (`called Ana: ...` from the phone, without a digest at
hand), when that address is not one of `me.emails` or its subject starts with
"nudge": the user's notes to themselves are never read as commands. Such a
mail can name people, not digest numbers. The reply's Message-ID is the key of its `Reply`
row, written in the same transaction as its effects, so seeing a reply twice
(a second poll, a crash before it was marked \\Seen) applies it once.
"""

from __future__ import annotations

import email
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage, Message
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from nudge import actions, follow
from nudge.channels.email import digest_key
from nudge.config import Settings
from nudge.core.commands import TOUCH_VERBS, Command, html_to_text, parse_reply
from nudge.core.identity import normalise_email
from nudge.errors import UserError
from nudge.parse import content_hash, short_reason
from nudge.parse.email import message_ids
from nudge.store.db import atomic
from nudge.store.models import Contact, DigestRun, Reply, Suggestion

log = logging.getLogger(__name__)

LOOKBACK_DAYS = 14  # replies to digests older than this are not looked for
MAX_REPLY_BYTES = 512 * 1024
_SPOOFED = re.compile(r"\b(dmarc|spf|dkim)=fail\b", re.IGNORECASE)


@dataclass(frozen=True)
class IncomingReply:
    message_id: str
    sender: str | None
    refs: tuple[str, ...]  # In-Reply-To, then References
    at: datetime
    body: str
    spoofed: bool = False  # the receiving server says the sender failed authentication
    unreadable: str = ""  # why the body could not be read, if it could not
    to: tuple[str, ...] = ()  # To and Cc, normalised
    subject: str = ""


def _heads(msg: Message) -> tuple[str, tuple[str, ...], str | None]:
    """(reply id, refs, sender) from raw headers; the id is made up when the client sent none."""
    refs = message_ids(_raw(msg, "in-reply-to")) + message_ids(_raw(msg, "references"))
    senders = email.utils.getaddresses([_raw(msg, "from")])
    sender = normalise_email(senders[0][1]) if senders and senders[0][1] else None
    mid = next(iter(message_ids(_raw(msg, "message-id"))), "")
    if not mid:  # stable for the same message, so it is still applied once
        mid = "sha1:" + content_hash("|".join((_raw(msg, "date"), sender or "", *refs)))
    return mid, tuple(dict.fromkeys(refs)), sender


def _raw(msg: Message, name: str) -> str:
    return " ".join(str(msg.get(name, "")).split())


def read_reply(raw: bytes, now: datetime) -> IncomingReply:
    """A whole message (headers and body) -> what the commands need; never raises.

    Headers are read raw (compat32), which accepts anything a stranger can
    send; only the body goes through the modern parser, and if even that
    fails, the reply is kept with the reason instead of its commands.
    """
    head = email.message_from_bytes(raw)
    mid, refs, sender = _heads(head)
    try:
        at = email.utils.parsedate_to_datetime(_raw(head, "date"))
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError):
        at = now
    auth = " ".join(str(v) for v in head.get_all("authentication-results") or [])
    body, unreadable = "", ""
    try:
        msg = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        body = _body(msg)
    except Exception as e:  # the email package is lenient, but a message can be anything
        unreadable = short_reason(e)
    return IncomingReply(
        message_id=mid,
        sender=sender,
        refs=refs,
        at=min(at.astimezone(UTC), now),
        body=body,
        spoofed=bool(_SPOOFED.search(auth)),
        unreadable=unreadable,
        to=_recipients(head),
        subject=_raw(head, "subject"),
    )


def _recipients(msg: Message) -> tuple[str, ...]:
    pairs = email.utils.getaddresses([_raw(msg, "to"), _raw(msg, "cc")])
    return tuple(dict.fromkeys(a for a in (normalise_email(p[1]) for p in pairs if p[1]) if a))


def to_nudge(settings: Settings, to: Sequence[str], subject: str, message_id: str) -> bool:
    """Whether a mail that answers no digest is one the user wrote to nudge: to the digest's
    sender address, which is not one of `me.emails` (a dedicated address) or under a subject
    starting with "nudge"; never a digest itself."""
    address = normalise_email(settings.sender)
    if address is None or address not in to or digest_key(message_id) is not None:
        return False
    me = {e for e in (normalise_email(x) for x in settings.me.emails) if e}
    return address not in me or subject.strip().lower().startswith("nudge")


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        text = str(part.get_content())
    except (LookupError, ValueError):  # an unknown charset: read what can be read
        payload = part.get_payload(decode=True)
        text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    return html_to_text(text) if part.get_content_type() == "text/html" else text


# --- applying ---------------------------------------------------------------------


def _digest_for(session: Session, refs: Sequence[str]) -> DigestRun | None:
    """The digest a reply answers: its day and token must match (any resend of that day counts)."""
    for ref in refs:
        key = digest_key(ref)
        if key is None:
            continue
        run = session.exec(select(DigestRun).where(DigestRun.date == date.fromisoformat(key[0]))).first()
        if run is not None and digest_key(run.message_id) == key:
            return run
    return None


def apply_reply(session: Session, settings: Settings, reply: IncomingReply, now: datetime) -> Reply | None:
    """Apply one reply's commands in the caller's transaction; None if it was seen before."""
    if session.exec(select(Reply.id).where(Reply.message_id == reply.message_id)).first() is not None:
        return None
    run = _digest_for(session, reply.refs)
    row = Reply(message_id=reply.message_id, received_at=reply.at, digest_date=run.date if run else None)
    me = {e for e in (normalise_email(x) for x in settings.me.emails) if e}
    direct = run is None and to_nudge(settings, reply.to, reply.subject, reply.message_id)
    day = run.date if run is not None else None
    if run is None and not direct:
        row.state, row.problems = "ignored", "it answers no digest nudge sent"
    elif reply.unreadable and reply.sender in me:
        row.state, row.problems = "ignored", f"could not read the reply: {reply.unreadable}"
    elif reply.sender not in me:
        row.state = "ignored"
        row.problems = f"a reply from {reply.sender or 'an unknown sender'}, not one of your me.emails"
        log.warning("ignored a reply to the digest of %s from %s: not one of me.emails", day, reply.sender)
    elif reply.spoofed:
        row.state = "ignored"
        row.problems = f"a reply claiming to be from {reply.sender} failed the mail server's sender check"
        log.warning("ignored a reply to the digest of %s that failed sender authentication", day)
    else:
        parsed = parse_reply(reply.body)
        applied: list[str] = []
        problems = [f"not understood: “{line}”" for line in parsed.not_understood]
        for command in parsed.commands:
            for outcome in _apply(session, settings, day, command, reply.at, now):
                (applied if outcome[0] else problems).append(outcome[1])
        if not parsed.commands and not parsed.not_understood:
            problems.append("the reply had no commands")
        row.applied, row.problems = "\n".join(applied), "\n".join(problems)
        log.info(
            "reply to the digest of %s: %s%s",
            day or "(a mail to nudge)",
            "; ".join(applied) or "nothing applied",
            f"; not applied: {'; '.join(problems)}" if problems else "",
        )
    session.add(row)
    return row


def _people(session: Session, day: date | None, command: Command) -> Iterator[tuple[Contact | None, str]]:
    """The contacts a command names, or None with the reason."""
    if command.name:  # by name: anyone, in the digest or not; an ambiguous name lists the candidates
        try:
            yield actions.find(session, command.name), ""
        except UserError as e:
            yield None, f"{command.line}: {e}"
        return
    if day is None:
        yield None, f"{command.line}: numbers are a digest's; reply to it, or name the person"
        return
    picks = session.exec(select(Suggestion).where(Suggestion.digest_date == day)).all()
    for target in command.targets:
        if target == "partner":
            found = [p for p in picks if p.slot == "partner"]
            if not found:
                yield None, f"{command.line}: the digest of {_day(day)} had no referral partner"
            for p in found:
                yield session.get(Contact, p.contact_id), ""
            continue
        match = next((p for p in picks if p.position == target), None)
        if match is None:
            yield None, f"{command.line}: the digest of {_day(day)} has no number {target}"
        else:
            yield session.get(Contact, match.contact_id), ""


def _apply(
    session: Session, settings: Settings, day: date | None, command: Command, at: datetime, now: datetime
) -> Iterator[tuple[bool, str]]:
    """(done?, what happened) per person the command names."""
    for contact, why in _people(session, day, command):
        if contact is None:
            yield False, why
            continue
        assert contact.id is not None
        try:
            with session.begin_nested():  # a command that fails leaves nothing half done
                done = _act(session, settings, day, command, contact, at, now)
        except (UserError, ValueError, OverflowError) as e:
            yield False, f"{command.line}: {e}"
        else:
            yield True, done


def _act(
    session: Session,
    settings: Settings,
    day: date | None,
    command: Command,
    contact: Contact,
    at: datetime,
    now: datetime,
) -> str:
    if command.verb in TOUCH_VERBS:
        kind = TOUCH_VERBS[command.verb]
        actions.log_touch(session, settings, contact, now, kind, command.text, at=at, via="reply")
        extra = f": {command.text}" if command.text else ""
        return f"logged a {kind} with {contact.name}{extra}"
    if command.verb == "snooze":
        until = actions.snooze_for(session, contact, command.text, now, settings.tz, via="reply")
        return f"snoozed {contact.name} until {_day(until)}" if until else f"woke {contact.name}"
    if command.verb == "follow":
        row = follow.add_follow_up(session, settings, contact, command.when, command.text, at, via="reply")
        what = f": {row.text}" if row.text else ""
        return f"follow-up with {contact.name} on {_day(row.due)}{what}"
    if command.verb == "outcome":
        touch = actions.set_outcome(session, settings, contact, command.text, at, via="reply")
        when = touch.at.astimezone(settings.tz).date()
        return f"the {touch.summary or touch.kind} with {contact.name} on {_day(when)} led to {command.text}"
    if command.verb == "skip":
        assert day is not None  # skip names digest numbers only
        until = actions.skip(session, contact, day, now, settings.tz, via="reply")
        return f"skipped {contact.name}: back after {_day(until)}"
    assert command.verb == "note" and contact.id is not None
    actions.add_note(session, contact, command.text, now, via="reply")
    return f"noted for {contact.name}: {command.text}"


def _day(value: date) -> str:
    return f"{value:%a} {value.day} {value:%b}"


# --- the mailbox ----------------------------------------------------------------------


@dataclass
class PollReport:
    seen: int = 0  # replies to a digest found in the INBOX
    applied: int = 0  # new replies with commands applied
    ignored: int = 0  # new replies from strangers or answering nothing
    error: str = ""


def digest_ids(session: Session, now: datetime) -> list[str]:
    since = (now - timedelta(days=LOOKBACK_DAYS)).date()
    rows = session.exec(
        select(DigestRun.message_id).where(col(DigestRun.date) >= since, DigestRun.message_id != "")
    ).all()
    return [r.strip("<>") for r in rows]


_HEAD = "BODY[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES FROM DATE TO CC SUBJECT)]"


def poll(engine: Engine, settings: Settings, now: datetime, client: Any, inbox: str = "INBOX") -> PollReport:
    """Look in the INBOX of a logged-in IMAPClient for replies to recent digests and apply them.

    Replies from the user are marked \\Seen once applied (also on a later poll,
    should the process have stopped in between); others are left as they are
    for the user to look at.
    """
    report = PollReport()
    with Session(engine) as s:
        wanted = {k for k in map(digest_key, digest_ids(s, now)) if k}
        known = dict(s.exec(select(Reply.message_id, Reply.state)).all())
    address = normalise_email(settings.sender)
    if not wanted and address is None:
        return report
    client.select_folder(inbox)
    since = (now - timedelta(days=LOOKBACK_DAYS)).date()
    criteria = ["SINCE", since, "OR", "HEADER", "In-Reply-To", "nudge.digest.", "HEADER", "References"]
    uids = set(client.search([*criteria, "nudge.digest."])) if wanted else set()
    if address is not None:  # mails the user wrote to nudge's address
        for mine in dict.fromkeys(settings.me.emails):
            uids.update(client.search(["SINCE", since, "FROM", mine, "TO", address]))
    if not uids:
        return report
    todo: dict[int, str] = {}  # uid -> reply id
    to_mark: list[int] = []
    too_big: list[IncomingReply] = []
    fields = ["FLAGS", "RFC822.SIZE", _HEAD.replace("BODY", "BODY.PEEK")]
    for uid, data in client.fetch(sorted(uids), fields).items():
        head = email.message_from_bytes(data.get(_HEAD.encode(), b""))
        mid, refs, sender = _heads(head)
        if not wanted.intersection(k for k in map(digest_key, refs) if k) and not to_nudge(
            settings, _recipients(head), _raw(head, "subject"), mid
        ):
            continue  # another tool's "nudge.digest.", an older digest, a mail not to nudge
        report.seen += 1
        seen = b"\\Seen" in (data.get(b"FLAGS") or ())
        if mid in known:
            if known[mid] == "applied" and not seen:
                to_mark.append(uid)
            continue
        if int(data.get(b"RFC822.SIZE", 0)) > MAX_REPLY_BYTES:
            reason = f"too large to read ({int(data.get(b'RFC822.SIZE', 0)) // 1024} KB)"
            too_big.append(IncomingReply(mid, sender, refs, now, "", unreadable=reason))
            continue
        todo[uid] = mid
    try:
        for reply in too_big:
            _record(engine, settings, reply, now, report)
        fetched = client.fetch(list(todo), ["BODY.PEEK[]"]) if todo else {}
        for uid, data in fetched.items():
            if _record(engine, settings, read_reply(data[b"BODY[]"], now), now, report) == "applied":
                to_mark.append(uid)
    finally:
        if to_mark:
            client.add_flags(to_mark, [b"\\Seen"])
    return report


def _record(
    engine: Engine, settings: Settings, reply: IncomingReply, now: datetime, report: PollReport
) -> str:
    """Apply one reply in its own transaction; its state, or "" when another poller got there first."""
    try:
        with atomic(engine) as s:
            row = apply_reply(s, settings, reply, now)
            state = row.state if row is not None else ""
    except IntegrityError:  # the same reply, applied at this moment by another nudge process
        return ""
    if state == "applied":
        report.applied += 1
    elif state:
        report.ignored += 1
    return state


# --- telling the user --------------------------------------------------------------------


@dataclass(frozen=True)
class Told:
    id: int
    received: date
    applied: tuple[str, ...]
    problems: tuple[str, ...]


def untold(session: Session, settings: Settings) -> list[Told]:
    """Replies the user has not been told about yet, oldest first."""
    rows = session.exec(
        select(Reply).where(col(Reply.reported_on).is_(None)).order_by(col(Reply.received_at))
    ).all()
    out = []
    for r in rows:
        if r.state == "ignored" and r.digest_date is None:
            continue  # answered nothing of ours: not worth a line
        assert r.id is not None
        out.append(
            Told(
                id=r.id,
                received=r.received_at.astimezone(settings.tz).date(),
                applied=tuple(x for x in r.applied.split("\n") if x),
                problems=tuple(x for x in r.problems.split("\n") if x),
            )
        )
    return out


def mark_told(session: Session, ids: Sequence[int], day: date) -> None:
    for row in session.exec(select(Reply).where(col(Reply.id).in_(list(ids)))):
        row.reported_on = day
        session.add(row)
