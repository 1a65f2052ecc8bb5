"""Google Contacts (People API v1) and Google Calendar (Calendar API v3).

Both APIs return whole objects in their list calls and give sync tokens, so
`changes()` keeps what it listed and `fetch()` hands it over without asking
again; only objects sync asks for that were not listed are fetched one by one.

Calendar series: events are listed with `singleEvents=False` (Google's
default). Expanding instances on the server (`singleEvents=True`) is allowed
with a sync token, but `timeMin`/`timeMax` are not, so an endless series
would be expanded without end on every full sync. Instead a series travels as
one object, its master plus its moved or cancelled instances, and is expanded
within the window by `parse.google` like a CalDAV series. When an increment
touches a series, the whole series is read again by its iCalUID.

googleapiclient is imported only when a Google source makes its first request.

One piece (over 400 lines): the People and Calendar sources share the client, the
paging, the retries and the sync-token handling; a module each would duplicate them.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar

from pydantic import Field, field_validator

from nudge.errors import InvalidSyncToken, SourceError
from nudge.sources import google_auth
from nudge.sources.base import BadItem, Changes, Collection, Item, Source, SourceOptions

log = logging.getLogger(__name__)

PERSON_FIELDS = "names,emailAddresses,phoneNumbers,organizations,birthdays,memberships,biographies,metadata"
PEOPLE_PAGE = 1000
EVENTS_PAGE = 2500
BATCH_GET = 200
TOKEN_PREFIX = "g1:"
SERIES_KIND = "nudge#series"  # = parse.google.SERIES_KIND, not imported: it pulls in the parsers
MAX_DELAY = 60.0
_RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED", "quotaExceeded"}
_DISABLED_REASONS = {"accessNotConfigured", "SERVICE_DISABLED"}
_SCOPE_REASONS = {"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}


class GoogleAccountOptions(SourceOptions):
    """What every Google source has: the account (one token), its client and request limits."""

    account: str = Field(
        "default", description="Name of the authorised account: `nudge auth google --account NAME`."
    )
    client_secrets: str = Field(
        "", description="Path of your Desktop-app OAuth client secrets JSON (used by `nudge auth google`)."
    )
    max_requests: int = Field(1000, ge=1, le=100_000, description="Most API requests per sync run.")
    retries: int = Field(5, ge=0, le=10, description="Retries of a request refused with 429 or 5xx.")
    timeout: float = Field(60, gt=0, le=600, description="Seconds before a request gives up.")

    @field_validator("account")
    @classmethod
    def _account(cls, v: str) -> str:
        try:
            return google_auth.check_account(v)
        except Exception as e:
            raise ValueError(str(e)) from None


class GoogleOptions(GoogleAccountOptions):
    """One Google account; a `google_contacts` and a `google_calendar` entry may share it."""

    calendars: list[str] = Field(
        default_factory=lambda: ["primary"],
        description="google_calendar: calendar ids or names to read; `primary` is your main calendar.",
        min_length=1,
    )


def _digest(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)


def _reasons(error: Any) -> tuple[set[str], str]:
    """Reason codes and message of a googleapiclient HttpError, from both error styles."""
    try:
        body = json.loads(error.content.decode("utf-8"))["error"]
    except Exception:
        return set(), str(getattr(error, "reason", "") or "")
    reasons = {e.get("reason", "") for e in body.get("errors", []) if isinstance(e, dict)}
    reasons |= {d.get("reason", "") for d in body.get("details", []) if isinstance(d, dict)}
    reasons.add(str(body.get("status", "")))
    return reasons - {""}, str(body.get("message", ""))


class _NotFound(SourceError):
    """The object asked for is gone (404/410 outside sync-token requests)."""


class _Google(Source):
    """Requests with retries, a budget and errors that say what to do."""

    options_model: ClassVar[type[SourceOptions]] = GoogleOptions
    api: ClassVar[tuple[str, str, str]]  # discovery name, version, what users call it
    api_id: ClassVar[str]  # for the console URL that enables it
    scope: ClassVar[str]  # the read-only scope it needs
    token_refused: ClassVar[tuple[int, ...]] = (400, 410)  # statuses that mean "sync token refused"
    budget_hint: ClassVar[str] = "the rest follows next time (or raise max_requests)"
    opts: GoogleAccountOptions  # narrowed by subclasses to their options_model

    def __init__(
        self,
        name: str,
        options: SourceOptions,
        *,
        http: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`http` replaces the network under the credentials (tests pass a mock)."""
        super().__init__(name, options)
        assert isinstance(options, GoogleAccountOptions)
        self.opts = options
        self._base_http = http
        self._sleep = sleep
        self._service: Any = None
        self._own_http: Any = None  # the connection pool made here, closed here
        self._credentials: Any = None
        self._token_at_start: str | None = None
        self.requests = 0
        self._cache: dict[str, dict[str, Item]] = {}

    def _api(self) -> Any:
        if self._service is None:
            import google_auth_httplib2
            import httplib2  # type: ignore[import-untyped]
            from googleapiclient.discovery import build

            self._credentials = google_auth.load_credentials(self.opts.account)
            self._token_at_start = self._credentials.token
            base = self._base_http
            if base is None:
                base = self._own_http = httplib2.Http(timeout=self.opts.timeout)
            authed = google_auth_httplib2.AuthorizedHttp(self._credentials, http=base)
            self._service = build(
                self.api[0], self.api[1], http=authed, static_discovery=True, cache_discovery=False
            )
        return self._service

    def _reauth(self, why: str) -> SourceError:
        return SourceError(
            f"Google account {self.opts.account!r}: {why}; "
            f"run `{google_auth.reauth_command(self.opts.account)}`"
        )

    def _call(self, request: Any, with_token: bool = False) -> dict[str, Any]:
        """Execute one API request: retry 429/5xx with backoff, map everything else."""
        from google.auth.exceptions import RefreshError, TransportError
        from googleapiclient.errors import HttpError
        from httplib2 import HttpLib2Error

        what = self.api[2]
        for attempt in range(self.opts.retries + 1):
            if self.requests >= self.opts.max_requests:
                raise SourceError(
                    f"{what}: request budget of {self.opts.max_requests} used up for this run; "
                    f"{self.budget_hint}"
                )
            self.requests += 1
            last = attempt == self.opts.retries
            try:
                result: dict[str, Any] = request.execute(num_retries=0)
                return result
            except RefreshError:
                raise self._reauth("the authorisation was revoked or has expired") from None
            except HttpError as e:
                status = e.resp.status
                reasons, message = _reasons(e)
                if with_token and status in self.token_refused:  # 410: expired; 400: not Google's
                    raise InvalidSyncToken(f"{what}: sync token refused ({status})") from None
                if status in (404, 410):
                    raise _NotFound(f"{what}: HTTP {status}: {message or 'not found'}") from None
                retry_after = e.resp.get("retry-after", "")
                transient = status == 429 or status >= 500 or bool(status == 403 and reasons & _RATE_REASONS)
                if not transient or last:
                    raise self._explain(status, reasons, message) from None
                delay = float(retry_after) if retry_after.isdigit() else 2.0**attempt
                log.info("%s: HTTP %s, retrying in %.1fs", what, status, delay)
            except (TransportError, HttpLib2Error, OSError) as e:
                if last:
                    raise SourceError(f"{what}: cannot reach Google: {type(e).__name__}: {e}") from None
                delay = 2.0**attempt
                log.info("%s: %s, retrying in %.1fs", what, type(e).__name__, delay)
            self._sleep(min(MAX_DELAY, delay * (0.75 + random.random() / 2)))
        raise AssertionError("unreachable")  # pragma: no cover

    def _explain(self, status: int, reasons: set[str], message: str) -> SourceError:
        what = self.api[2]
        if status == 401:
            return self._reauth(f"{what} rejected the credentials (401)")
        if status == 403 and reasons & _DISABLED_REASONS:
            return SourceError(
                f"{what} is not enabled in the Google Cloud project of your OAuth client; enable it at "
                f"https://console.cloud.google.com/apis/library/{self.api_id} and sync again"
            )
        if status == 403 and reasons & _SCOPE_REASONS:
            return self._reauth(f"the grant lacks the scope {self.scope}")
        detail = f" ({', '.join(sorted(reasons))})" if reasons else ""
        return SourceError(f"{what}: HTTP {status}{detail}: {message or 'no message'}")

    def _pages(self, method: Any, with_token: bool = False, **params: Any) -> Iterator[dict[str, Any]]:
        """Every page of a list call; the last one carries the next sync token."""
        page_token = None
        while True:
            page = self._call(method(pageToken=page_token, **params), with_token)
            yield page
            page_token = page.get("nextPageToken")
            if not page_token:
                return

    @staticmethod
    def _unwrap(token: str) -> str:
        if not token.startswith(TOKEN_PREFIX) or len(token) == len(TOKEN_PREFIX):
            raise InvalidSyncToken(f"not a Google sync token: {token[:20]!r}")
        return token[len(TOKEN_PREFIX) :]

    def list(self, collection: Collection) -> dict[str, str]:
        return self.changes(collection, None).changed

    def _result(
        self,
        collection: Collection,
        items: builtins.list[Item],
        deleted: set[str],
        token: str | None,
        full: bool,
    ) -> Changes:
        """Changes from what a list call returned; the objects are kept for `fetch()`."""
        if full:  # a new listing replaces what an earlier one left unfetched
            self._cache[collection.id] = {}
        cache = self._cache.setdefault(collection.id, {})
        cache.update((i.href, i) for i in items)
        changed = {i.href: i.etag for i in items}
        return Changes(changed, set() if full else deleted - set(changed), token=token, complete=full)

    def fetch(self, collection: Collection, hrefs: Iterable[str]) -> Iterator[Item | BadItem]:
        """Listed objects come from memory, once; others are read from the API."""
        cache = self._cache.get(collection.id, {})
        missing = []
        for href in hrefs:
            item = cache.pop(href, None)
            if item is not None:
                yield item
            else:
                missing.append(href)
        if missing:
            yield from self._fetch_missing(collection, missing)

    def _fetch_missing(self, collection: Collection, hrefs: builtins.list[str]) -> Iterator[Item]:
        raise NotImplementedError

    def close(self) -> None:
        """Keep a refreshed access token, so the next run does not refresh again."""
        creds = self._credentials
        if creds is not None and creds.token and creds.token != self._token_at_start:
            try:
                google_auth.save_credentials(self.opts.account, creds)
            except OSError as e:
                log.warning("could not store the refreshed Google token: %s", e.strerror)
        if self._own_http is not None:
            self._own_http.close()
        self._service = self._own_http = None


