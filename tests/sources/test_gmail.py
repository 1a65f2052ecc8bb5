"""The Gmail source against a fake Gmail under the real client stack, and its OAuth scope.

`FakeGmail` stands in for the network below googleapiclient (static discovery)
and google-auth-httplib2: it keeps messages with labels and a history log, and
answers profile, messages.list, messages.get, history.list and multipart/mixed
batch requests in the documented shapes. Like Gmail under the metadata scope it
refuses `q` and the formats that carry bodies. One scenario replays Google's
documented bodies through googleapiclient's own `HttpMockSequence`.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from email import message_from_string
from email.parser import HeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httplib2
import pytest
from googleapiclient.http import HttpMockSequence

from nudge.errors import InvalidSyncToken, SourceError
from nudge.sources import google_auth, options_problems, source_class
from nudge.sources.base import BadItem, Collection, Item
from nudge.sources.gmail import HEADERS, GmailOptions, GmailSource, header_block
from nudge.sources.google import GoogleContactsSource, GoogleOptions
from tests.builders import ME
from tests.sources.test_google import FakeHTTP
from tests.sources.test_google import store_token as google_token

DATA = Path(__file__).parent.parent / "data" / "google"
TOKEN_URI = "https://oauth2.googleapis.com/token"
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
ALL_SCOPES = (*google_auth.SCOPES, google_auth.GMAIL_SCOPE)
SENT = GmailSource.LABELS[0]
INBOX = GmailSource.LABELS[1]
ANA = "ana.ruiz@example.org"
BEN = "ben.ott@example.net"
BODY = "the secret body text"


def gerror(status: int, reason: str, message: str, grpc: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"code": status, "message": message}
    body["errors"] = [{"domain": "global", "reason": reason, "message": message}]
    if grpc:
        body["status"] = grpc
    return {"error": body}


NOT_FOUND = gerror(404, "notFound", "Requested entity was not found.", "NOT_FOUND")
PART_REASONS = {400: "failedPrecondition", 403: "insufficientPermissions", 429: "rateLimitExceeded"}


# --- the fake ----------------------------------------------------------------------------------


class FakeGmail(FakeHTTP):
    """A stateful gmail.googleapis.com (profile, messages, history, batch) and token endpoint."""

    def __init__(self) -> None:
        super().__init__()
        self.history_id = 9000
        self.seq = 0
        self.messages: dict[str, dict[str, Any]] = {}
        self.history: list[tuple[int, str, tuple[str, ...]]] = []  # (id, message id, labels at add)
        self.page_size = 500
        self.expired_before = 0  # startHistoryId below this gets 404
        self.part_faults: dict[str, list[int]] = {}  # message id -> statuses its next gets return
        self.on_list: Callable[[], None] | None = None  # runs after each messages.list page
        self.batch_sizes: list[int] = []

    # writers
    def add(
        self,
        labels: Iterable[str],
        sender: str,
        to: Iterable[str],
        at: datetime,
        subject: str = "Hello",
        extra: Iterable[tuple[str, str]] = (),
        date_header: bool = True,
    ) -> str:
        """Deliver (or send) one message; returns its Gmail id."""
        self.seq += 1
        self.history_id += 7  # history ids rise, with gaps
        mid = f"{0x18C0000000000000 + self.seq:016x}"
        headers = [
            {"name": "Delivered-To", "value": ME},
            {"name": "Received", "value": "by 2002:a05:6000:1a8e with SMTP id x14csp12;\r\n Mon"},
            {"name": "MIME-Version", "value": "1.0"},
            *([{"name": "Date", "value": at.strftime("%a, %d %b %Y %H:%M:%S +0000")}] if date_header else []),
            {"name": "Message-ID", "value": f"<m{self.seq}@mail.example>"},
            {"name": "Subject", "value": subject},
            {"name": "From", "value": sender},
            {"name": "To", "value": ", ".join(to)},
            {"name": "Content-Type", "value": 'text/plain; charset="UTF-8"'},
            *({"name": n, "value": v} for n, v in extra),
        ]
        self.messages[mid] = {
            "id": mid,
            "threadId": mid,
            "labelIds": list(labels),
            "snippet": BODY,
            "sizeEstimate": 4242,
            "historyId": str(self.history_id),
            "internalDate": str(int(at.timestamp() * 1000)),
            "payload": {"partId": "", "mimeType": "text/plain", "headers": headers, "body": {"data": BODY}},
        }
        self.history.append((self.history_id, mid, tuple(labels)))
        return mid

    def delete(self, mid: str) -> None:
        del self.messages[mid]
        self.history_id += 3

    # the HTTP side
    def answer(self, uri: str, method: str, body: Any, headers: Any) -> tuple[httplib2.Response, bytes]:
        if uri.startswith(TOKEN_URI):
            return self.reply({"access_token": "ya29.fresh", "expires_in": 3599, "token_type": "Bearer"})
        if urlsplit(uri).path == "/batch":
            return self._batch(body, headers)
        return self.reply(*self._route(method, uri))

    def _route(self, method: str, uri: str) -> tuple[Any, int]:
        url = urlsplit(uri)
        q = parse_qs(url.query)
        path = unquote(url.path).removeprefix("/gmail/v1/users/me")
        if "q" in q:
            return gerror(403, "forbidden", "Metadata scope does not support 'q' parameter"), 403
        if path == "/profile":
            return {
                "emailAddress": ME,
                "messagesTotal": len(self.messages),
                "historyId": str(self.history_id),
            }, 200
        if path == "/messages":
            return self._list(q), 200
        if path.startswith("/messages/"):
            return self._get(path.removeprefix("/messages/"), q)
        if path == "/history":
            return self._history(q)
        return gerror(404, "notFound", f"no route for {path}"), 404

    def _page(self, rows: list[Any], q: dict[str, list[str]]) -> tuple[list[Any], str | None]:
        start = int(q.get("pageToken", ["0"])[0])
        size = min(int(q.get("maxResults", ["100"])[0]), self.page_size)
        more = start + size < len(rows)
        return rows[start : start + size], str(start + size) if more else None

    def _list(self, q: dict[str, list[str]]) -> dict[str, Any]:
        wanted = set(q.get("labelIds", []))
        rows = sorted(
            (m for m in self.messages.values() if wanted <= set(m["labelIds"])),
            key=lambda m: (-int(m["internalDate"]), m["id"]),
        )
        page, next_page = self._page([{"id": m["id"], "threadId": m["threadId"]} for m in rows], q)
        out: dict[str, Any] = {"resultSizeEstimate": len(rows)}
        if page:
            out["messages"] = page
        if next_page:
            out["nextPageToken"] = next_page
        if self.on_list is not None:
            self.on_list()
        return out

    def _get(self, mid: str, q: dict[str, list[str]]) -> tuple[Any, int]:
        fault = self.part_faults.get(mid)
        if fault:
            status = fault.pop(0)
            return gerror(status, PART_REASONS.get(status, "backendError"), "Refused for the test"), status
        fmt = q.get("format", ["full"])[0]
        if fmt in ("full", "raw"):
            return gerror(403, "forbidden", f"Metadata scope doesn't allow format {fmt.upper()}"), 403
        found = self.messages.get(mid)
        if found is None:
            return NOT_FOUND, 404
        out = {k: v for k, v in found.items() if k != "payload"}
        if fmt == "metadata":
            names = {n.lower() for n in q.get("metadataHeaders", [])}
            headers = [h for h in found["payload"]["headers"] if not names or h["name"].lower() in names]
            out["payload"] = {"mimeType": found["payload"]["mimeType"], "headers": headers}
        return out, 200

    def _history(self, q: dict[str, list[str]]) -> tuple[Any, int]:
        start = int(q["startHistoryId"][0])
        if start < self.expired_before:
            return NOT_FOUND, 404
        label = q.get("labelId", [None])[0]
        types = set(q.get("historyTypes", ["messageAdded"]))
        rows = [
            {
                "id": str(hid),
                "messages": [{"id": mid, "threadId": mid}],
                "messagesAdded": [{"message": {"id": mid, "threadId": mid, "labelIds": list(labels)}}],
            }
            for hid, mid, labels in self.history
            if hid > start and (label is None or label in labels) and "messageAdded" in types
        ]
        page, next_page = self._page(rows, q)
        out: dict[str, Any] = {"historyId": str(self.history_id)}
        if page:
            out["history"] = page
        if next_page:
            out["nextPageToken"] = next_page
        return out, 200

    def _batch(self, body: str, headers: dict[str, str]) -> tuple[httplib2.Response, bytes]:
        envelope = message_from_string(f"Content-Type: {headers['content-type']}\r\n\r\n{body}")
        parts = envelope.get_payload()
        assert isinstance(parts, list)
        self.batch_sizes.append(len(parts))
        boundary = "batch_fake_boundary"
        out = []
        for part in parts:
            inner = part.get_payload()
            request_line = inner.split("\n", 1)[0]
            method, target, _ = request_line.split(" ")
            self.log.append(f"PART {method} {target}")
            payload, status = self._route(method, f"https://gmail.googleapis.com{target}")
            cid = part["Content-ID"].strip("<>")
            out.append(
                f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <response-{cid}>\r\n\r\n"
                f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
                f"Content-Type: application/json; charset=UTF-8\r\n\r\n{json.dumps(payload)}\r\n"
            )
        content = "".join(out) + f"--{boundary}--\r\n"
        resp = httplib2.Response({"status": "200", "content-type": f"multipart/mixed; boundary={boundary}"})
        return resp, content.encode()

    def parts(self) -> list[str]:
        return [line for line in self.log if line.startswith("PART ")]


# --- fixtures ------------------------------------------------------------------------------------


def store_token(account: str = "default", scopes: Iterable[str] = ALL_SCOPES, expired: bool = False) -> Path:
    """A stored grant that includes the Gmail scope unless told otherwise."""
    return google_token(account, expired, scopes)


@pytest.fixture
def fake() -> FakeGmail:
    store_token()
    return FakeGmail()


def gmail(http: Any, slept: list[float] | None = None, **options: Any) -> GmailSource:
    return GmailSource(
        "gm",
        GmailOptions(**options),
        http=http,
        sleep=(slept.append if slept is not None else lambda s: None),
        clock=NOW.timestamp,
    )


def items(source: GmailSource, coll: Collection, hrefs: Iterable[str]) -> list[Item | BadItem]:
    return list(source.fetch(coll, list(hrefs)))


def parse(block: str) -> Any:
    return HeaderParser(policy=default_policy).parsestr(block)


# --- listing and increments ---------------------------------------------------------------------


def test_collections_are_the_sent_and_inbox_labels(fake: FakeGmail) -> None:
    colls = gmail(fake).collections()
    assert [(c.id, c.kind, c.name) for c in colls] == [
        ("SENT", "messages", "Sent"),
        ("INBOX", "messages", "Inbox"),
    ]
    assert fake.log == []  # reading the grant needs no request


def test_first_listing_follows_pages_with_the_token_taken_before(fake: FakeGmail) -> None:
    fake.page_size = 2
    sent = [fake.add(["SENT"], ME, [ANA], NOW - timedelta(days=i)) for i in range(5)]
    fake.add(["INBOX", "UNREAD"], ANA, [ME], NOW - timedelta(hours=1))
    before = fake.history_id
    late: list[str] = []

    def send_while_paging() -> None:
        if not late:
            late.append(fake.add(["SENT"], ME, [BEN], NOW))

    fake.on_list = send_while_paging
    source = gmail(fake)
    changes = source.changes(SENT, None)
    assert not changes.complete and changes.deleted == set()
    assert changes.token == f"g1:{before}"  # the history id before the listing began
    assert set(changes.changed) >= set(sent) and set(changes.changed.values()) == {"1"}
    assert "/profile" in fake.log[0] and "/messages?" in fake.log[1]  # the token comes first
    assert sum("/messages?" in line for line in fake.log) == 3  # 5 or 6 ids, 2 a page
    assert all("q=" not in line for line in fake.log)
    assert source.list(SENT).keys() >= set(sent)
    # The message sent while paging is in the next increment, whether or not the listing saw it.
    assert set(gmail(fake).changes(SENT, changes.token).changed) == set(late)


def test_listing_stops_paging_once_messages_are_older_than_max_age(fake: FakeGmail) -> None:
    fake.page_size = 2
    ages = [1, 10, 100, 400, 500, 600, 700]
    ids = {age: fake.add(["SENT"], ME, [ANA], NOW - timedelta(days=age)) for age in ages}
    source = gmail(fake, max_age_days=300)
    listed = source.changes(SENT, None).changed
    # Page 1 (1, 10) has a young last message; page 2 (100, 400) ends old: no page 3.
    assert set(listed) == {ids[1], ids[10], ids[100], ids[400]}
    assert sum("/messages?" in line for line in fake.log) == 2
    probes = [line for line in fake.log if "format=minimal" in line]
    assert len(probes) == 2 and ids[400] in probes[1]
    fetched = items(source, SENT, listed)
    assert {i.href for i in fetched} == {ids[1], ids[10], ids[100]}  # 400 days: dropped by fetch


def test_increment_reports_exactly_the_label_s_added_messages(fake: FakeGmail) -> None:
    fake.add(["SENT"], ME, [ANA], NOW - timedelta(days=3))
    fake.add(["INBOX"], ANA, [ME], NOW - timedelta(days=2))
    source = gmail(fake)
    sent_token = source.changes(SENT, None).token
    inbox_token = source.changes(INBOX, None).token
    assert sent_token == inbox_token and sent_token is not None
    new_sent = {fake.add(["SENT"], ME, [ANA], NOW), fake.add(["SENT", "IMPORTANT"], ME, [BEN], NOW)}
    new_inbox = {fake.add(["INBOX", "UNREAD", "CATEGORY_PERSONAL"], BEN, [ME], NOW)}
    fake.add(["DRAFT"], ME, [ANA], NOW)  # a draft is neither
    fake.log.clear()
    source = gmail(fake)
    sent = source.changes(SENT, sent_token)
    inbox = source.changes(INBOX, inbox_token)
    assert set(sent.changed) == new_sent and set(inbox.changed) == new_inbox
    assert not sent.complete and not inbox.complete and sent.deleted == set()
    assert sent.token == inbox.token == f"g1:{fake.history_id}"
    assert len(fake.log) == 2 and all("historyTypes=messageAdded" in line for line in fake.log)
    # Nothing new: one request, no ids, the same token.
    again = source.changes(SENT, sent.token)
    assert again.changed == {} and again.token == sent.token and len(fake.log) == 3


def test_increment_follows_history_pages(fake: FakeGmail) -> None:
    source = gmail(fake)
    token = source.changes(INBOX, None).token
    fake.page_size = 2
    added = {fake.add(["INBOX"], ANA, [ME], NOW - timedelta(minutes=i)) for i in range(5)}
    changes = source.changes(INBOX, token)
    assert set(changes.changed) == added
    assert sum("/history?" in line for line in fake.log) == 3


def test_expired_history_id_is_invalid_sync_token_and_the_relisting_works(fake: FakeGmail) -> None:
    mid = fake.add(["SENT"], ME, [ANA], NOW)
    source = gmail(fake)
    token = source.changes(SENT, None).token
    fake.expired_before = fake.history_id + 1
    with pytest.raises(InvalidSyncToken, match="404"):
        source.changes(SENT, token)
    again = source.changes(SENT, None)
    assert set(again.changed) == {mid} and again.token == f"g1:{fake.history_id}"


@pytest.mark.parametrize("token", ["g1:", "g1:abc", "x:123", "123"])
def test_a_token_that_is_no_history_id_is_invalid_without_a_request(fake: FakeGmail, token: str) -> None:
    with pytest.raises(InvalidSyncToken):
        gmail(fake).changes(SENT, token)
    assert fake.log == []


# --- fetching -------------------------------------------------------------------------------------


def test_fetch_reads_header_blocks_in_batches_of_fifty(fake: FakeGmail) -> None:
    ids = [fake.add(["SENT"], ME, [f"p{i}@example.com"], NOW - timedelta(hours=i)) for i in range(120)]
    source = gmail(fake)
    got = items(source, SENT, [*ids, ids[0]])  # a repeated href is read once
    assert [i.href for i in got] == ids and all(isinstance(i, Item) for i in got)
    assert fake.batch_sizes == [50, 50, 20] and source.requests == 3
    assert sum(line.startswith("POST https://gmail.googleapis.com/batch") for line in fake.log) == 3
    part = parse_qs(urlsplit(fake.parts()[0].split(" ")[2]).query)
    assert part["format"] == ["metadata"] and part["metadataHeaders"] == list(HEADERS)


def test_a_header_block_has_the_asked_fields_and_no_body(fake: FakeGmail) -> None:
    at = NOW - timedelta(days=1)
    extra = [
        ("Cc", "Ben Ott <ben.ott@example.net>"),
        ("In-Reply-To", "<x1@mail.example>"),
        ("References", "<x0@mail.example>\r\n <x1@mail.example>"),
        ("List-Id", "Climbing <climb.lists.example.org>"),
        ("X-Spam-Score", "0"),
    ]
    mid = fake.add(["INBOX"], "Ana Ruíz <ana.ruiz@example.org>", [ME], at, "Grüße aus Berlin", extra)
    [item] = items(gmail(fake), INBOX, [mid])
    assert isinstance(item, Item) and item.format == "email" and item.etag == "1"
    assert BODY not in item.data and "Delivered-To" not in item.data and "X-Spam-Score" not in item.data
    lines = item.data.split("\r\n")
    assert lines[-2:] == ["", ""] and all(": " in line for line in lines[:-2])
    msg = parse(item.data)
    assert msg["From"].addresses[0].addr_spec == ANA and msg["From"].addresses[0].display_name == "Ana Ruíz"
    assert str(msg["Subject"]) == "Grüße aus Berlin" and msg["Message-ID"] == "<m1@mail.example>"
    assert msg["References"] == "<x0@mail.example> <x1@mail.example>"  # one line, unfolded
    assert msg["List-Id"].startswith("Climbing") and msg["Cc"].addresses[0].addr_spec == BEN
    assert msg["Date"].datetime == at.replace(microsecond=0)


def test_a_message_without_date_gets_gmail_s_internal_date() -> None:
    at = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    message = {"id": "1", "internalDate": str(int(at.timestamp() * 1000)), "payload": {"headers": []}}
    assert header_block(message) == "Date: Wed, 04 Mar 2026 05:06:07 +0000\r\n\r\n"
    odd = {"payload": {"headers": [{"name": "Bad Name", "value": "x"}, {"name": "To", "value": "a\r\n b"}]}}
    assert header_block(odd) == "To: a b\r\n\r\n"


def test_fetch_skips_drafts_spam_and_what_was_deleted(fake: FakeGmail) -> None:
    keep = fake.add(["SENT"], ME, [ANA], NOW)
    draft = fake.add(["DRAFT"], ME, [ANA], NOW)
    spam = fake.add(["SPAM"], BEN, [ME], NOW)
    gone = fake.add(["SENT"], ME, [BEN], NOW)
    fake.delete(gone)
    assert [i.href for i in items(gmail(fake), SENT, [keep, draft, spam, gone])] == [keep]


def test_failing_batch_parts_are_retried_skipped_or_bad_items(fake: FakeGmail) -> None:
    ok, flaky, broken, stuck, gone = (fake.add(["SENT"], ME, [ANA], NOW) for _ in range(5))
    fake.delete(gone)
    fake.part_faults = {flaky: [500, 429], broken: [400], stuck: [503] * 10}
    slept: list[float] = []
    got = {i.href: i for i in items(gmail(fake, slept, retries=3), SENT, [ok, flaky, broken, stuck, gone])}
    assert set(got) == {ok, flaky, broken, stuck}  # the deleted one is simply not there
    assert isinstance(got[ok], Item) and isinstance(got[flaky], Item)
    assert isinstance(got[broken], BadItem) and "HTTP 400" in got[broken].reason
    assert isinstance(got[stuck], BadItem) and "HTTP 503, still after 4 tries" in got[stuck].reason
    assert fake.batch_sizes == [5, 2, 2, 1] and len(slept) == 3  # only the refused parts again


def test_a_refused_batch_is_retried_whole_and_counts_per_try(fake: FakeGmail) -> None:
    mid = fake.add(["SENT"], ME, [ANA], NOW)
    fake.faults = [("/batch", 429, gerror(429, "rateLimitExceeded", "Too many concurrent requests for user"))]
    slept: list[float] = []
    source = gmail(fake, slept)
    assert [i.href for i in items(source, SENT, [mid])] == [mid]
    assert len(slept) == 1 and source.requests == 2


def test_the_request_budget_counts_a_batch_as_one(fake: FakeGmail) -> None:
    ids = [fake.add(["SENT"], ME, [ANA], NOW) for _ in range(150)]
    assert len(items(gmail(fake, max_requests=3), SENT, ids)) == 150
    with pytest.raises(SourceError, match=r"budget of 2 .*must finish within one run.*raise max_requests"):
        items(gmail(fake, max_requests=2), SENT, ids)


# --- errors that say what to do ---------------------------------------------------------------------


def test_a_token_without_the_gmail_scope_names_the_command(fake: FakeGmail) -> None:
    store_token("work", scopes=google_auth.SCOPES)
    with pytest.raises(SourceError) as info:
        gmail(fake, account="work").collections()
    text = str(info.value)
    assert "gmail.metadata" in text and "run `nudge auth google --account work`" in text
    assert fake.log == []


def test_missing_grant_names_the_command(fake: FakeGmail) -> None:
    with pytest.raises(SourceError, match="not authorised yet; run `nudge auth google --account other`"):
        gmail(fake, account="other").collections()


def test_401_names_the_command(fake: FakeGmail) -> None:
    unauthorised = gerror(401, "authError", "Invalid Credentials", "UNAUTHENTICATED")
    fake.faults = [("profile", 401, unauthorised)] * 3  # before and after google-auth's refresh
    with pytest.raises(SourceError, match=r"Gmail API rejected the credentials \(401\).*--account default"):
        gmail(fake).changes(SENT, None)


def test_disabled_api_names_the_api_to_enable(fake: FakeGmail) -> None:
    body = gerror(
        403, "accessNotConfigured", "Gmail API has not been used in project 123", "PERMISSION_DENIED"
    )
    fake.faults = [("profile", 403, body)]
    with pytest.raises(SourceError, match=r"Gmail API is not enabled.*apis/library/gmail\.googleapis\.com"):
        gmail(fake).changes(SENT, None)


def test_scope_refused_by_gmail_names_the_scope_and_command(fake: FakeGmail) -> None:
    body = gerror(403, "insufficientPermissions", "Request had insufficient authentication scopes.")
    fake.faults = [("/history", 403, body)]
    with pytest.raises(SourceError, match=r"auth/gmail\.metadata.*nudge auth google --account default"):
        gmail(fake).changes(SENT, "g1:123")


def test_scope_refused_in_a_batch_part_fails_the_source(fake: FakeGmail) -> None:
    mid = fake.add(["SENT"], ME, [ANA], NOW)
    fake.part_faults = {mid: [403]}
    with pytest.raises(SourceError, match=r"lacks the scope .*gmail\.metadata.*--account default"):
        items(gmail(fake), SENT, [mid])


# --- Google's documented bodies, replayed -------------------------------------------------------


def _batch_reply(messages: list[dict[str, Any]], statuses: dict[str, int]) -> tuple[dict[str, str], str]:
    boundary = "batch_6Bm3aVw0Ssc_AAKgKxDM0kw"
    parts = []
    for m in messages:
        status = statuses.get(m["id"], 200)
        body = json.dumps(m if status == 200 else NOT_FOUND)
        parts.append(
            f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <response-x + {m['id']}>\r\n\r\n"
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Found'}\r\n"
            f"Content-Type: application/json; charset=UTF-8\r\nVary: Origin\r\n\r\n{body}\r\n"
        )
    headers = {"status": "200", "content-type": f"multipart/mixed; boundary={boundary}"}
    return headers, "".join(parts) + f"--{boundary}--\r\n"


def test_documented_shapes_with_http_mock_sequence() -> None:
    store_token()
    messages = json.loads((DATA / "gmail_messages.json").read_text())
    gone = messages[-1]["id"]
    http = HttpMockSequence(
        [
            ({"status": "200"}, (DATA / "gmail_profile.json").read_text()),
            ({"status": "200"}, (DATA / "gmail_list_page1.json").read_text()),
            (
                {"status": "200"},
                json.dumps({"id": messages[1]["id"], "internalDate": messages[1]["internalDate"]}),
            ),
            ({"status": "200"}, (DATA / "gmail_list_page2.json").read_text()),
            _batch_reply(messages, {gone: 404}),
            ({"status": "200"}, (DATA / "gmail_history.json").read_text()),
            ({"status": "404"}, json.dumps(NOT_FOUND)),
        ]
    )
    source = gmail(http)
    changes = source.changes(SENT, None)
    assert changes.token == "g1:4212086" and not changes.complete
    assert list(changes.changed) == [m["id"] for m in messages]
    got = items(source, SENT, changes.changed)
    assert [i.href for i in got] == [m["id"] for m in messages[:-1]]
    first = parse(got[0].data)
    assert first["To"].addresses[0].addr_spec == ANA and first["Subject"] == "Lunch next week?"
    increment = source.changes(SENT, changes.token)
    assert list(increment.changed) == ["18d2a0c4b33f91e7"] and increment.token == "g1:4212394"
    with pytest.raises(InvalidSyncToken):
        source.changes(SENT, increment.token)


# --- config, registry and the grant -----------------------------------------------------------


def test_registry_and_options() -> None:
    assert source_class("gmail") is GmailSource
    opts = GmailOptions()
    assert (opts.account, opts.max_age_days, opts.max_requests, opts.retries, opts.timeout) == (
        "default",
        730,
        5000,
        5,
        60,
    )
    assert options_problems({"type": "gmail", "account": "work", "max_age_days": 365}, "sources[0]") == []
    problems = options_problems(
        {"type": "gmail", "account": "../x", "max_age_days": 0, "calendars": ["primary"]}, "sources[2]"
    )
    text = "\n".join(problems)
    assert "sources[2].account" in text and "sources[2].max_age_days" in text and "calendars" in text
    assert GoogleOptions().calendars == ["primary"]  # the Google sources' options are unchanged


def test_auth_asks_for_gmail_only_when_a_gmail_source_uses_the_account() -> None:
    from nudge.config import SourceConfig

    sources = [
        SourceConfig.model_validate({"type": "google_contacts", "name": "gc"}),
        SourceConfig.model_validate(
            {"type": "gmail", "name": "gm", "account": "work", "client_secrets": "~/w.json"}
        ),
    ]
    assert google_auth.scopes_for(sources, "default") == google_auth.SCOPES
    assert google_auth.scopes_for(sources, "work") == ALL_SCOPES
    assert google_auth.client_secrets_for(sources, "work") == "~/w.json"


def test_authorize_requests_the_scopes_it_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from google_auth_oauthlib.flow import Flow

    def fetch_token(self: Flow, **kwargs: Any) -> dict[str, Any]:
        self.oauth2session.token = {
            "access_token": "ya29.new",
            "refresh_token": "1//new-refresh",
            "token_type": "Bearer",
            "expires_in": 3599,
            "expires_at": datetime.now(UTC).timestamp() + 3599,
            "scope": list(ALL_SCOPES),
        }
        return dict(self.oauth2session.token)

    monkeypatch.setattr(Flow, "fetch_token", fetch_token)  # Google's side of the exchange
    secrets = tmp_path / "client.json"
    secrets.write_text(
        json.dumps(
            {
                "installed": {
                    "client_id": "id.apps.googleusercontent.com",
                    "client_secret": "s",
                    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                    "token_uri": TOKEN_URI,
                    "redirect_uris": ["http://localhost"],
                }
            }
        )
    )
    told: list[str] = []

    def ask(prompt: str) -> str:
        url = told[0].split("\n\n")[1]
        assert "gmail.metadata" in unquote(url) and "contacts.readonly" in unquote(url)
        state = parse_qs(urlsplit(url).query)["state"][0]
        return f"{google_auth.PASTE_REDIRECT}?state={state}&code=4/abc"

    google_auth.authorize("work", secrets, no_browser=True, scopes=ALL_SCOPES, ask=ask, tell=told.append)
    assert set(google_auth.load_credentials("work").scopes or ()) == set(ALL_SCOPES)


def test_a_refresh_by_another_google_source_keeps_the_gmail_scope() -> None:
    """The contacts source refreshes and stores the shared token; Gmail must still find its scope."""
    from tests.sources.test_google import FakeGoogle

    path = store_token(expired=True)
    google = FakeGoogle()
    contacts = GoogleContactsSource("gc", GoogleOptions(), http=google, sleep=lambda s: None)
    contacts.list(contacts.COLLECTION)
    refresh = next(line for line in google.log if line.startswith(f"POST {TOKEN_URI}"))
    assert refresh
    contacts.close()
    stored = json.loads(path.read_text())
    assert stored["token"] == "ya29.fresh" and set(stored["scopes"]) == set(ALL_SCOPES)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    gmail(FakeGmail()).collections()  # no scope error


def test_a_batch_reply_that_is_no_multipart_is_a_source_error() -> None:
    store_token()
    http = HttpMockSequence([({"status": "200", "content-type": "text/html"}, "<html>proxy login</html>")])
    with pytest.raises(SourceError, match="unreadable batch reply"):
        items(gmail(http), SENT, ["18d29e5f0a1b2c3d"])


# --- end to end: through sync into SQLite on disk ----------------------------------------------


def test_sent_gmail_becomes_an_outbound_email_touch(
    fake: FakeGmail, make_settings: Callable[..., Any], now: datetime
) -> None:
    from sqlmodel import Session, col, select

    from nudge.actions import find
    from nudge.service import ingest_context
    from nudge.sources.memory import MemorySource
    from nudge.store.db import open_db
    from nudge.store.models import SyncState, Touch
    from nudge.sync import sync_source
    from tests.builders import vcard

    settings = make_settings(sources=[{"type": "memory", "name": "book"}, {"type": "gmail", "name": "gm"}])
    engine = open_db(settings.database)
    MemorySource.store("book").put("c", "contacts", "ana", vcard("ana", "Ana Ruiz", emails=(ANA,)))
    fake.add(["SENT"], f"Me <{ME}>", [f"Ana Ruiz <{ANA}>"], now - timedelta(days=3), "Dinner?")
    list_id = [("List-Id", "Climbing <climb.lists.example.org>")]
    fake.add(["INBOX"], ANA, ["climb@lists.example.org"], now - timedelta(days=2), "[climb] Sat?", list_id)

    def sync() -> list[tuple[str, str, str]]:
        ctx = ingest_context(settings, now)
        for source in (MemorySource("book", MemorySource.options_model()), gmail(fake)):
            report = sync_source(engine, source, ctx)
            assert report.ok, report.line()
        with Session(engine) as s:
            cid = find(s, "ana").id
            rows = s.exec(select(Touch).where(Touch.contact_id == cid).order_by(col(Touch.at))).all()
            return [(t.kind, t.direction, t.external_id) for t in rows]

    assert sync() == [("email", "out", "mail:m1@mail.example")]  # the list mail is no touch
    with Session(engine) as s:
        states = {st.collection: st.token for st in s.exec(select(SyncState).where(SyncState.source == "gm"))}
    assert states["SENT"] == states["INBOX"] == f"g1:{fake.history_id}"
    # An increment brings the new reply; an expired history id re-lists without duplicates.
    fake.add(["INBOX"], ANA, [ME], now - timedelta(hours=5), "Re: Dinner?")
    assert [d for _, d, _ in sync()] == ["out", "in"]
    fake.expired_before = fake.history_id + 1
    mark = len(fake.log)
    assert [d for _, d, _ in sync()] == ["out", "in"]
    assert sum("/profile" in line for line in fake.log[mark:]) == 2  # both labels listed again
