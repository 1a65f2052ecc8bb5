"""The one contract every delivery channel implements; the digest's state machine sees nothing else.

A channel gets the day's digest (`Outgoing`: subject, text, HTML, the picks as data, a
Message-ID that is the same for every retry of the day) and delivers it somewhere: an SMTP
server, a Maildir, a webhook. `digest/send.py` records, per channel and day, `sending` before
`send` and `sent` after it, under the day's claim, so each channel delivers at most once a day.

Sending is split in two, as SMTP needs: `open` does everything that can fail without anything
having been sent (connect, TLS, login) and raises DeliveryError; only then is the channel
marked `sending` and `send` called. `send` raises DeliveryError when the other side refused
(nothing arrived: the day is retried) and DeliveryUnknown when the digest may have arrived
(a timeout after the request went out): the day is then never sent again on that channel.
After an interruption during `send`, `arrived` says whether the digest is there, if the
channel can tell (a Maildir can; SMTP and webhooks cannot: None, and nothing is resent).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class ChannelOptions(BaseModel):
    """Base of each channel type's options: unknown keys and wrong types are errors."""

    model_config = ConfigDict(extra="forbid", strict=True)


@dataclass(frozen=True)
class Outgoing:
    """One day's digest, as every channel gets it."""

    day: date
    message_id: str  # `<nudge.digest.DAY.TOKEN@domain>`: the same for every retry of the day
    subject: str
    text: str
    html: str
    sender: str
    recipient: str
    when: datetime  # aware, local: the Date of the message
    data: Mapping[str, Any] = field(default_factory=dict)  # the plan as JSON-able values


class Channel(ABC):
    """Subclasses set `type_name` and `options_model`, and implement `send`."""

    type_name: ClassVar[str]
    options_model: ClassVar[type[ChannelOptions]]

    def __init__(self, name: str, options: ChannelOptions, where: str = "") -> None:
        self.name = name
        self.options = options
        self.where = where or f"channels.{name}"  # how the config names it, for messages

    def open(self) -> None:
        """Everything before the digest goes out (connect, TLS, login). Raises DeliveryError."""

    @abstractmethod
    def send(self, digest: Outgoing) -> str:
        """Deliver it and close; returns where it went, in words.

        Raises DeliveryError (refused: retried) or DeliveryUnknown (may have arrived: not resent).
        """

    def arrived(self, message_id: str) -> bool | None:
        """Whether a digest with this id is there, after an interruption; None: cannot tell."""
        return None

    def check(self) -> str:
        """For `nudge doctor`: reach the channel without sending anything; what was found."""
        self.open()
        self.close()
        return "reachable"

    def close(self) -> None:
        """Release the connection; safe to call twice."""