# --- contacts ---------------------------------------------------------------------


class GoogleContactsSource(_Google):
    """Your Google contacts; contact labels become categories, so tiers follow them."""

    type_name = "google_contacts"
    api = ("people", "v1", "Google People API")
    api_id = "people.googleapis.com"
    scope = google_auth.SCOPES[0]
    COLLECTION = Collection("people/me", "contacts", "Google Contacts")

    _labels: dict[str, str] | None = None

    def collections(self) -> list[Collection]:
        return [self.COLLECTION]

    def labels(self) -> dict[str, str]:
        """contactGroups/ID -> label name, read once per run."""
        if self._labels is None:
            groups = self._api().contactGroups()
            found: dict[str, str] = {}
            for page in self._pages(groups.list, pageSize=1000, groupFields="name,groupType"):
                for g in page.get("contactGroups", []):
                    name = g.get("formattedName") or g.get("name") or ""
                    if g.get("resourceName") and name:
                        found[g["resourceName"]] = name
            self._labels = found
        return self._labels

    def _item(self, person: dict[str, Any], labels: dict[str, str]) -> Item:
        names = sorted(
            {
                labels[group]
                for m in person.get("memberships", [])
                if (group := (m.get("contactGroupMembership") or {}).get("contactGroupResourceName"))
                and group in labels
            }
        )
        data = _dump({**person, "nudge": {"labels": names}})
        etag = _digest(person["etag"], *names) if person.get("etag") else _digest(data)
        return Item(person["resourceName"], etag, "google_person", data)

    def changes(self, collection: Collection, token: str | None) -> Changes:
        labels = self.labels()
        stamp = _digest(*(f"{k}={v}" for k, v in sorted(labels.items())))[:12]
        params: dict[str, Any] = {"resourceName": "people/me", "personFields": PERSON_FIELDS}
        params["pageSize"] = PEOPLE_PAGE
        if token is not None:
            old_stamp, _, sync_token = self._unwrap(token).partition(":")
            if not sync_token:
                raise InvalidSyncToken(f"not a Google contacts sync token: {token[:20]!r}")
            if old_stamp != stamp:
                log.info("%s: contact labels changed; reading every contact again", self.name)
                token = None
            else:
                params["syncToken"] = sync_token
        if token is None:
            params["requestSyncToken"] = True
        items: builtins.list[Item] = []
        deleted: set[str] = set()
        next_token = None
        for page in self._pages(self._api().people().connections().list, token is not None, **params):
            for person in page.get("connections", []):
                if not person.get("resourceName"):
                    continue
                meta = person.get("metadata") or {}
                deleted.update(meta.get("previousResourceNames", []))
                if meta.get("deleted"):
                    deleted.add(person["resourceName"])
                else:
                    items.append(self._item(person, labels))
            next_token = page.get("nextSyncToken") or next_token
        new_token = f"{TOKEN_PREFIX}{stamp}:{next_token}" if next_token else None
        return self._result(collection, items, deleted, new_token, full=token is None)

    def _fetch_missing(self, collection: Collection, hrefs: builtins.list[str]) -> Iterator[Item]:
        labels = self.labels()
        people = self._api().people()
        for start in range(0, len(hrefs), BATCH_GET):
            chunk = hrefs[start : start + BATCH_GET]
            found = self._call(people.getBatchGet(resourceNames=chunk, personFields=PERSON_FIELDS))
            for response in found.get("responses", []):
                person = response.get("person")
                if not person or not person.get("resourceName"):
                    continue  # not found: deleted since it was listed
                if (person.get("metadata") or {}).get("deleted"):
                    continue
                yield self._item(person, labels)


