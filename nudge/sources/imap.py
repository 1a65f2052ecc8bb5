"""IMAP folders as a source of message headers: the Sent folder for outbound touches, the Inbox for inbound.

Only header fields are read (`BODY.PEEK[HEADER.FIELDS (...)]`, in folders
opened read-only with EXAMINE), so no body ever leaves the server and nothing
is marked \\Seen. Messages never change, so there is nothing to re-list: a
folder's sync token is `UIDVALIDITY:last UID seen`, and an increment is one
EXAMINE and one `UID SEARCH UID last+1:*`. A new UIDVALIDITY (the folder was
rebuilt, UIDs reassigned) refuses the token and sync re-scans; touches are
deduplicated by Message-ID downstream, so a re-scan adds nothing twice.

The first scan only looks back `max_age_days` (by the server's internal date,
`SEARCH SINCE`): older mail says little about who is warm now, and a
mailbox of many years would make the first sync slow.

`connect()`, `session()`, `imap_errors()` and `find_folders()` are public for
the other user of the same account: the poller of replies to the digest.
"""

from __future__ import annotations

import builtins
import logging
import re
import ssl
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from imapclient import IMAPClient
from imapclient import exceptions as imap_exc
from pydantic import Field, field_validator, model_validator

from nudge.errors import InvalidSyncToken, SourceError
from nudge.sources.base import BadItem, Changes, Collection, Item, PasswordOptions, Source, SourceOptions
from nudge.sources.imap_reports import is_report, status_parts, with_status

log = logging.getLogger(__name__)

# BCC: a sent copy keeps it, and those people did get the email.
HEADER_FIELDS = (
    "FROM TO CC BCC DATE MESSAGE-ID IN-REPLY-TO REFERENCES SUBJECT LIST-ID AUTO-SUBMITTED "
    "PRECEDENCE X-AUTO-RESPONSE-SUPPRESS SENDER REPLY-TO CONTENT-TYPE X-FAILED-RECIPIENTS"
)
FETCH_ITEM = f"BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})]"
# Where Sent lives when the server flags nothing \Sent (RFC 6154), most common first.
SENT_NAMES = ("Sent", "Sent Items", "Sent Messages", "INBOX.Sent", "[Gmail]/Sent Mail")
ETAG = "1"  # messages never change
_HREF = re.compile(r"(?s)(.*);UIDVALIDITY=(\d+)/;UID=(\d+)")  # greedy: a folder may contain ';'
_TOKEN = re.compile(r"([0-9]+):([0-9]+)")
_UNSELECTABLE = {b"\\NOSELECT", b"\\NONEXISTENT"}

Listing = Sequence[tuple[Sequence[bytes], Any, str]]  # imapclient's LIST reply: (flags, delimiter, name)


class ImapOptions(PasswordOptions):
    host: str = Field(description="IMAP server name, e.g. imap.fastmail.com.")
    port: int = Field(0, ge=0, le=65535, description="Port; 0 picks 993 for tls, 143 for starttls.")
    security: Literal["tls", "starttls"] = Field(
        "tls", description="tls (implicit TLS, port 993) or starttls (port 143); TLS is always on."
    )
    cafile: str = Field("", description="Extra CA bundle to trust (certificates are always verified).")
    username: str = Field(min_length=1, description="Login name, often the email address.")
    folders: list[str] = Field(
        default_factory=list,
        description="Folders to read; default: INBOX and the Sent folder (the one flagged \\Sent, "
        "else the first of Sent, Sent Items, Sent Messages, INBOX.Sent, [Gmail]/Sent Mail).",
    )
    max_age_days: int = Field(
        730, ge=1, le=36500, description="The first scan reads the messages of the last N days."
    )
    timeout: float = Field(60, gt=0, le=600, description="Seconds before a connection or command gives up.")
    batch: int = Field(500, ge=1, le=10000, description="Messages per FETCH of headers.")

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("give the server name, e.g. imap.example.com")
        if "://" in v or "/" in v:
            raise ValueError("give the server name only (imap.example.com), not a URL")
        if re.fullmatch(r"[^:]+:\d+", v):
            raise ValueError("give the port as `port`, not in host")
        return v

    @model_validator(mode="after")
    def _a_secret(self) -> ImapOptions:
        if not self.secret_keys:
            raise ValueError("give the password by password_env, password_command or keyring_service")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.security == "tls" else 143)

    @property
    def where(self) -> str:
        """How errors name the server: `imap host:port`."""
        return f"imap {self.host}:{self.effective_port}"


