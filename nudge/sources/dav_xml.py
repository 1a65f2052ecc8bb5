"""The WebDAV wire format: every XML body nudge sends, multistatus replies, hrefs.

Kept apart from the HTTP client and the source so the protocol's text lives in
one place and can be read (and tested) on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

from lxml import etree

from nudge.errors import SourceError

DAV = "DAV:"
CARDDAV = "urn:ietf:params:xml:ns:carddav"
CALDAV = "urn:ietf:params:xml:ns:caldav"

# --- XML bodies: every one nudge sends -------------------------------------------------

_HEAD = '<?xml version="1.0" encoding="utf-8"?>\n'
_NS = f'xmlns:d="{DAV}" xmlns:card="{CARDDAV}" xmlns:cal="{CALDAV}"'


def _propfind(*props: str) -> bytes:
    inner = "".join(f"<{p}/>" for p in props)
    return f"{_HEAD}<d:propfind {_NS}><d:prop>{inner}</d:prop></d:propfind>".encode()


#: Where discovery starts: is this a principal, a home, or a collection already?
PROPFIND_START = _propfind(
    "d:current-user-principal", "d:resourcetype", "card:addressbook-home-set", "cal:calendar-home-set"
)
#: A principal's home sets.
PROPFIND_HOMES = _propfind("card:addressbook-home-set", "cal:calendar-home-set")
#: The collections of a home (depth 1) or one collection (depth 0).
PROPFIND_COLLECTIONS = _propfind(
    "d:resourcetype", "d:displayname", "d:supported-report-set", "cal:supported-calendar-component-set"
)
#: A collection's members with their etags (a sub-collection's href ends in "/"). Radicale
#: answers this in half the time of a token-less sync-collection REPORT.
PROPFIND_ETAGS = _propfind("d:getetag")
#: A collection's current sync token (RFC 6578 section 4), taken before a first full listing.
PROPFIND_SYNC_TOKEN = _propfind("d:sync-token")


def sync_collection(token: str | None) -> bytes:
    """RFC 6578 sync-collection asking for hrefs and etags only.

    Never the data: Radicale refuses (400) one reply that carries more than
    10,000 events, and ignores result limits on this report.
    """
    tok = f"<d:sync-token>{_escape(token)}</d:sync-token>" if token else "<d:sync-token/>"
    return (
        f"{_HEAD}<d:sync-collection {_NS}>{tok}<d:sync-level>1</d:sync-level>"
        "<d:prop><d:getetag/></d:prop></d:sync-collection>"
    ).encode()


def multiget(report: str, data_prop: str, hrefs: list[str]) -> bytes:
    """addressbook-multiget / calendar-multiget for `hrefs` (`report` and `data_prop` prefixed)."""
    body = "".join(f"<d:href>{_escape(h)}</d:href>" for h in hrefs)
    return (f"{_HEAD}<{report} {_NS}><d:prop><d:getetag/><{data_prop}/></d:prop>{body}</{report}>").encode()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- Multistatus replies -----------------------------------------------------------------


def clark(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


@dataclass
class Entry:
    """One <response>: its href, its own status if any, and the props found (status 200)."""

    href: str
    status: int | None = None
    props: dict[str, Any] = field(default_factory=dict)

    def text(self, ns: str, name: str) -> str | None:
        el = self.props.get(clark(ns, name))
        return None if el is None else (el.text or "")

    def children(self, ns: str, name: str) -> set[str]:
        el = self.props.get(clark(ns, name))
        return set() if el is None else {c.tag for c in el.iter() if c is not el and isinstance(c.tag, str)}

    def inner_href(self, ns: str, name: str) -> str | None:
        el = self.props.get(clark(ns, name))
        if el is None:
            return None
        found = el.find(clark(DAV, "href"))
        return None if found is None or not found.text else found.text.strip()


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_comments=True)


def _status(text: str | None) -> int | None:
    parts = (text or "").split()
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def parse_multistatus(content: bytes, url: str) -> tuple[list[Entry], str | None]:
    """The entries of a 207 reply and its top-level sync-token, if any."""
    try:
        root = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError as e:
        raise SourceError(f"{url}: the server's reply is not valid XML ({e})") from e
    if root.tag != clark(DAV, "multistatus"):
        raise SourceError(f"{url}: expected a multistatus reply, got <{etree.QName(root).localname}>")
    entries = []
    for resp in root.iterfind(clark(DAV, "response")):
        href_el = resp.find(clark(DAV, "href"))
        if href_el is None or not href_el.text:
            continue
        entry = Entry(href=href_el.text.strip(), status=_status(resp.findtext(clark(DAV, "status"))))
        for propstat in resp.iterfind(clark(DAV, "propstat")):
            if _status(propstat.findtext(clark(DAV, "status"))) != 200:
                continue
            prop = propstat.find(clark(DAV, "prop"))
            for el in prop if prop is not None else ():
                if isinstance(el.tag, str):
                    entry.props[el.tag] = el
        entries.append(entry)
    token = root.findtext(clark(DAV, "sync-token"))
    return entries, token.strip() if token else None


# --- URLs ---------------------------------------------------------------------------------

_SAFE = "/!$&'()*+,;=:@~"


def canonical_path(href: str) -> str:
    """The absolute path of an href, quoted one way whatever the server did."""
    parts = urlsplit(href)
    return quote(unquote(parts.path), safe=_SAFE)


def canonical_url(base: str, href: str) -> str:
    """An absolute URL for `href` (relative to `base`), with its path canonical."""
    parts = urlsplit(urljoin(base, href))
    return f"{parts.scheme}://{parts.netloc}{canonical_path(parts.path)}"


def same_resource(a: str, b: str) -> bool:
    return canonical_path(a).rstrip("/") == canonical_path(b).rstrip("/")
