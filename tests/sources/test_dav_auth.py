"""HTTP Basic and Digest for the DAV sources: the choice, and Radicale behind a proxy that demands Digest.

Radicale itself only does Basic, so `FaultProxy.require_digest` checks Digest from the client
and logs in upstream with Basic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from requests.auth import HTTPBasicAuth, HTTPDigestAuth

from nudge import service, sync
from nudge.config import Settings
from nudge.errors import SourceError
from nudge.sources.caldav import CalDavSource
from nudge.sources.carddav import CardDavSource
from nudge.sources.dav import DavOptions
from nudge.sources.dav_auth import _LEARNT, Login, basic_is_safe, offered
from tests.builders import vcard, vevent
from tests.servers.fault_proxy import FaultProxy
from tests.servers.radicale import PASSWORD, Radicale, radicale  # noqa: F401

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _forget() -> Iterator[None]:
    _LEARNT.clear()
    yield
    _LEARNT.clear()


# --- the choice ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("challenge", "schemes"),
    [
        ('Basic realm="Radicale - Password Required"', {"basic"}),
        ('Digest realm="BaikalDAV", nonce="abc, def", qop="auth", algorithm=MD5', {"digest"}),
        ('Digest realm="x", nonce="n", Basic realm="x"', {"digest", "basic"}),
        ('Basic realm="digest, inside a quote"', {"basic"}),
        ("Negotiate, NTLM", {"negotiate", "ntlm"}),
        ("", set()),
    ],
)
def test_the_schemes_a_challenge_offers(challenge: str, schemes: set[str]) -> None:
    assert offered(challenge) == schemes


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://dav.example.com/", True),
        ("http://127.0.0.1:5232/", True),
        ("http://[::1]:5232/", True),
        ("http://localhost/dav/", True),
        ("http://192.168.1.20:5232/", False),
        ("http://dav.example.com/", False),
    ],
)
def test_basic_goes_unasked_only_over_tls_or_loopback(url: str, safe: bool) -> None:
    assert basic_is_safe(url) is safe


def test_auto_switches_to_digest_when_the_challenge_wants_only_digest_and_remembers() -> None:
    login = Login("https://dav.example.com/", "alex", "pw")
    assert isinstance(login.auth(), HTTPBasicAuth)
    assert login.retry_with('Basic realm="x"') is None  # Basic was refused: a wrong password
    assert login.retry_with('Digest realm="x", Basic realm="x"') is None  # likewise
    assert isinstance(login.retry_with('Digest realm="x", nonce="n"'), HTTPDigestAuth)
    assert login.retry_with('Digest realm="x", nonce="n"') is None  # Digest refused: no loop
    assert isinstance(Login("https://DAV.example.com/other/", "alex", "pw").auth(), HTTPDigestAuth)
    assert isinstance(Login("https://dav.example.com/", "sam", "pw").auth(), HTTPBasicAuth)


def test_auto_over_plain_http_sends_nothing_until_asked() -> None:
    login = Login("http://dav.example.com/", "alex", "pw")
    assert login.auth() is None
    assert isinstance(login.retry_with('Digest realm="x", Basic realm="x"'), HTTPDigestAuth)
    basic = Login("http://other.example.com/", "alex", "pw")
    assert isinstance(basic.retry_with('Basic realm="x"'), HTTPBasicAuth)


def test_a_fixed_scheme_never_switches() -> None:
    basic = Login("http://dav.example.com/", "alex", "pw", "basic")
    assert isinstance(basic.auth(), HTTPBasicAuth)
    assert basic.retry_with('Digest realm="x"') is None
    digest = Login("https://dav.example.com/", "alex", "pw", "digest")
    assert isinstance(digest.auth(), HTTPDigestAuth)
    assert Login("https://dav.example.com/", "", "", "auto").auth() is None


# --- against Radicale behind a Digest-only proxy -------------------------------------------------


@pytest.fixture
def digest_proxy(radicale: Radicale) -> Iterator[tuple[FaultProxy, str]]:  # noqa: F811
    user = radicale.add_user()
    book = radicale.make_addressbook(user, "contacts")
    cal = radicale.make_calendar(user, "work")
    radicale.put_contact(user, book, "ana", vcard("ana", "Ana Ruiz", emails=("ana@example.org",)))
    radicale.put_event(user, cal, "e1", vevent("e1", START, ("ana@example.org",)))
    proxy = FaultProxy(radicale.url)
    proxy.require_digest(user, PASSWORD)
    yield proxy, user
    proxy.close()


def options(proxy: FaultProxy, user: str, password: str = PASSWORD, **extra: object) -> DavOptions:
    return DavOptions.model_validate(
        {"url": proxy.url + "/", "username": user, "password": password, "timeout": 30, **extra}
    )


def read_all(source: CardDavSource | CalDavSource) -> int:
    try:
        [coll] = source.collections()
        return len(list(source.fetch(coll, source.list(coll))))
    finally:
        source.close()


def test_auto_logs_in_with_digest_and_the_next_source_starts_with_it(
    digest_proxy: tuple[FaultProxy, str],
) -> None:
    proxy, user = digest_proxy
    assert read_all(CardDavSource("book", options(proxy, user))) == 1
    assert [r.auth for r in proxy.requests][:3] == ["basic", "", "digest"]  # refused, challenged, in
    assert {r.auth for r in proxy.requests[3:]} == {"digest"}
    proxy.requests.clear()
    assert read_all(CalDavSource("cal", options(proxy, user))) == 1  # same account: no Basic again
    assert "basic" not in {r.auth for r in proxy.requests}


def test_auth_digest_never_sends_basic(digest_proxy: tuple[FaultProxy, str]) -> None:
    proxy, user = digest_proxy
    assert read_all(CardDavSource("book", options(proxy, user, auth="digest"))) == 1
    assert "basic" not in {r.auth for r in proxy.requests}


def test_auth_basic_against_a_digest_server_is_a_clear_error(digest_proxy: tuple[FaultProxy, str]) -> None:
    proxy, user = digest_proxy
    with pytest.raises(SourceError, match=rf"login refused for {user} at {proxy.url}/.* \(HTTP 401\)"):
        read_all(CardDavSource("book", options(proxy, user, auth="basic")))


def test_a_wrong_password_with_digest_is_a_clear_error(digest_proxy: tuple[FaultProxy, str]) -> None:
    proxy, user = digest_proxy
    with pytest.raises(SourceError, match=r"login refused .*\(HTTP 401\)"):
        read_all(CardDavSource("book", options(proxy, user, password="wrong")))


def test_basic_refused_by_a_server_that_also_offers_basic_is_a_wrong_login(
    radicale: Radicale,  # noqa: F811
) -> None:
    user = radicale.add_user()
    book = radicale.make_addressbook(user, "contacts")
    radicale.put_contact(user, book, "ana", vcard("ana", "Ana Ruiz"))
    proxy = FaultProxy(radicale.url)
    try:
        proxy.require_digest(user, PASSWORD, also_basic=True)
        assert read_all(CardDavSource("book", options(proxy, user, auth="digest"))) == 1
        with pytest.raises(SourceError, match=r"HTTP 401"):  # the proxy takes only Digest itself
            read_all(CardDavSource("book2", options(proxy, user)))
        assert [r.auth for r in proxy.requests[-1:]] == ["basic"]  # no switch: both were offered
    finally:
        proxy.close()


def test_a_sync_through_digest_with_prefetching_threads(
    digest_proxy: tuple[FaultProxy, str],
    radicale: Radicale,  # noqa: F811
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each thread's first request answers its own challenge (requests keeps Digest state per thread)."""
    proxy, user = digest_proxy
    cards = "".join(vcard(f"p{i}", f"Person {i}", emails=(f"p{i}@example.com",)) for i in range(7))
    radicale.put_bulk(user, f"/{user}/contacts/", cards, "contacts")  # replaces the book
    monkeypatch.setattr(sync, "BATCH", 2)
    common = {"url": proxy.url + "/", "username": user, "password": PASSWORD, "timeout": 30}
    settings = make_settings(
        sources=[{"type": "carddav", "name": "book", **common}, {"type": "caldav", "name": "cal", **common}]
    )
    engine = service.open_store(settings)
    book, cal = service.sync_all(engine, settings, START)
    assert (book.ok, book.added, cal.ok, cal.added) == (True, 7, True, 1), [book.line(), cal.line()]
    assert [r.auth for r in proxy.requests].count("basic") == 1
