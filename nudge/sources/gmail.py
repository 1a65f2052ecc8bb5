"""Gmail (API v1) with the `gmail.metadata` scope: the Sent and Inbox labels' headers.

The metadata scope shows headers and labels, never a body; it also refuses the
search parameter `q` of messages.list, so there is no `after:` filter and no
way to list only recent mail. What it allows, and what this module uses:

- `users.getProfile` for the mailbox's current historyId (the sync token);
- `messages.list(labelIds=[label])`, ids only, newest first;
- `messages.get(format="metadata", metadataHeaders=[...])` in batch requests;
- `history.list(startHistoryId, labelId, historyTypes=["messageAdded"])`.

Age: a listing is ordered by `internalDate`, newest first, but carries no
dates. After each page that has a next one, one `messages.get` of the page's
last (oldest) id tells whether later pages can hold anything younger than
`max_age_days`; when not, paging stops. So a first sync lists the last two
years plus at most one page, not the whole mailbox. `fetch()` sees
`internalDate` anyway and drops what is older, so the parser never does.

Requests and the budget: a batch of up to 50 gets is one HTTP round trip and
counts as one request of `max_requests` (its parts count against Google's own
per-user quota, which 429s tell us about). Parts refused with 429/5xx are sent
again in a smaller batch after a backoff; a part that still fails, or fails in
another way, is a `BadItem`; a part that 404s was deleted meanwhile and is skipped.

googleapiclient is imported only when the source makes its first request.
"""

from __future__ import annotations

import builtins
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from pydantic import Field

from nudge.errors import InvalidSyncToken, SourceError
from nudge.sources import google_auth
from nudge.sources.base import BadItem, Changes, Collection, Item, SourceOptions
from nudge.sources.google import (
    _DISABLED_REASONS,
    _RATE_REASONS,
    _SCOPE_REASONS,
    MAX_DELAY,
    TOKEN_PREFIX,
    GoogleAccountOptions,
    _Google,
    _NotFound,
    _reasons,
)

HEADERS = (
    "From",
    "To",
    "Cc",
    "Bcc",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Subject",
    "List-Id",
    "Auto-Submitted",
    "Precedence",
    "X-Auto-Response-Suppress",
    "Sender",
    "Reply-To",
    "Content-Type",  # a delivery report's, and Gmail's X-Failed-Recipients on it: a bounce
    "X-Failed-Recipients",
)
LIST_PAGE = 500  # the most messages.list and history.list return
BATCH_SIZE = 50  # Gmail's advice: larger batches are rate-limited
ETAG = "1"  # messages never change
GET_FIELDS = "id,labelIds,internalDate,payload/headers"
SKIP_LABELS = {"DRAFT", "SPAM"}  # not mail anyone received
_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 field name: printable ASCII without ':'
_FOLD = re.compile(r"\r?\n[ \t]*|\r")


class GmailOptions(GoogleAccountOptions):
    """A Gmail mailbox of a Google account; shares the token of that account's other sources."""

    max_age_days: int = Field(
        730, ge=1, le=36_500, description="Only messages younger than this many days are read."
    )
    max_requests: int = Field(
        5000,
        ge=1,
        le=100_000,
        description="Most API requests per sync run; a batch of 50 message reads counts as one.",
    )


def header_block(message: dict[str, Any]) -> str:
    """`Name: value\\r\\n` lines from `payload.headers` (already decoded by Gmail), one per field.

    A message without a Date gets one from `internalDate`, when Gmail accepted it.
    The empty line at the end closes the header section, as IMAP's HEADER fetch does.
    """
    lines: list[str] = []
    has_date = False
    for header in (message.get("payload") or {}).get("headers") or []:
        name, value = str(header.get("name", "")), str(header.get("value", ""))
        if not _NAME.match(name):
            continue
        has_date = has_date or name.lower() == "date"
        lines.append(f"{name}: {_FOLD.sub(' ', value).strip()}\r\n")
    internal = str(message.get("internalDate") or "")
    if not has_date and internal.isdigit():
        lines.append(f"Date: {format_datetime(datetime.fromtimestamp(int(internal) / 1000, UTC))}\r\n")
    return "".join(lines) + "\r\n"


