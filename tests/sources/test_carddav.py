"""The CardDAV and CalDAV sources against a real Radicale: the contract, discovery, errors.

The contract suite sees both sources as one (see `CombinedSource` in contract.py); CalDAV-only
behaviour is in test_caldav.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.fault_proxy import FaultProxy
from tests.servers.radicale import DavBackend, Radicale, radicale  # noqa: F401
from tests.sources.contract import Backend, RemovableCollectionTests, TokenTests


class TestDavSources(TokenTests, RemovableCollectionTests):
    """Discovery from the server's root URL (well-known, principal, home sets)."""

    @pytest.fixture(autouse=True)
    def _server(self, radicale: Radicale) -> None:  # noqa: F811
        self.server = radicale

    def make(self, tmp_path: Path) -> Backend:
        return DavBackend(self.server)


class TestDavSourcesByCollectionUrl(TokenTests, RemovableCollectionTests):
    """Each source given its collection's URL: no discovery."""

    @pytest.fixture(autouse=True)
    def _server(self, radicale: Radicale) -> None:  # noqa: F811
        self.server = radicale

    def make(self, tmp_path: Path) -> Backend:
        return DavBackend(self.server, by_collection_url=True)


class TestDavSourcesWithoutSyncCollection(RemovableCollectionTests):
    """A server that answers 501 to sync-collection: listing by PROPFIND and etags."""

    @pytest.fixture(autouse=True)
    def _server(self, radicale: Radicale) -> Iterator[None]:  # noqa: F811
        self.proxy = FaultProxy(radicale.url)
        self.proxy.fail("REPORT", b"sync-collection", status=501, times=10**9)
        self.server = radicale
        yield
        self.proxy.close()

    def make(self, tmp_path: Path) -> Backend:
        return DavBackend(self.server, base=self.proxy.url)
