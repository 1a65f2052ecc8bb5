"""Header blocks -> message records, and which messages are touches (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nudge.core.records import MessageRecord
from nudge.core.touches import MailRules, message_touches
from nudge.parse import ParseError, parse_object
from nudge.parse.email import message_ids, parse_message
from tests.builders import ME, email
from tests.profiles import scaled

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
ANA = "ana.ruiz@example.org"
BEN = "ben.ott@example.net"
RULES = MailRules(me=frozenset({ME}), weight=0.3, max_recipients=8, history_days=730)
WHEN = NOW - timedelta(days=2)


def test_a_sent_message_is_parsed_with_its_people_and_ids() -> None:
    rec = parse_message(
        email(
            "m1@example.com",
            f"Me <{ME.upper()}>",
            (f'"Ruiz, Ana" <{ANA}>',),
            WHEN,
            cc=(BEN,),
            extra=("In-Reply-To: <m0@example.org>", "References: <a@x.org> <m0@example.org>"),
        )
    )
    assert rec.message_id == "m1@example.com"
    assert rec.sender == ME
    assert rec.recipients == (ANA, BEN)
    assert rec.at == WHEN
    assert rec.subject == "Hello"
    assert rec.refs == ("m0@example.org", "a@x.org")
    assert rec.automated == ""


def test_bcc_of_a_sent_copy_counts_as_a_recipient() -> None:
    rec = parse_message(email("m", ME, (ANA,), WHEN, extra=(f"Bcc: {BEN}",)))
    assert rec.recipients == (ANA, BEN)


def test_encoded_words_and_utf8_headers_are_decoded() -> None:
    text = (
        "Message-ID: <u@x>\r\nFrom: =?utf-8?q?Zo=C3=AB_M=C3=BCller?= <zoe@example.de>\r\n"
        f"To: {ME}\r\nDate: Mon, 16 Nov 2026 10:00:00 +0100\r\nSubject: Grüße aus Köln\r\n\r\n"
    )
    rec = parse_message(text)
    assert rec.sender == "zoe@example.de"
    assert rec.subject == "Grüße aus Köln"
    assert rec.at == datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def test_a_message_without_message_id_gets_a_stable_one_from_what_it_says() -> None:
    a = email("x", ANA, (ME,), WHEN).replace("Message-ID: <x>\r\n", "")
    b = "X-Folder: Inbox\r\n" + a  # stored differently, the same message
    assert parse_message(a).message_id.startswith("sha1:")
    assert parse_message(a).message_id == parse_message(b).message_id


@pytest.mark.parametrize(
    ("header", "why"),
    [
        ("List-Id: <team.lists.example.org>", "mailing list"),
        ("Precedence: bulk", "bulk mail"),
        ("Auto-Submitted: auto-replied", "automatic (auto-replied)"),
    ],
)
def test_lists_bulk_and_automatic_mail_are_marked(header: str, why: str) -> None:
    rec = parse_message(email("m", ANA, (ME,), WHEN, extra=(header,)))
    assert rec.automated == why
    assert message_touches(rec, RULES, NOW) == []


def test_auto_submitted_no_is_a_person_writing() -> None:
    rec = parse_message(email("m", ANA, (ME,), WHEN, extra=("Auto-Submitted: no",)))
    assert rec.automated == ""


@pytest.mark.parametrize("sender", ["noreply@shop.example", "no-reply@x.io", "notifications@github.com"])
def test_machine_senders_are_no_touch(sender: str) -> None:
    rec = parse_message(email("m", sender, (ME,), WHEN))
    assert rec.automated == "machine sender"
    assert message_touches(rec, RULES, NOW) == []


def test_missing_or_broken_date_is_a_parse_error_naming_the_message() -> None:
    text = email("m9@x", ANA, (ME,), WHEN)
    no_date = "\r\n".join(line for line in text.split("\r\n") if not line.startswith("Date:"))
    with pytest.raises(ParseError, match="no Date") as e:
        parse_message(no_date)
    assert e.value.uid == "<m9@x>"
    with pytest.raises(ParseError, match="unreadable Date"):
        parse_message(text.replace("Date: ", "Date: someday "))


def test_parse_object_dispatches_email() -> None:
    rec = parse_object("email", email("m", ANA, (ME,), WHEN), UTC, NOW, NOW)
    assert isinstance(rec, MessageRecord)


def test_message_ids_tolerate_missing_brackets_and_repeats() -> None:
    assert message_ids("<a@x> <b@y>\r\n <a@x>") == ("a@x", "b@y")
    assert message_ids("bare@id") == ("bare@id",)
    assert message_ids("") == ()


# --- touches -----------------------------------------------------------------------


def record(**kw: object) -> MessageRecord:
    base: dict[str, object] = {"message_id": "m", "at": WHEN, "sender": ME, "recipients": (ANA,)}
    return MessageRecord(**(base | kw))  # type: ignore[arg-type]


def test_sent_mail_touches_each_recipient_outbound_shared_weight() -> None:
    touches = message_touches(record(recipients=(ANA, BEN, ME), subject="Lunch?"), RULES, NOW)
    assert [(t.email, t.direction) for t in touches] == [(ANA, "out"), (BEN, "out")]
    assert {t.weight for t in touches} == {0.15}
    assert {t.external_id for t in touches} == {"mail:m"}
    assert touches[0].summary == "email “Lunch?”"


def test_received_mail_touches_only_its_sender_inbound() -> None:
    touches = message_touches(record(sender=ANA, recipients=(ME, BEN)), RULES, NOW)
    assert [(t.email, t.direction) for t in touches] == [(ANA, "in")]
    assert touches[0].weight == 0.15


def test_broadcasts_are_no_touch() -> None:
    many = tuple(f"p{i}@example.com" for i in range(9))
    assert message_touches(record(recipients=many), RULES, NOW) == []
    assert message_touches(record(sender=ANA, recipients=(ME, *many[:8])), RULES, NOW) == []
    assert len(message_touches(record(recipients=many[:8]), RULES, NOW)) == 8


def test_weight_never_drops_below_the_floor() -> None:
    touches = message_touches(record(recipients=tuple(f"p{i}@x.org" for i in range(8))), RULES, NOW)
    assert {t.weight for t in touches} == {0.1}


def test_mail_to_oneself_or_to_machines_is_no_touch() -> None:
    assert message_touches(record(recipients=(ME,)), RULES, NOW) == []
    touches = message_touches(record(recipients=("noreply@x.org", ANA)), RULES, NOW)
    assert [t.email for t in touches] == [ANA]


def test_old_and_far_future_mail_is_no_touch_near_future_is_now() -> None:
    assert message_touches(record(at=NOW - timedelta(days=731)), RULES, NOW) == []
    assert message_touches(record(at=NOW + timedelta(days=2)), RULES, NOW) == []
    [soon] = message_touches(record(at=NOW + timedelta(hours=3)), RULES, NOW)
    assert soon.at == NOW


# --- never anything but ParseError ------------------------------------------------

HEADER_NAMES = st.sampled_from(
    ["From", "To", "Cc", "Date", "Message-ID", "Subject", "References", "In-Reply-To", "List-Id", "X"]
)


@scaled(2)
@given(
    st.lists(st.tuples(HEADER_NAMES, st.text(max_size=60)), max_size=8),
    st.sampled_from(["\r\n", "\n", ""]),
)
def test_any_header_block_parses_or_is_a_parse_error(fields: list[tuple[str, str]], end: str) -> None:
    text = "".join(f"{name}: {value}\r\n" for name, value in fields) + end
    try:
        rec = parse_message(text)
    except ParseError as e:
        assert e.reason
        return
    assert rec.at.tzinfo is not None
    assert rec.message_id
    message_touches(rec, RULES, NOW)


@scaled(4 / 3)
@given(st.data())
def test_mutated_real_messages_parse_or_are_a_parse_error(data: st.DataObject) -> None:
    text = email("m@x", f"Ana <{ANA}>", (ME, BEN), WHEN, cc=(BEN,), extra=("References: <a@b>",))
    i = data.draw(st.integers(0, len(text) - 1))
    j = data.draw(st.integers(i, min(len(text), i + 20)))
    mutated = text[:i] + data.draw(st.text(max_size=10)) + text[j:]
    try:
        rec = parse_message(mutated)
    except ParseError as e:
        assert e.reason
    else:
        assert rec.at.tzinfo is not None