class _Batch:
    """A batch with the `execute(num_retries=)` of one request, so `_call` retries and counts it."""

    def __init__(self, batch: Any) -> None:
        self.batch = batch

    def execute(self, num_retries: int = 0) -> dict[str, Any]:
        from googleapiclient.errors import BatchError

        try:
            self.batch.execute()
        except BatchError as e:  # a 2xx reply that is no multipart/mixed one; HTTP errors pass
            raise SourceError(f"Gmail API: unreadable batch reply: {e.reason}") from None
        except KeyError as e:  # the client looks up every part it sent
            raise SourceError(f"Gmail API: the batch reply lacks the part {e}") from None
        return {}


class GmailSource(_Google):
    """Who you wrote to and who wrote to you, from message headers (Sent and Inbox labels)."""

    type_name = "gmail"
    options_model = GmailOptions
    api = ("gmail", "v1", "Gmail API")
    api_id = "gmail.googleapis.com"
    scope = google_auth.GMAIL_SCOPE
    token_refused = (400, 404)  # Gmail answers 404 to an expired startHistoryId
    budget_hint = (
        "a Gmail listing must finish within one run (messages are not recorded one by one): "
        "raise max_requests or lower max_age_days"
    )
    opts: GmailOptions
    LABELS = (Collection("SENT", "messages", "Sent"), Collection("INBOX", "messages", "Inbox"))

    def __init__(
        self,
        name: str,
        options: SourceOptions,
        *,
        http: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock` gives "now" for `max_age_days` (tests pin it)."""
        super().__init__(name, options, http=http, sleep=sleep)
        self._clock = clock

    def _api(self) -> Any:
        """The service, once the stored grant is known to include the Gmail scope."""
        if self._service is None:
            service = super()._api()
            granted = self._credentials.scopes or ()
            if granted and self.scope not in granted:  # no scopes stored: let Google decide
                self._service = None
                raise self._reauth(f"the grant lacks the scope {self.scope} (Gmail, headers only)")
            return service
        return self._service

    def collections(self) -> builtins.list[Collection]:
        self._api()  # a missing grant or scope is one error for the source, not one per label
        return list(self.LABELS)

    def _cutoff_ms(self) -> int:
        return int((self._clock() - self.opts.max_age_days * 86400) * 1000)

    def changes(self, collection: Collection, token: str | None) -> Changes:
        """New message ids of the label; never `complete` (messages are touches, not state)."""
        if token is not None:
            return self._history(collection.id, token)
        users = self._api().users()
        # The history id is taken before listing: a message that arrives while we
        # page is either listed or comes with the next increment (or both, which
        # is harmless: touches are deduplicated by Message-ID). Taken after, it
        # would be in neither.
        history_id = str(self._call(users.getProfile(userId="me", fields="historyId")).get("historyId", ""))
        if not history_id.isdigit():
            raise SourceError(f"Gmail API: the profile has no history id ({history_id[:20]!r})")
        cutoff = self._cutoff_ms()
        changed: dict[str, str] = {}
        pages = self._pages(
            users.messages().list,
            userId="me",
            labelIds=[collection.id],
            maxResults=LIST_PAGE,
            fields="messages/id,nextPageToken",
        )
        for page in pages:
            ids = [m["id"] for m in page.get("messages", []) if m.get("id")]
            changed.update(dict.fromkeys(ids, ETAG))
            if ids and page.get("nextPageToken") and self._older_than(ids[-1], cutoff):
                break
        return Changes(changed, token=f"{TOKEN_PREFIX}{history_id}", complete=False)

    def _older_than(self, message_id: str, cutoff_ms: int) -> bool:
        """Whether a message was accepted before the cutoff (False when it is gone)."""
        request = (
            self._api()
            .users()
            .messages()
            .get(userId="me", id=message_id, format="minimal", fields="internalDate")
        )
        try:
            internal = str(self._call(request).get("internalDate") or "")
        except _NotFound:
            return False
        return internal.isdigit() and int(internal) < cutoff_ms

    def _history(self, label: str, token: str) -> Changes:
        start = self._unwrap(token)
        if not start.isdigit():
            raise InvalidSyncToken(f"not a Gmail history id: {token[:20]!r}")
        changed: dict[str, str] = {}
        latest = start
        for page in self._pages(
            self._api().users().history().list,
            True,
            userId="me",
            startHistoryId=start,
            labelId=label,
            historyTypes=["messageAdded"],
            maxResults=LIST_PAGE,
        ):
            for record in page.get("history", []):
                for added in record.get("messagesAdded", []):
                    message_id = (added.get("message") or {}).get("id")
                    if message_id:
                        changed[message_id] = ETAG
            latest = str(page.get("historyId") or latest)
        return Changes(changed, token=f"{TOKEN_PREFIX}{latest}", complete=False)

    def fetch(self, collection: Collection, hrefs: Iterable[str]) -> Iterator[Item | BadItem]:
        """Header blocks in batches of 50; deleted, draft, spam and too old messages are skipped."""
        wanted = builtins.list(dict.fromkeys(hrefs))
        cutoff = self._cutoff_ms()
        for start in range(0, len(wanted), BATCH_SIZE):
            for message in self._get_batch(wanted[start : start + BATCH_SIZE]):
                if isinstance(message, BadItem):
                    yield message
                    continue
                if SKIP_LABELS & set(message.get("labelIds") or ()):
                    continue
                internal = str(message.get("internalDate") or "")
                if internal.isdigit() and int(internal) < cutoff:
                    continue
                yield Item(str(message["id"]), ETAG, "email", header_block(message))

    def _get_batch(self, ids: builtins.list[str]) -> Iterator[dict[str, Any] | BadItem]:
        """messages.get for `ids` in one batch; parts refused with 429/5xx are retried."""
        messages = self._api().users().messages()
        pending = ids
        replies: dict[str, tuple[Any, Any]] = {}
        refused: dict[str, int] = {}  # the last status of each part to retry

        def keep(request_id: str, response: Any, exception: Any) -> None:
            replies[request_id] = (response, exception)

        for attempt in range(self.opts.retries + 1):
            replies.clear()
            batch = self._api().new_batch_http_request(callback=keep)
            for message_id in pending:
                request = messages.get(
                    userId="me",
                    id=message_id,
                    format="metadata",
                    metadataHeaders=list(HEADERS),
                    fields=GET_FIELDS,
                )
                batch.add(request, request_id=message_id)
            self._call(_Batch(batch))
            retry: builtins.list[str] = []
            for message_id in pending:
                response, error = replies.get(message_id, (None, None))
                if error is None and isinstance(response, dict) and response.get("id"):
                    yield response
                elif error is None:
                    yield BadItem(message_id, "Gmail API: empty reply")
                else:
                    outcome = self._part_error(message_id, error)
                    if outcome == "retry":
                        retry.append(message_id)
                        refused[message_id] = int(error.resp.status)
                    elif isinstance(outcome, BadItem):
                        yield outcome
            if not retry:
                return
            if attempt == self.opts.retries:
                for message_id in retry:
                    status = refused[message_id]
                    yield BadItem(message_id, f"Gmail API: HTTP {status}, still after {attempt + 1} tries")
                return
            self._sleep(min(MAX_DELAY, 2.0**attempt * (0.75 + random.random() / 2)))
            pending = retry

    def _part_error(self, message_id: str, error: Any) -> BadItem | str | None:
        """What one failed part means: None (gone), "retry", a BadItem; raises for the account."""
        status = int(error.resp.status)
        reasons, message = _reasons(error)
        if status in (404, 410):
            return None
        if status == 429 or status >= 500 or (status == 403 and reasons & _RATE_REASONS):
            return "retry"
        if status == 401 or (status == 403 and reasons & (_SCOPE_REASONS | _DISABLED_REASONS)):
            raise self._explain(status, reasons, message)
        return BadItem(message_id, f"Gmail API: HTTP {status}: {message or 'no message'}")
