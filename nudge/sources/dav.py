"""WebDAV plumbing shared by the CardDAV and CalDAV sources (the XML itself is in `dav_xml.py`).

Why not the `caldav` package: it has no CardDAV, and its client hides the HTTP
status behind its own exceptions; the sources here need the status (401, 403
`valid-sync-token`, 412, 404) to say what failed and to fall back correctly.
One `requests.Session` per source keeps the connection (and TLS) when the
server allows it.

Hrefs are kept as canonical absolute paths (`/user/book/a.vcf`): the same object
gets the same href whichever way the server quoted it, and paths are unique
within one server.

One piece (over 400 lines): discovery, the sync-token and listing fallbacks and the
batched multigets share one session and one set of server quirks; split, each part
would need the others' state.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import unquote, urljoin, urlsplit

import requests
from pydantic import Field, field_validator

from nudge import __version__
from nudge.errors import InvalidSyncToken, SourceError
from nudge.parse import content_hash, short_reason
from nudge.sources.base import (
    BadItem,
    Changes,
    Collection,
    Format,
    Item,
    Kind,
    PasswordOptions,
    Source,
    SourceOptions,
)
from nudge.sources.dav_auth import AuthMode, Login
from nudge.sources.dav_xml import (
    CALDAV,
    CARDDAV,
    DAV,
    PROPFIND_COLLECTIONS,
    PROPFIND_ETAGS,
    PROPFIND_HOMES,
    PROPFIND_START,
    PROPFIND_SYNC_TOKEN,
    Entry,
    canonical_path,
    canonical_url,
    clark,
    multiget,
    parse_multistatus,
    same_resource,
    sync_collection,
)

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
__all__ = ["CALDAV", "CARDDAV", "DavOptions", "DavSource", "Flavor", "canonical_path"]

# --- HTTP -----------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    url: str  # after redirects
    content: bytes
    reason: str = ""


class DavClient:
    """One session to one server; every failure becomes a SourceError naming URL and status."""

    def __init__(
        self,
        login: Login,
        cafile: str,
        timeout: float,
        requests_log: list[tuple[str, str]] | None = None,
    ) -> None:
        self.login = login
        self.username = login.username
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"nudge/{__version__}"
        self.session.auth = login.auth()
        self.session.verify = cafile or True
        # (method, url) of every request: counted by the benchmark and in `nudge doctor`-style checks.
        self.requests: list[tuple[str, str]] = requests_log if requests_log is not None else []

    def close(self) -> None:
        self.session.close()

    def send(self, method: str, url: str, body: bytes | None = None, depth: str | None = None) -> Reply:
        """One request, following redirects with the same method (requests would turn some into GET)."""
        headers = {"Content-Type": "application/xml; charset=utf-8"} if body else {}
        if depth is not None:
            headers["Depth"] = depth
        for _ in range(MAX_REDIRECTS + 1):
            self.requests.append((method, url))
            try:
                r = self.session.request(
                    method, url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
                )
            except requests.exceptions.SSLError as e:
                raise SourceError(
                    f"{url}: TLS certificate not trusted ({short_reason(e)}); "
                    "for a self-signed server set cafile"
                ) from e
            except requests.exceptions.Timeout as e:
                raise SourceError(f"{url}: no answer within {self.timeout:g} s") from e
            except requests.exceptions.ConnectionError as e:
                raise SourceError(f"{url}: cannot connect ({short_reason(e)})") from e
            except requests.exceptions.RequestException as e:
                raise SourceError(f"{url}: {type(e).__name__}: {short_reason(e)}") from e
            if r.status_code in (301, 302, 303, 307, 308) and "Location" in r.headers:
                url = urljoin(url, r.headers["Location"])
                continue
            if r.status_code == 401:
                retry = self.login.retry_with(r.headers.get("WWW-Authenticate", ""))
                if retry is not None:  # the server wants another scheme: ask again with it
                    self.session.auth = retry
                    continue
            return Reply(r.status_code, url, r.content, r.reason or "")
        raise SourceError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def check(self, reply: Reply, what: str) -> Reply:
        """`reply` if it succeeded; else the SourceError a user can act on."""
        if reply.status < 300:
            return reply
        raise self.error(reply, what)

    def error(self, reply: Reply, what: str) -> SourceError:
        if reply.status == 401:
            who = self.username or "(no username)"
            return SourceError(f"login refused for {who} at {reply.url} (HTTP 401)")
        if reply.status == 403:
            return SourceError(f"{what} {reply.url}: access denied (HTTP 403)")
        if reply.status == 404:
            return SourceError(f"{what} {reply.url}: not found (HTTP 404)")
        return SourceError(f"{what} {reply.url}: HTTP {reply.status} {reply.reason}".rstrip())

    def propfind(self, url: str, body: bytes, depth: str, what: str) -> tuple[list[Entry], str]:
        reply = self.check(self.send("PROPFIND", url, body, depth), what)
        if reply.status != 207:
            raise SourceError(f"{what} {reply.url}: expected HTTP 207, got {reply.status}")
        return parse_multistatus(reply.content, reply.url)[0], reply.url


# --- sync-collection ----------------------------------------------------------------------------


class ReportUnsupported(SourceError):
    """The collection does not do sync-collection: list it by etag instead."""


def is_invalid_token(reply: Reply) -> bool:
    """Radicale: 403 + valid-sync-token; Xandikos: 412; others: 409/400 with valid-sync-token."""
    return reply.status == 412 or (reply.status in (400, 403, 409) and b"valid-sync-token" in reply.content)


def is_unsupported_report(reply: Reply) -> bool:
    return reply.status in (405, 501) or (reply.status in (400, 403) and b"supported-report" in reply.content)


def sync_changes(
    client: DavClient, url: str, token: str | None
) -> tuple[dict[str, str], set[str], str | None]:
    """(changed href -> etag, deleted hrefs, new token) since `token`, following truncation (507)."""
    changed: dict[str, str] = {}
    deleted: set[str] = set()
    for _ in range(1000):
        reply = client.send("REPORT", url, sync_collection(token), depth="0")
        if token and is_invalid_token(reply):
            raise InvalidSyncToken(f"{url}: the server refused the sync token (HTTP {reply.status})")
        if is_unsupported_report(reply):
            raise ReportUnsupported(f"{url}: no sync-collection (HTTP {reply.status})")
        client.check(reply, "sync-collection REPORT on")
        entries, new_token = parse_multistatus(reply.content, url)
        truncated = False
        for entry in entries:
            if same_resource(entry.href, url):
                truncated = truncated or entry.status == 507
                continue
            href = canonical_path(entry.href)
            if href.endswith("/"):
                continue  # a sub-collection, not an object
            if entry.status == 404:
                deleted.add(href)
                changed.pop(href, None)
            elif clark(DAV, "getetag") in entry.props or entry.status in (None, 200):
                changed[href] = entry.text(DAV, "getetag") or ""
                deleted.discard(href)
        if not new_token:
            raise SourceError(f"sync-collection REPORT on {url}: the reply has no sync-token")
        if not truncated or new_token == token:
            return changed, deleted, new_token
        token = new_token
    raise SourceError(f"sync-collection REPORT on {url}: the server keeps truncating its reply")


def current_token(client: DavClient, url: str) -> str | None:
    """The collection's DAV:sync-token property, or None if the server gives none.

    For a first sync this, then a PROPFIND listing, costs a server like Radicale far less
    than a sync-collection REPORT without a token, which loads every item twice.
    """
    reply = client.send("PROPFIND", url, PROPFIND_SYNC_TOKEN, "0")
    if reply.status != 207:
        return None  # the REPORT path then says what is wrong
    for entry in parse_multistatus(reply.content, reply.url)[0]:
        if same_resource(entry.href, url) and (token := (entry.text(DAV, "sync-token") or "").strip()):
            return token
    return None


def etag_listing(client: DavClient, url: str) -> dict[str, str]:
    """href -> etag of every object in the collection, by PROPFIND depth 1."""
    entries, _ = client.propfind(url, PROPFIND_ETAGS, "1", "listing")
    listing = {}
    for entry in entries:
        href = canonical_path(entry.href)
        if same_resource(href, url) or href.endswith("/") or entry.status not in (None, 200):
            continue  # the collection itself, a sub-collection, or gone
        listing[href] = entry.text(DAV, "getetag") or ""
    return listing


def multiget_entries(
    client: DavClient, url: str, report: str, data_prop: str, hrefs: list[str]
) -> Iterator[Entry]:
    """The multiget replies for `hrefs`; a batch the server refuses as too big is split in two."""
    reply = client.send("REPORT", url, multiget(report, data_prop, hrefs), depth="1")
    if reply.status in (400, 413, 507) and len(hrefs) > 1:
        log.info("%s: multiget of %d refused (HTTP %d); splitting it", url, len(hrefs), reply.status)
        half = len(hrefs) // 2
        yield from multiget_entries(client, url, report, data_prop, hrefs[:half])
        yield from multiget_entries(client, url, report, data_prop, hrefs[half:])
        return
    client.check(reply, f"{report.rpartition(':')[2]} REPORT on")
    yield from parse_multistatus(reply.content, url)[0]


# --- The source ---------------------------------------------------------------------------------


class DavOptions(PasswordOptions):
    url: str = Field(
        description="Server URL (https://dav.example.com/), or the URL of one address book / calendar."
    )
    cafile: str = Field("", description="Extra CA bundle to trust (certificates are always verified).")
    auth: AuthMode = Field(
        "auto",
        description="HTTP authentication: `auto` (Basic, or Digest when the server's challenge asks "
        "for it), `basic` or `digest`.",
    )
    collections: list[str] = Field(
        default_factory=list,
        description="Address books / calendars to read, by name or URL; default: every one found.",
    )
    timeout: float = Field(
        120,
        gt=0,
        le=600,
        description="Seconds before a request gives up (a server's first look at a large "
        "collection can take a minute).",
    )

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if urlsplit(v).scheme not in ("http", "https") or not urlsplit(v).netloc:
            raise ValueError("use an http:// or https:// URL")
        return v


@dataclass(frozen=True)
class Flavor:
    """What differs between CardDAV and CalDAV."""

    kind: Kind
    protocol: str  # "carddav": the /.well-known/ name
    namespace: str
    home_set: str  # property name in `namespace`
    collection_type: str  # resourcetype child in `namespace`
    report: str  # multiget report, prefixed
    data_prop: str  # data property, prefixed
    format: Format


# Discovered home sets by (start URL, username, protocol): a daemon rediscovers only on failure.
_HOMES: dict[tuple[str, str, str], tuple[list[str], bool]] = {}
MULTIGET_SIZE = 500


class DavSource(Source):
    """A CardDAV or CalDAV account: discovery, sync-collection, multiget."""

    flavor: ClassVar[Flavor]
    options_model = DavOptions

    def __init__(self, name: str, options: SourceOptions) -> None:
        super().__init__(name, options)
        assert isinstance(options, DavOptions)
        self.opts = options
        self._client: DavClient | None = None
        self._sync_support: dict[str, bool] = {}
        self._etags: dict[str, str] = {}  # last etags listed: a fallback when multiget omits one
        self.requests: list[tuple[str, str]] = []  # (method, url), kept across close()

    @property
    def client(self) -> DavClient:
        if self._client is None:
            o = self.opts
            password = o.resolve_password(f"sources.{self.name}")
            login = Login(o.url, o.username, password or "", o.auth)
            self._client = DavClient(login, o.cafile, o.timeout, self.requests)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- discovery --------------------------------------------------------------------------

    def collections(self) -> list[Collection]:
        key = (self.opts.url, self.opts.username, self.flavor.protocol)
        cached = _HOMES.get(key)
        if cached:
            try:
                return self._choose(self._collections_in(*cached))
            except SourceError as e:
                log.info("%s: %s; discovering again", self.name, e)
                _HOMES.pop(key, None)
        found = self._discover()
        collections = self._collections_in(*found)
        _HOMES[key] = found
        return self._choose(collections)

    def _discover(self) -> tuple[list[str], bool]:
        """(home set URLs, False), or ([collection URL], True) when the URL is a collection (RFC 6764)."""
        f = self.flavor
        url = self.opts.url
        starts = [url]
        if urlsplit(url).path in ("", "/"):
            starts.insert(0, urljoin(url, f"/.well-known/{f.protocol}"))
        for start in starts:
            reply = self.client.send("PROPFIND", start, PROPFIND_START, "0")
            if reply.status in (404, 405, 501) and start != starts[-1]:
                continue  # no well-known redirect: try the URL itself
            self.client.check(reply, "discovery PROPFIND on")
            [entry, *_] = parse_multistatus(reply.content, reply.url)[0] or [Entry(reply.url)]
            if clark(f.namespace, f.collection_type) in entry.children(DAV, "resourcetype"):
                return [reply.url], True
            home = entry.inner_href(f.namespace, f.home_set)
            if home:
                return [canonical_url(reply.url, home)], False
            principal = entry.inner_href(DAV, "current-user-principal")
            if not principal:
                raise SourceError(f"{reply.url}: no current-user-principal; is this a {f.protocol} URL?")
            entries, at = self.client.propfind(
                canonical_url(reply.url, principal), PROPFIND_HOMES, "0", "principal PROPFIND on"
            )
            homes = [canonical_url(at, h) for e in entries if (h := e.inner_href(f.namespace, f.home_set))]
            if not homes:
                raise SourceError(f"{at}: the principal has no {f.home_set}; is this a {f.protocol} server?")
            return homes, False
        raise AssertionError("unreachable")

    def _collections_in(self, homes: list[str], direct: bool) -> list[Collection]:
        f = self.flavor
        found: list[Collection] = []
        for home in homes:
            depth = "0" if direct else "1"
            entries, at = self.client.propfind(home, PROPFIND_COLLECTIONS, depth, "collections PROPFIND on")
            for entry in entries:
                if clark(f.namespace, f.collection_type) not in entry.children(DAV, "resourcetype"):
                    continue
                comps = self._components(entry)
                if f.kind == "events" and comps and "VEVENT" not in comps:
                    continue  # a task list
                url = canonical_url(at, entry.href)
                name = (entry.text(DAV, "displayname") or "").strip()
                name = name or unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
                reports = entry.children(DAV, "supported-report-set")
                if reports:
                    self._sync_support[url] = clark(DAV, "sync-collection") in reports
                found.append(Collection(id=url, kind=f.kind, name=name))
        return sorted(set(found), key=lambda c: c.id)

    @staticmethod
    def _components(entry: Entry) -> set[str]:
        el = entry.props.get(clark(CALDAV, "supported-calendar-component-set"))
        if el is None:
            return set()
        return {str(c.get("name", "")).upper() for c in el.iterfind(clark(CALDAV, "comp"))}

    def _choose(self, found: list[Collection]) -> list[Collection]:
        wanted = self.opts.collections
        if not wanted:
            return found
        chosen: list[Collection] = []
        for want in wanted:
            match = [c for c in found if want in (c.name, c.id) or same_resource(want, c.id)]
            match = match or [c for c in found if c.id.rstrip("/").rsplit("/", 1)[-1] == want.strip("/")]
            if not match:
                names = ", ".join(c.name for c in found) or "none"
                raise SourceError(
                    f"{self.opts.url}: no {self.flavor.kind} collection {want!r} (found: {names})"
                )
            chosen += [c for c in match if c not in chosen]
        return chosen

    # --- listing and changes ---------------------------------------------------------------------

    def list(self, collection: Collection) -> dict[str, str]:
        listing = etag_listing(self.client, collection.id)
        self._etags.update(listing)
        return listing

    def changes(self, collection: Collection, token: str | None) -> Changes:
        if self._sync_support.get(collection.id) is False:
            return Changes(changed=self.list(collection), complete=True)
        if token is None and (current := current_token(self.client, collection.id)):
            # The token before the listing: a change in between is reported again next time.
            return Changes(changed=self.list(collection), token=current, complete=True)
        try:
            changed, deleted, new = sync_changes(self.client, collection.id, token)
        except ReportUnsupported as e:
            log.info("%s: %s; listing by etag", self.name, e)
            self._sync_support[collection.id] = False
            return Changes(changed=self.list(collection), complete=True)
        self._etags.update(changed)
        return Changes(changed=changed, deleted=deleted, token=new, complete=token is None)

    # --- fetch --------------------------------------------------------------------------------------

    def fetch(self, collection: Collection, hrefs: Iterable[str]) -> Iterator[Item | BadItem]:
        f = self.flavor
        wanted = list(dict.fromkeys(canonical_path(h) for h in hrefs))
        for start in range(0, len(wanted), MULTIGET_SIZE):
            batch = wanted[start : start + MULTIGET_SIZE]
            asked = set(batch)
            for entry in multiget_entries(self.client, collection.id, f.report, f.data_prop, batch):
                href = canonical_path(entry.href)
                if href not in asked or entry.status not in (None, 200):
                    continue  # gone since the listing, or never there
                asked.discard(href)
                yield from self._item(href, entry)

    def _item(self, href: str, entry: Entry) -> Iterator[Item | BadItem]:
        f = self.flavor
        ns, _, name = f.data_prop.partition(":")
        data = entry.text(CARDDAV if ns == "card" else CALDAV, name)
        if not data or not data.strip():
            yield BadItem(href, f"the server sent no {name}")
            return
        if f.kind == "events" and "BEGIN:VEVENT" not in data.upper():
            log.debug("%s: %s is not an event (a task or journal); ignored", self.name, href)
            return
        etag = entry.text(DAV, "getetag") or self._etags.get(href) or content_hash(data)
        yield Item(href, etag, f.format, data)
