"""Delivery reports (RFC 3464) in mail headers: which addresses bounced for good (pure)."""

from __future__ import annotations

import pytest

from nudge.parse.email import parse_message

HEAD = (
    "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\n"
    "To: sam@example.com\r\nDate: Wed, 03 Jun 2026 09:00:00 +0000\r\nMessage-ID: <b1@mx.example>\r\n"
    "Subject: Delivery Status Notification (Failure)\r\n"
)
REPORT = 'Content-Type: multipart/report; report-type=delivery-status;\r\n boundary="00000"\r\n'


def status(action: str, code: str, recipient: str = "ana@oldco.example") -> str:
    return (
        "\r\nReporting-MTA: dns; googlemail.com\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {code}\r\n"
    )


@pytest.mark.parametrize(
    ("text", "bounced"),
    [
        (HEAD + REPORT + status("failed", "5.1.1"), ("ana@oldco.example",)),
        (HEAD + REPORT + status("failed", "5.1.1", "<Ana@OldCo.example>"), ("ana@oldco.example",)),
        (HEAD + REPORT + status("delayed", "4.4.1"), ()),  # not yet given up
        (HEAD + REPORT + status("failed", "4.4.7"), ()),  # a transient failure: not "gone"
        (HEAD + REPORT + "X-Failed-Recipients: ana@oldco.example\r\n", ("ana@oldco.example",)),  # Exim, Gmail
        (HEAD + "Content-Type: text/plain\r\nX-Failed-Recipients: ana@oldco.example\r\n", ()),  # no report
        (
            HEAD + REPORT.replace("delivery-status", "disposition-notification") + status("failed", "5.1.1"),
            (),
        ),
    ],
)
def test_only_permanent_failures_of_delivery_reports_are_bounces(text: str, bounced: tuple[str, ...]) -> None:
    assert parse_message(text).bounced == bounced
