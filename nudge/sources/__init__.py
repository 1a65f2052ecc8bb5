"""Source plug-ins by type name; each module is imported only when used."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from nudge.errors import UserError

if TYPE_CHECKING:
    from nudge.config import SourceConfig
    from nudge.sources.base import Source

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
_COMMON = ("type", "name", "enabled")


def source_class(type_name: str) -> type[Source]:
    try:
        module_name, _, attr = REGISTRY[type_name].partition(":")
    except KeyError:
        raise UserError(f"unknown source type {type_name!r}; known: {', '.join(sorted(REGISTRY))}") from None
    cls: type[Source] = getattr(importlib.import_module(module_name), attr)
    return cls


def options_problems(raw: dict[str, Any], prefix: str) -> list[str]:
    """`sources[i].key: problem` lines for one [[sources]] table."""
    from nudge.config import problems_of

    if raw.get("type") not in REGISTRY:
        return [
            f"{prefix}.type: unknown source type {raw.get('type')!r}; known: {', '.join(sorted(REGISTRY))}"
        ]
    cls = source_class(raw["type"])
    try:
        cls.options_model.model_validate({k: v for k, v in raw.items() if k not in _COMMON})
    except ValidationError as e:
        return problems_of(e, prefix)
    return []


def load_source(cfg: SourceConfig) -> Source:
    cls = source_class(cfg.type)
    return cls(cfg.name, cls.options_model.model_validate(cfg.options))