# --- Connecting (shared with the reply poller) --------------------------------------------------


def _text(error: BaseException) -> str:
    arg = error.args[0] if error.args else ""
    text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg or error)
    return (text.strip().splitlines() or [type(error).__name__])[0][:160]


@contextmanager
def imap_errors(options: ImapOptions, doing: str) -> Iterator[None]:
    """Turn what IMAP, TLS and sockets raise into a SourceError naming host:port and what failed."""
    where = options.where
    try:
        yield
    except imap_exc.LoginError as e:
        raise SourceError(
            f"{where}: login refused for {options.username} ({_text(e)}); check the password "
            "(some providers want an app password) and that IMAP is enabled for the account"
        ) from e
    except imap_exc.CapabilityError as e:
        raise SourceError(f"{where}: {_text(e)}; for port 993 use security = tls") from e
    except imap_exc.IMAPClientAbortError as e:
        raise SourceError(f"{where}: connection lost while {doing} ({_text(e)})") from e
    except imap_exc.IMAPClientError as e:
        raise SourceError(f"{where}: {doing} failed: {_text(e)}") from e
    except ssl.SSLCertVerificationError as e:
        raise SourceError(
            f"{where}: TLS certificate not trusted ({e.verify_message}); for a self-signed server set cafile"
        ) from e
    except ssl.SSLError as e:
        raise SourceError(
            f"{where}: TLS failed ({e.reason or _text(e)}); check security: tls is usually port 993, "
            "starttls 143"
        ) from e
    except TimeoutError as e:
        raise SourceError(
            f"{where}: no answer within {options.timeout:g} s while {doing}; check the port and security"
        ) from e
    except ConnectionRefusedError as e:
        raise SourceError(f"{where}: connection refused; check host and port") from e
    except OSError as e:
        raise SourceError(f"{where}: cannot connect ({e.strerror or _text(e)})") from e


def tls_context(options: ImapOptions) -> ssl.SSLContext:
    """The system's CAs plus `cafile`; certificates and host names are always checked."""
    context = ssl.create_default_context()
    if options.cafile:
        try:
            context.load_verify_locations(cafile=options.cafile)
        except (OSError, ssl.SSLError) as e:
            raise SourceError(f"{options.where}: cafile {options.cafile}: cannot read it ({_text(e)})") from e
    return context


def connect(options: ImapOptions, where: str = "imap") -> IMAPClient:
    """A logged-in client; every failure is a SourceError naming host:port, never the password.

    `where` names the config section in password errors (`sources.work-mail`).
    """
    password = options.resolve_password(where)
    context = tls_context(options)
    with imap_errors(options, "connecting"):
        client = IMAPClient(
            options.host,
            options.effective_port,
            ssl=options.security == "tls",
            ssl_context=context,
            timeout=options.timeout,
        )
    try:
        with imap_errors(options, "logging in"):
            if options.security == "starttls":
                client.starttls(context)
            client.login(options.username, password or "")
            # Keep the login's CAPABILITY: imaplib drops it at the first EXAMINE, and imapclient
            # would then ask again in the middle of a sync.
            client.capabilities()
    except BaseException:
        _hang_up(client)
        raise
    return client


