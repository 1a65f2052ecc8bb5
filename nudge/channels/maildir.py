"""The digest into a local Maildir that any mail client opens (the default without SMTP).

Delivery is an atomic rename into `new/`; after an interruption the Maildir is
looked into for the day's Message-ID (`arrived`), so a day is never delivered twice.
"""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from pathlib import Path

from pydantic import Field

from nudge import data_dir
from nudge.channels.base import Channel, ChannelOptions, Outgoing
from nudge.channels.email import message_of
from nudge.errors import DeliveryError


class MaildirOptions(ChannelOptions):
    path: str = Field("", description="The Maildir folder; default: Maildir in the XDG data dir.")


def deliver_maildir(msg: EmailMessage, path: Path) -> Path:
    """Write into `path/new` atomically (tmp then rename); returns the file."""
    try:
        box = mailbox.Maildir(str(path), create=True)
        key = box.add(mailbox.MaildirMessage(msg))
    except OSError as e:
        raise DeliveryError(f"Maildir {path}: {e.strerror}") from e
    return path / "new" / key


def maildir_has(path: Path, msg_id: str) -> bool:
    """Whether a message with this Message-ID is already in the Maildir."""
    if not (path / "new").exists():
        return False
    box = mailbox.Maildir(str(path), create=False)
    return any(m.get("Message-ID") == msg_id for m in box)


class MaildirChannel(Channel):
    type_name = "maildir"
    options_model = MaildirOptions

    def __init__(self, name: str, options: ChannelOptions, where: str = "") -> None:
        super().__init__(name, options, where)
        assert isinstance(options, MaildirOptions)
        self.path = Path(options.path).expanduser() if options.path else data_dir() / "Maildir"

    def send(self, digest: Outgoing) -> str:
        return str(deliver_maildir(message_of(digest), self.path))

    def arrived(self, message_id: str) -> bool | None:
        return maildir_has(self.path, message_id)

    def check(self) -> str:
        return f"digests go to the Maildir {self.path}"
