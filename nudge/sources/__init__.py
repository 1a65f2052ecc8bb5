"""Source plug-ins by type name; each module is imported only when used.

The packages of every source but `files` and `memory` are extras of the
distribution (pyproject.toml), so a source's package may be missing. That is
found before its module is imported, at config load and in `load_source`, and
said in one line naming the extra and the command that adds it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from nudge.errors import UserError, problems_of
from nudge.extras import missing_extra_message, missing_module, require_extra

if TYPE_CHECKING:
    from nudge.sources.base import Source


class SourceEntry(Protocol):
    """One [[sources]] table as the config hands it over (`config.SourceConfig`)."""

    @property
    def type(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def enabled(self) -> bool: ...

    @property
    def options(self) -> Mapping[str, Any]: ...


REGISTRY: dict[str, str] = {
    "carddav": "nudge.sources.carddav:CardDavSource",
    "caldav": "nudge.sources.caldav:CalDavSource",
    "files": "nudge.sources.files:FilesSource",
    "gmail": "nudge.sources.gmail:GmailSource",
    "google_calendar": "nudge.sources.google:GoogleCalendarSource",
    "google_contacts": "nudge.sources.google:GoogleContactsSource",
    "imap": "nudge.sources.imap:ImapSource",
    "memory": "nudge.sources.memory:MemorySource",
}
NEEDS: dict[str, str] = {
    "carddav": "dav",
    "caldav": "dav",
    "gmail": "google",
    "google_calendar": "google",
    "google_contacts": "google",
    "imap": "imap",
}
_COMMON = ("type", "name", "enabled")


def _missing(type_name: str, options: Mapping[str, Any]) -> tuple[str, str, str, str] | None:
    """(option key, what needs it, module, extra) of the first package this source lacks."""
    extra = NEEDS.get(type_name)
    if extra is not None and (module := missing_module(extra)) is not None:
        return "type", type_name, module, extra
    if options.get("keyring_service") and (module := missing_module("keyring")) is not None:
        return "keyring_service", "the system keyring", module, "keyring"
    return None


def source_class(type_name: str) -> type[Source]:
    try:
        module_name, _, attr = REGISTRY[type_name].partition(":")
    except KeyError:
        raise UserError(f"unknown source type {type_name!r}; known: {', '.join(sorted(REGISTRY))}") from None
    extra = NEEDS.get(type_name)
    if extra is not None:
        require_extra(extra, type_name)
    try:
        cls: type[Source] = getattr(importlib.import_module(module_name), attr)
    except ModuleNotFoundError as e:
        if extra is None or not e.name or e.name.startswith("nudge"):
            raise
        raise UserError(missing_extra_message(type_name, e.name, extra)) from None
    return cls


def options_problems(raw: dict[str, Any], prefix: str) -> list[str]:
    """`sources[i].key: problem` lines for one [[sources]] table."""
    if raw.get("type") not in REGISTRY:
        return [
            f"{prefix}.type: unknown source type {raw.get('type')!r}; known: {', '.join(sorted(REGISTRY))}"
        ]
    lacking = _missing(raw["type"], raw)
    if lacking is not None:
        key, what, module, extra = lacking
        return [f"{prefix}.{key}: " + missing_extra_message(what, module, extra)]
    cls = source_class(raw["type"])
    try:
        cls.options_model.model_validate({k: v for k, v in raw.items() if k not in _COMMON})
    except ValidationError as e:
        return problems_of(e, prefix)
    return []


def load_source(cfg: SourceEntry) -> Source:
    lacking = _missing(cfg.type, cfg.options)
    if lacking is not None:
        _, what, module, extra = lacking
        raise UserError(
            f"sources entry {cfg.name!r} ({cfg.type}): " + missing_extra_message(what, module, extra)
        )
    cls = source_class(cfg.type)
    return cls(cfg.name, cls.options_model.model_validate(cfg.options))