def _hang_up(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:
        try:
            client.shutdown()
        except Exception as e:
            log.debug("closing the IMAP connection: %s", _text(e))


@contextmanager
def session(options: ImapOptions, where: str = "imap") -> Iterator[IMAPClient]:
    """`connect()`, then log out however the block ends; wrap its commands in `imap_errors()`."""
    client = connect(options, where)
    try:
        yield client
    finally:
        _hang_up(client)


# --- Folders ---------------------------------------------------------------------------------


def _selectable(listing: Listing) -> list[tuple[set[bytes], str]]:
    out = []
    for flags, _delim, name in listing:
        upper = {bytes(f).upper() for f in flags}
        if not upper & _UNSELECTABLE:
            out.append((upper, str(name)))
    return out


def pick_folders(listing: Listing) -> tuple[str, str | None]:
    """(inbox, sent or None) from a LIST reply: by SPECIAL-USE flag first, then by usual name."""
    folders = _selectable(listing)
    inbox = next((n for _, n in folders if n.upper() == "INBOX"), None)
    inbox = inbox or next((n for f, n in folders if b"\\INBOX" in f), "INBOX")
    sent = next((n for f, n in folders if b"\\SENT" in f), None)
    if sent is None:
        by_name = {n.casefold(): n for _, n in folders}
        prefixed = [f"INBOX{d}{s}" for s in SENT_NAMES for d in "/."]  # under a personal namespace
        sent = next(
            (by_name[c.casefold()] for c in (*SENT_NAMES, *prefixed) if c.casefold() in by_name), None
        )
    return inbox, sent


def find_folders(client: IMAPClient, options: ImapOptions) -> tuple[str, str | None]:
    """(inbox, sent or None) of a logged-in account, by one LIST."""
    with imap_errors(options, "listing folders"):
        listing = client.list_folders()
    return pick_folders(listing)


# --- Hrefs and tokens -------------------------------------------------------------------------


def make_href(folder: str, uidvalidity: int, uid: int) -> str:
    """RFC 5092 style, unique within the account as long as the folder keeps its UIDVALIDITY."""
    return f"{folder};UIDVALIDITY={uidvalidity}/;UID={uid}"


def parse_href(href: str) -> tuple[str, int, int] | None:
    """(folder, uidvalidity, uid), or None for an href that is not ours."""
    m = _HREF.fullmatch(href)
    return (m[1], int(m[2]), int(m[3])) if m else None


def _parse_token(folder: str, token: str) -> tuple[int, int]:
    """(UIDVALIDITY, last UID seen) from `changes()`'s token."""
    m = _TOKEN.fullmatch(token)
    if not m:
        raise InvalidSyncToken(f"{folder}: unreadable sync token {token[:40]!r}; reading the folder again")
    return int(m[1]), int(m[2])


# --- The source ----------------------------------------------------------------------------------


class ImapSource(Source):
    """Folders of one IMAP account as collections of kind "messages" (items: header blocks)."""

    type_name = "imap"
    options_model = ImapOptions

    def __init__(self, name: str, options: SourceOptions) -> None:
        super().__init__(name, options)
        assert isinstance(options, ImapOptions)
        self.opts = options
        self._client: IMAPClient | None = None
        self._selected: tuple[str, int, int] | None = None  # (folder, UIDVALIDITY, UIDNEXT)

    @property
    def client(self) -> IMAPClient:
        """One connection per sync: opened by the first command, closed by `close()`."""
        if self._client is None:
            self._client = connect(self.opts, f"sources.{self.name}")
        return self._client

    def close(self) -> None:
        if self._client is not None:
            _hang_up(self._client)
            self._client, self._selected = None, None

    def collections(self) -> list[Collection]:
        with imap_errors(self.opts, "listing folders"):
            listing = self.client.list_folders()
        names = self._choose(listing)
        return [Collection(id=n, kind="messages", name=n) for n in names]

    def _choose(self, listing: Listing) -> list[str]:
        if not self.opts.folders:
            inbox, sent = pick_folders(listing)
            if sent is None:
                log.warning(
                    "%s: %s has no folder flagged \\Sent nor named %s; reading %s only (set folders)",
                    self.name,
                    self.opts.where,
                    ", ".join(SENT_NAMES),
                    inbox,
                )
            return [inbox] if sent is None else [inbox, sent]
        found = [n for _, n in _selectable(listing)]
        chosen: list[str] = []
        for want in self.opts.folders:
            match = [n for n in found if n == want or (n.upper() == want.upper() == "INBOX")]
            if not match:
                names = ", ".join(found[:30]) + (", ..." if len(found) > 30 else "")
                raise SourceError(f"{self.opts.where}: no folder {want!r} (there are: {names or 'none'})")
            if match[0] not in chosen:
                chosen.append(match[0])
        return chosen

    def _examine(self, folder: str) -> tuple[int, int]:
        """Open `folder` read-only: (UIDVALIDITY, UIDNEXT, 0 when the server sent none)."""
        with imap_errors(self.opts, f"opening {folder!r}"):
            reply = self.client.select_folder(folder, readonly=True)
        validity = reply.get(b"UIDVALIDITY")
        if not isinstance(validity, int):
            raise SourceError(f"{self.opts.where}: {folder!r} has no UIDVALIDITY; cannot sync it")
        uidnext = reply.get(b"UIDNEXT")
        self._selected = (folder, validity, uidnext if isinstance(uidnext, int) else 0)
        return self._selected[1:]

    def _search(self, folder: str, criteria: list[Any]) -> list[int]:
        with imap_errors(self.opts, f"searching {folder!r}"):
            return [int(u) for u in self.client.search(criteria)]

    def changes(self, collection: Collection, token: str | None) -> Changes:
        folder = collection.id
        last_seen = _parse_token(folder, token) if token is not None else None
        validity, uidnext = self._examine(folder)
        if last_seen is None:
            since = (datetime.now(UTC) - timedelta(days=self.opts.max_age_days)).date()
            uids = self._search(folder, ["SINCE", since])
            top = max([uidnext - 1, 0, *uids])
        else:
            old_validity, last = last_seen
            if old_validity != validity:
                raise InvalidSyncToken(
                    f"{folder}: UIDVALIDITY changed ({old_validity} -> {validity}); reading the folder again"
                )
            # `n:*` always matches the highest UID, even one below n: keep only the new ones.
            uids = [u for u in self._search(folder, ["UID", f"{last + 1}:*"]) if u > last]
            top = max([last, *uids])
        log.debug("%s: %s: %d message(s) to read", self.name, folder, len(uids))
        changed = {make_href(folder, validity, u): ETAG for u in sorted(uids)}
        return Changes(changed=changed, token=f"{validity}:{top}", complete=False)

    def list(self, collection: Collection) -> dict[str, str]:
        return self.changes(collection, None).changed

    def fetch(self, collection: Collection, hrefs: Iterable[str]) -> Iterator[Item | BadItem]:
        folder = collection.id
        asked = [p for h in hrefs if (p := parse_href(h)) and p[0] == folder]
        if not asked:
            return
        if self._selected is None or self._selected[0] != folder:
            self._examine(folder)
        assert self._selected is not None
        validity = self._selected[1]
        uids = sorted({uid for _, v, uid in asked if v == validity})  # other UIDVALIDITY: gone
        step = self.opts.batch
        for start in range(0, len(uids), step):
            yield from self._fetch(folder, validity, uids[start : start + step])

    def _fetch(self, folder: str, validity: int, uids: builtins.list[int]) -> Iterator[Item | BadItem]:
        """Header blocks of `uids`; a batch the server refuses is split until the bad message is found."""
        refused: Exception | None = None
        reply: dict[int, dict[bytes, Any]] = {}
        with imap_errors(self.opts, f"fetching headers from {folder!r}"):
            try:
                reply = self.client.fetch(uids, [FETCH_ITEM])
            except imap_exc.IMAPClientAbortError:
                raise
            except imap_exc.IMAPClientError as e:
                refused = e
        if refused is not None:
            if len(uids) > 1:
                half = len(uids) // 2
                yield from self._fetch(folder, validity, uids[:half])
                yield from self._fetch(folder, validity, uids[half:])
            else:
                href = make_href(folder, validity, uids[0])
                yield BadItem(href, f"the server refused its headers: {_text(refused)}")
            return
        blocks = {
            uid: next((v for k, v in data.items() if bytes(k).upper().startswith(b"BODY[HEADER")), None)
            for uid, data in reply.items()
        }
        reports = [u for u, b in blocks.items() if isinstance(b, bytes) and is_report(b)]
        with imap_errors(self.opts, f"fetching delivery reports from {folder!r}"):
            status = status_parts(self.client, reports, self.name)
        for uid in uids:
            if uid not in reply:
                continue  # expunged since it was listed
            href = make_href(folder, validity, uid)
            block = blocks[uid]
            if not isinstance(block, bytes) or not block.strip():
                yield BadItem(href, "the server sent no header fields")
                continue
            text = with_status(block.decode("utf-8", errors="replace"), status.get(uid))
            yield Item(href, ETAG, "email", text)
