"""Shared fixtures: a real SQLite store on disk, settings built from dicts, text builders."""

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


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., config.Settings]:
    """Settings from keyword overrides, with a store and Maildir in tmp_path."""

    def make(**overrides: Any) -> config.Settings:
        data: dict[str, Any] = {
            "timezone": "Europe/Berlin",
            "database_url": f"sqlite:///{tmp_path / 'nudge.db'}",
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
