"""Text builders for vCards and events used across the tests."""

from __future__ import annotations

from datetime import UTC, datetime

ME = "me@example.com"


def vcard(
    uid: str,
    name: str,
    emails: tuple[str, ...] = (),
    phones: tuple[str, ...] = (),
    org: str | None = None,
    title: str | None = None,
    categories: tuple[str, ...] = (),
    bday: str | None = None,
) -> str:
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"UID:{uid}", f"FN:{name}"]
    last, _, first = name.rpartition(" ")[::-1] if " " in name else (name, "", "")
    lines.append(f"N:{last};{first};;;")
    lines += [f"EMAIL;TYPE=INTERNET:{e}" for e in emails]
    lines += [f"TEL;TYPE=CELL:{p}" for p in phones]
    if org:
        lines.append(f"ORG:{org}")
    if title:
        lines.append(f"TITLE:{title}")
    if categories:
        lines.append("CATEGORIES:" + ",".join(categories))
    if bday:
        lines.append(f"BDAY:{bday}")
    lines.append("END:VCARD")
    return "\r\n".join(lines) + "\r\n"


def group_card(uid: str, name: str, members: tuple[str, ...], apple: bool = False) -> str:
    """A group card listing these card UIDs: vCard 4 KIND:group, or Apple's 3.0 spelling."""
    if apple:
        head = ["VERSION:3.0", "X-ADDRESSBOOKSERVER-KIND:group", f"N:{name};;;;"]
        listed = [f"X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:{m}" for m in members]
    else:
        head = ["VERSION:4.0", "KIND:group"]
        listed = [f"MEMBER:urn:uuid:{m}" for m in members]
    lines = ["BEGIN:VCARD", *head, f"UID:{uid}", f"FN:{name}", *listed, "END:VCARD"]
    return "\r\n".join(lines) + "\r\n"


def vevent(
    uid: str,
    start: datetime,
    attendees: tuple[str, ...] = (),
    summary: str = "Meeting",
    organizer: str = ME,
    extra: tuple[str, ...] = (),
    partstat: dict[str, str] | None = None,
) -> str:
    """One VEVENT (no VCALENDAR around it); times in UTC."""
    partstat = partstat or {}
    stamp = start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART:{stamp}",
        f"SUMMARY:{summary}",
        f"ORGANIZER:mailto:{organizer}",
        f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{ME}",
    ]
    lines += [f"ATTENDEE;PARTSTAT={partstat.get(a, 'ACCEPTED')}:mailto:{a}" for a in attendees]
    lines += list(extra)
    lines.append("END:VEVENT")
    return "\r\n".join(lines) + "\r\n"


def vcalendar(*events: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//nudge tests//EN\r\n"
        + "".join(events)
        + "END:VCALENDAR\r\n"
    )


def email(
    message_id: str,
    sender: str,
    to: tuple[str, ...],
    at: datetime,
    subject: str = "Hello",
    cc: tuple[str, ...] = (),
    extra: tuple[str, ...] = (),
) -> str:
    """An RFC 5322 header block, as an IMAP or Gmail source hands it over (no body)."""
    from email.utils import format_datetime

    lines = [
        f"Message-ID: <{message_id}>",
        f"From: {sender}",
        f"To: {', '.join(to)}",
        f"Date: {format_datetime(at)}",
        f"Subject: {subject}",
    ]
    if cc:
        lines.append(f"Cc: {', '.join(cc)}")
    lines += list(extra)
    return "\r\n".join(lines) + "\r\n\r\n"
