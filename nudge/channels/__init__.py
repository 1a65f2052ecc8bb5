"""Delivery channels by type name: smtp, maildir, webhook; each module is imported only when used.

A channel is a `Channel` (`channels.base`): the digest's state machine
(`digest.send`) sees nothing else, and delivers each day at most once per
channel. A new channel is a module with a `Channel` subclass and one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from nudge.errors import UserError, problems_of

if TYPE_CHECKING:
    from nudge.channels.base import Channel

REGISTRY: dict[str, str] = {
    "smtp": "nudge.channels.smtp:SmtpChannel",
    "maildir": "nudge.channels.maildir:MaildirChannel",
    "webhook": "nudge.channels.webhook:WebhookChannel",
}
_COMMON = ("type", "name", "enabled")


class ChannelEntry(Protocol):
    """One [[channels]] table as the config hands it over (`config.ChannelConfig`)."""

    @property
    def type(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def options(self) -> Mapping[str, Any]: ...

    @property
    def where(self) -> str: ...


def channel_class(type_name: str) -> type[Channel]:
    try:
        module_name, _, attr = REGISTRY[type_name].partition(":")
    except KeyError:
        raise UserError(f"unknown channel type {type_name!r}; known: {', '.join(sorted(REGISTRY))}") from None
    cls: type[Channel] = getattr(importlib.import_module(module_name), attr)
    return cls


def options_problems(raw: Mapping[str, Any], prefix: str) -> list[str]:
    """`channels[i].key: problem` lines for one [[channels]] table."""
    if raw.get("type") not in REGISTRY:
        return [
            f"{prefix}.type: unknown channel type {raw.get('type')!r}; known: {', '.join(sorted(REGISTRY))}"
        ]
    cls = channel_class(raw["type"])
    try:
        cls.options_model.model_validate({k: v for k, v in raw.items() if k not in _COMMON})
    except ValidationError as e:
        return problems_of(e, prefix)
    return []


def load_channel(entry: ChannelEntry) -> Channel:
    cls = channel_class(entry.type)
    return cls(entry.name, cls.options_model.model_validate(dict(entry.options)), entry.where)
