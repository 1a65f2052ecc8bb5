"""The manager's weekly mail: `nudge team stats`' report through the main config's channels.

The report is what `team stats` prints (numbers only, never a contact); it goes to the main
config's digest address by its channels, as a digest does, with a Message-ID of its own
(`<nudge.team.MONDAY.TOKEN@...>`) that no reply handling mistakes for a digest's.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from nudge.channels import load_channel
from nudge.channels.base import Outgoing
from nudge.channels.email import new_token
from nudge.config import Settings
from nudge.errors import DeliveryError, UserError


def send(settings: Settings, subject: str, text: str, data: Mapping[str, Any], now: datetime) -> list[str]:
    """Deliver the report to every channel of `settings`; where it went. UserError if it reached none."""
    local = now.astimezone(settings.tz)
    monday = local.date() - timedelta(days=local.weekday())
    sender = settings.sender
    domain = sender.rpartition("@")[2] or "localhost"
    outgoing = Outgoing(
        day=monday,
        message_id=f"<nudge.team.{monday}.{new_token()}@{domain}>",
        subject=subject,
        text=text,
        html=f"<!doctype html><html><body><pre>{html.escape(text)}</pre></body></html>",
        sender=sender,
        recipient=settings.recipient or sender,
        when=local,
        data=data,
    )
    wheres: list[str] = []
    failures: list[str] = []
    for entry in settings.delivery:
        channel = load_channel(entry)
        try:
            channel.open()
            wheres.append(channel.send(outgoing))
        except DeliveryError as e:  # DeliveryUnknown too: it may have arrived, so it is not retried
            failures.append(f"{channel.where}: {e}")
        finally:
            channel.close()
    if not wheres:
        raise UserError("the team report reached no channel: " + "; ".join(failures or ["none configured"]))
    return wheres + [f"not {f}" for f in failures]
