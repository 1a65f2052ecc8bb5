"""Shared fixtures: a real store (SQLite on disk, or PostgreSQL), settings built from dicts, text builders.

The store a test gets is `store_url`: an SQLite file in tmp_path, or for a test marked
`both_stores` also a database of its own on the session's real PostgreSQL
(tests/servers/postgres.py), so the test runs once on each. NUDGE_TEST_STORE=postgresql
puts every test that takes `store_url` on PostgreSQL (a full run of the store suite there).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import Engine

from nudge import config
from nudge.sources.memory import MemorySource
from nudge.store.db import open_db
from tests.builders import ME
from tests.servers.postgres import postgres, postgres_store_url, postgres_url

__all__ = ["postgres", "postgres_store_url", "postgres_url"]  # fixtures for every test module

STORES = ("sqlite", "postgresql")
STORE_ENV = "NUDGE_TEST_STORE"  # "postgresql": every test with a store runs on PostgreSQL

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # a Monday, 07:00 in Berlin

# Property tests: `ci` (the default, what .ci/run uses) and `dev` (a fifth of the examples, for a quick
# loop: HYPOTHESIS_PROFILE=dev). A test whose examples are much cheaper or dearer than most scales the
# profile's count with `tests.profiles.scaled` instead of naming a number.
_COMMON: dict[str, Any] = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", max_examples=150, **_COMMON)
settings.register_profile("dev", max_examples=30, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Never read or write the real user's config or data; fresh memory stores."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.delenv("NUDGE_CONFIG", raising=False)
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    MemorySource.reset()
    yield
    MemorySource.reset()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_stores: runs once on SQLite and once on a real PostgreSQL (store_kind)"
    )
    config.addinivalue_line(
        "markers", "sqlite_only: SQLite by nature (its files, its locks): never on PostgreSQL"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A `both_stores` test that uses a store runs on each kind; NUDGE_TEST_STORE forces one."""
    if "store_kind" not in metafunc.fixturenames:
        return
    forced = os.environ.get(STORE_ENV)
    if metafunc.definition.get_closest_marker("sqlite_only") is not None:
        metafunc.parametrize("store_kind", ["sqlite"], indirect=True, ids=["sqlite"])
    elif forced:
        metafunc.parametrize("store_kind", [forced], indirect=True, ids=[forced])
    elif metafunc.definition.get_closest_marker("both_stores") is not None:
        metafunc.parametrize("store_kind", STORES, indirect=True, ids=STORES)


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """ "sqlite" unless the test is parametrized (`both_stores`, or NUDGE_TEST_STORE)."""
    kind = str(getattr(request, "param", "sqlite"))
    if kind not in STORES:
        raise pytest.UsageError(f"{STORE_ENV}={kind}: expected one of {', '.join(STORES)}")
    return kind


@pytest.fixture
def store_url(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The test's store: an SQLite file in tmp_path, or a migrated PostgreSQL database of its own.

    A PostgreSQL URL carries no password (libpq reads it from PGPASSFILE, which the `postgres`
    fixture sets, for subprocesses too), so a config file a test writes with it is accepted.
    """
    if store_kind == "postgresql":
        url = str(request.getfixturevalue("postgres_store_url"))
        server = request.getfixturevalue("postgres")
        return url.replace(f":{server.password}@", "@")
    return f"sqlite:///{tmp_path / 'nudge.db'}"


@pytest.fixture
def blank_store_url(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Like `store_url`, but a database without nudge's schema (for the migrations' tests)."""
    if store_kind == "postgresql":
        url = str(request.getfixturevalue("postgres_url"))
        server = request.getfixturevalue("postgres")
        return url.replace(f":{server.password}@", "@")
    return f"sqlite:///{tmp_path / 'blank.db'}"


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def make_settings(tmp_path: Path, store_url: str) -> Callable[..., config.Settings]:
    """Settings from keyword overrides, with a store and Maildir in tmp_path."""

    def make(**overrides: Any) -> config.Settings:
        data: dict[str, Any] = {
            "timezone": "Europe/Berlin",
            "database_url": store_url,
            "maildir": str(tmp_path / "Maildir"),
            "me": {"name": "Me", "emails": [ME], "region": "DE"},
        }
        data.update(overrides)
        if "channels" in overrides:  # the new form replaces the old one (maildir)
            del data["maildir"]
        return config.validate(data)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., config.Settings]) -> config.Settings:
    return make_settings()


@pytest.fixture
def engine(settings: config.Settings) -> Engine:
    return open_db(settings.database)
