"""`nudge demo`: the whole daily loop on bundled sample data, with no config.

It writes a config for a throwaway folder, syncs two snapshots of a sample
address book (so job changes show) and a year of calendar, logs a few calls
and referrals the way a user would, then delivers the digest to a Maildir.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from nudge import actions, config, service
from nudge.demo.data import ME_EMAIL, write_demo_data
from nudge.store.db import atomic
from nudge.store.models import Contact, Moment

NOTES = (
    "call: new job at the hospital group, wants an intro to a CFO",
    "call: moving to Lisbon in the spring, asked about schools",
    "message: their startup closed a seed round",
    "call: training for a marathon in October",
    "call: looking for a designer for the new website",
)


@dataclass(frozen=True)
class DemoResult:
    text: str
    maildir: Path
    path: str
    config: Path


def _config_text(root: Path, tz: str) -> str:
    return f"""\
timezone = "{tz}"
database_url = "sqlite:///{root / "nudge.db"}"
maildir = "{root / "Maildir"}"

[me]
name = "You"
emails = ["{ME_EMAIL}"]

[digest]
to = "{ME_EMAIL}"
workdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

[[sources]]
type = "files"
name = "demo"
paths = ["{root / "contacts.vcf"}", "{root / "calendar.ics"}"]
"""


def run(directory: Path | None, now: datetime) -> DemoResult:
    root = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="nudge-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    tz = config.local_zone()
    files = write_demo_data(root / "sample", now.astimezone(tz).date(), tz)
    cfg_path = root / "config.toml"
    cfg_path.write_text(_config_text(root, tz.key), encoding="utf-8")
    cfg_path.chmod(0o600)
    settings = config.load(cfg_path)
    engine = service.open_store(settings)

    # The address book as it was a month ago, then as it is now: four people changed jobs.
    shutil.copyfile(files.contacts_before, root / "contacts.vcf")
    shutil.copyfile(files.calendar, root / "calendar.ics")
    service.sync_all(engine, settings, now - timedelta(days=30))
    shutil.copyfile(files.contacts_after, root / "contacts.vcf")
    service.sync_all(engine, settings, now)
    _log_history(settings, engine, now)

    result = service.send_digest(engine, settings, now, force=True)
    return DemoResult(result.text, settings.maildir_path, result.where, cfg_path)


def _log_history(settings: config.Settings, engine: Engine, now: datetime) -> None:
    """A few calls with notes and a referral ledger, as a user would have logged them."""
    with atomic(engine) as s:
        tiered = list(s.exec(select(Contact).where(col(Contact.tier).is_not(None)).order_by(col(Contact.id))))
        # Notes on the people with a moment, so the digest shows "last note" prompts.
        moments = set(s.exec(select(Moment.contact_id)))
        noted = [c for c in tiered if c.id in moments or c.birthday] or tiered
        for i, note in enumerate(NOTES):
            contact = noted[i % len(noted)]
            kind, text = actions.split_note(note)
            when = now - timedelta(days=34 + 6 * i)
            if contact.last_touch_at is None or contact.last_touch_at < when:
                actions.log_touch(s, settings, contact, now, kind, text, at=when)
        partners = [c for c in tiered if c.tier == "partner"]
        for i, partner in enumerate(partners[:4]):
            actions.add_referral(
                s,
                partner,
                "received",
                "a client looking for help with pricing",
                "",
                now - timedelta(days=60 + 9 * i),
            )
            if i % 2:
                actions.add_referral(
                    s,
                    partner,
                    "given",
                    "intro to a CFO who needs an audit",
                    "",
                    now - timedelta(days=40 + 5 * i),
                )