# --- calendar -----------------------------------------------------------------------


def series_key(event: dict[str, Any]) -> str:
    return str(event.get("recurringEventId") or event.get("id") or "")


class GoogleCalendarSource(_Google):
    """Your Google calendars' meetings, one collection per configured calendar."""

    type_name = "google_calendar"
    api = ("calendar", "v3", "Google Calendar API")
    api_id = "calendar-json.googleapis.com"
    scope = google_auth.SCOPES[1]
    opts: GoogleOptions

    _collections: list[Collection] | None = None

    def collections(self) -> list[Collection]:
        if self._collections is None:
            listed: list[dict[str, Any]] = []
            for page in self._pages(self._api().calendarList().list, maxResults=250):
                listed += page.get("items", [])
            found: list[Collection] = []
            for wanted in self.opts.calendars:
                match = next((c for c in listed if self._matches(c, wanted)), None)
                if match is None:
                    known = ", ".join(sorted(c.get("summary") or c.get("id", "") for c in listed))
                    raise SourceError(f"no calendar {wanted!r} in this Google account; known: {known}")
                name = match.get("summaryOverride") or match.get("summary") or match["id"]
                found.append(Collection(f"calendar/{match['id']}", "events", name))
            self._collections = list(dict.fromkeys(found))
        return self._collections

    @staticmethod
    def _matches(entry: dict[str, Any], wanted: str) -> bool:
        if wanted == "primary":
            return bool(entry.get("primary"))
        names = {entry.get("id"), entry.get("summary"), entry.get("summaryOverride")}
        return wanted.casefold() in {n.casefold() for n in names if isinstance(n, str)}

    @staticmethod
    def _calendar_id(collection: Collection) -> str:
        return collection.id.removeprefix("calendar/")

    def _object(
        self, collection: Collection, key: str, parts: list[dict[str, Any]], zone: str
    ) -> Item | None:
        """One event, or one series bundle; None when nothing of it is left."""
        href = f"{collection.id}/{key}"
        master = next((p for p in parts if p.get("id") == key and not p.get("recurringEventId")), None)
        if master is not None and len(parts) == 1 and not master.get("recurrence"):
            if master.get("status") == "cancelled":
                return None
            return Item(href, _digest(master.get("etag") or _dump(master)), "google_event", _dump(master))
        live_master = master is not None and master.get("status") != "cancelled"
        if not live_master and all(p.get("status") == "cancelled" for p in parts):
            return None
        parts = sorted(parts, key=lambda p: (bool(p.get("recurringEventId")), str(p.get("id"))))
        etag = _digest(*(f"{p.get('id')}={p.get('etag') or _dump(p)}" for p in parts))
        data = _dump({"kind": SERIES_KIND, "timeZone": zone, "events": parts})
        return Item(href, etag, "google_event", data)

    def _series(self, collection: Collection, key: str, hints: list[dict[str, Any]]) -> Item | None:
        """Read a whole series again: its master and every exception, by iCalUID."""
        events = self._api().events()
        cal = self._calendar_id(collection)
        ical_uid = next((h["iCalUID"] for h in hints if h.get("iCalUID")), None)
        if ical_uid is None:
            master = self._get(cal, key)
            if master is None:
                return None
            ical_uid = master.get("iCalUID")
            if not ical_uid:
                return self._object(collection, key, [master], "")
        parts: list[dict[str, Any]] = []
        zone = ""
        for page in self._pages(
            events.list, calendarId=cal, iCalUID=ical_uid, showDeleted=True, maxResults=EVENTS_PAGE
        ):
            zone = page.get("timeZone", zone)
            parts += [e for e in page.get("items", []) if series_key(e) == key]
        # What the increment just said wins over a listing that may lag behind it.
        merged = {str(p.get("id")): p for p in parts} | {str(h.get("id")): h for h in hints if h.get("id")}
        return self._object(collection, key, list(merged.values()), zone) if merged else None

    def _get(self, cal: str, event_id: str) -> dict[str, Any] | None:
        try:
            return self._call(self._api().events().get(calendarId=cal, eventId=event_id))
        except _NotFound:
            return None

    def changes(self, collection: Collection, token: str | None) -> Changes:
        params: dict[str, Any] = {
            "calendarId": self._calendar_id(collection),
            "showDeleted": True,
            "singleEvents": False,
            "maxResults": EVENTS_PAGE,
        }
        if token is not None:
            params["syncToken"] = self._unwrap(token)
        groups: dict[str, list[dict[str, Any]]] = {}
        zone, next_token = "", None
        for page in self._pages(self._api().events().list, token is not None, **params):
            zone = page.get("timeZone", zone)
            for event in page.get("items", []):
                if series_key(event):
                    groups.setdefault(series_key(event), []).append(event)
            next_token = page.get("nextSyncToken") or next_token
        new_token = f"{TOKEN_PREFIX}{next_token}" if next_token else None
        items: builtins.list[Item] = []
        deleted: set[str] = set()
        for key, parts in groups.items():
            if token is not None and any(p.get("recurrence") or p.get("recurringEventId") for p in parts):
                item = self._series(collection, key, parts)  # an increment holds only what changed
            else:
                item = self._object(collection, key, parts, zone)
            if item is not None:
                items.append(item)
            else:
                deleted.add(f"{collection.id}/{key}")
        return self._result(collection, items, deleted, new_token, full=token is None)

    def _fetch_missing(self, collection: Collection, hrefs: builtins.list[str]) -> Iterator[Item]:
        cal = self._calendar_id(collection)
        for href in hrefs:
            prefix, _, key = href.rpartition("/")
            if prefix != collection.id or not key:
                continue
            event = self._get(cal, key)
            if event is None or event.get("status") == "cancelled":
                continue
            if event.get("recurrence"):
                item = self._series(collection, key, [event])
            else:
                item = self._object(collection, key, [event], "")
            if item is not None:
                yield item
