"""Who is one person: two contacts put together (`nudge merge`) and taken apart again (`nudge split`),
and someone met or mailed who is in no address book made a contact (`nudge add`).

A merge moves everything of the other contact onto the kept one (identities, cards,
touches, notes, referrals, moments, planned meetings, suggestions, the journal) and
deletes the other row; a `Merge` row remembers what moved, so that sync keeps the
two one (`ingest.contacts` looks its cards and name up there) and a split or an
undo can put each thing back where it was.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from nudge.config import Settings
from nudge.core.identity import fold, normalise_phone, phone_as_typed
from nudge.errors import UserError
from nudge.ingest.tiers import precedence
from nudge.store import journal
from nudge.store.derived import refresh_contacts
from nudge.store.models import (
    TABLES,
    Contact,
    Identity,
    Merge,
    Planned,
    Sighting,
    SourceRecord,
    Suggestion,
    Touch,
    UserAction,
)

# Rows unique per contact and something else: the kept contact's row wins a clash.
_UNIQUE: dict[type[SQLModel], str] = {Touch: "external_id", Planned: "external_id", Suggestion: "digest_date"}
# Rows that simply change hands: every other table with a contact (a new table is found by itself).
_MOVED: tuple[type[SQLModel], ...] = tuple(
    m
    for m in TABLES
    if m is not Contact and m not in _UNIQUE and "contact_id" in m.__table__.c  # type: ignore[attr-defined]
)
# What the kept contact's row may take from the other: restored by a split.
_FIELDS = (
    *("org", "title", "birthday", "tier", "tier_source", "tier_since"),
    *("cadence_days", "snoozed_until", "archived_at", "created_at"),
)


def card_keys(source: str, href: str, uid: str) -> list[str]:
    """How a card of the absorbed contact is remembered: by its href, and by its UID if it has one."""
    return [f"{source}\thref:{href}"] + ([f"{source}\tuid:{uid}"] if uid else [])


def _ids(session: Session, model: type[SQLModel], contact_id: int) -> list[int]:
    return list(session.exec(select(model.id).where(model.contact_id == contact_id)))  # type: ignore[attr-defined]


def _stronger_tier(settings: Settings, keep: Contact, other: Contact) -> Contact:
    """Whose tier the merged person keeps: one set by hand, else the one followed first (partner, shorter)."""
    if (keep.tier_source == "cli") != (other.tier_source == "cli"):
        return keep if keep.tier_source == "cli" else other
    if not other.tier or other.tier == keep.tier:
        return keep
    if not keep.tier:
        return other
    order = precedence(settings.tiers)
    rank = {name: i for i, name in enumerate(order)}
    return other if rank.get(other.tier, len(order)) < rank.get(keep.tier, len(order)) else keep


def merge(
    session: Session,
    settings: Settings,
    keep: Contact,
    other: Contact,
    now: datetime,
    via: str = "cli",
    merge_id: int | None = None,
    record: bool = True,
) -> Merge:
    """Put `other` into `keep` (whose name stays), remembered and journaled for `undo`."""
    if keep.id is None or other.id is None:
        raise ValueError("both contacts must be stored")
    if keep.id == other.id:
        raise UserError(f"{keep.name} (#{keep.id}) is one contact already: name two different ones")
    kid, oid = keep.id, other.id
    cards = session.exec(
        select(SourceRecord.source, SourceRecord.href, SourceRecord.uid).where(SourceRecord.contact_id == oid)
    ).all()
    absorbed: dict[str, Any] = {
        "contact": other.model_dump(mode="json"),
        "kept": {f: _json(getattr(keep, f)) for f in _FIELDS},
        "moved": {m.__tablename__: _ids(session, m, oid) for m in (*_MOVED, *_UNIQUE)},
        "dropped": [],  # rows of `other` that clashed with the kept contact's: put back by a split
        "took": {},  # touch id -> its note and outcome before it took those of a dropped twin
    }
    for model, column in _UNIQUE.items():
        _hand_over(session, model, column, kid, oid, absorbed)
    for model in _MOVED:
        session.execute(sa.update(model).where(model.contact_id == oid).values(contact_id=kid))  # type: ignore[attr-defined]
    winner = _stronger_tier(settings, keep, other)
    keep.tier, keep.tier_source, keep.tier_since = winner.tier, winner.tier_source, winner.tier_since
    keep.org, keep.title = keep.org or other.org, keep.title or other.title
    keep.birthday = keep.birthday or other.birthday
    keep.cadence_days = keep.cadence_days or other.cadence_days
    snoozes = [d for d in (keep.snoozed_until, other.snoozed_until) if d is not None]
    keep.snoozed_until = max(snoozes) if snoozes else None
    # Archived only if both were: a live card of either keeps the person live.
    if keep.archived_at is None or other.archived_at is None:
        keep.archived_at = None
    starts = [t for t in (keep.created_at, other.created_at) if t is not None]
    keep.created_at = min(starts) if starts else None
    session.add(keep)
    session.flush()
    session.delete(other)
    session.flush()
    row = Merge(
        id=merge_id,
        contact_id=kid,
        absorbed_id=oid,
        at=now,
        name=fold(other.name),
        cards="\n".join(key for c in cards for key in card_keys(*c)),
        absorbed=json.dumps(absorbed, sort_keys=True),
    )
    session.add(row)
    session.flush()
    refresh_contacts(session, [kid], now, settings.touches.half_life_days)
    if record:
        summary = f"merged {other.name} (#{oid}) into {keep.name} (#{kid})"
        journal.record(session, "merge", keep, now, summary, target=f"m{row.id}", via=via)
    return row


def _hand_over(
    session: Session, model: type[SQLModel], column: str, kid: int, oid: int, absorbed: dict[str, Any]
) -> None:
    """Move `other`'s rows of a table unique per contact; one that clashes with the kept one's is dropped.

    A dropped touch passes its note and outcome to its twin if the twin has none.
    """
    mine = {getattr(r, column): r for r in session.exec(select(model).where(model.contact_id == kid))}  # type: ignore[attr-defined]
    for row in list(session.exec(select(model).where(model.contact_id == oid))):  # type: ignore[attr-defined]
        twin = mine.get(getattr(row, column))
        if twin is None:
            continue
        if (
            isinstance(row, Touch)
            and isinstance(twin, Touch)
            and row.has_user_data
            and not twin.has_user_data
        ):
            absorbed["took"][str(twin.id)] = {"note": twin.note, "outcome": twin.outcome}
            twin.note, twin.outcome = row.note, row.outcome
            session.add(twin)
        absorbed["dropped"].append([model.__tablename__, row.model_dump(mode="json")])
        session.delete(row)
    session.flush()
    session.execute(sa.update(model).where(model.contact_id == oid).values(contact_id=kid))  # type: ignore[attr-defined]


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _restore_field(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "snoozed_until":
        return date.fromisoformat(value)
    if name in ("tier_since", "archived_at", "created_at"):
        return datetime.fromisoformat(value)
    return value


_TABLES: dict[str, type[SQLModel]] = {str(m.__tablename__): m for m in (*_MOVED, *_UNIQUE)}


def unmerge(session: Session, settings: Settings, row: Merge, now: datetime) -> Contact:
    """Take a merge apart: the other contact back (under its old id if free), with what it brought."""
    data: dict[str, Any] = json.loads(row.absorbed)
    fields = dict(data["contact"])
    if session.get(Contact, fields["id"]) is not None:
        del fields["id"]  # taken by a contact made since: it comes back under a new one
    other = Contact.model_validate(fields)
    session.add(other)
    session.flush()
    assert other.id is not None
    keep = session.get(Contact, row.contact_id)
    assert keep is not None
    for table, ids in data["moved"].items():
        model = _TABLES[table]
        back = [i for i in ids if not (table == "merge" and i == row.id)]
        if back:
            session.execute(
                sa.update(model)
                .where(model.id.in_(back), model.contact_id == keep.id)  # type: ignore[attr-defined]
                .values(contact_id=other.id)
            )
    for table, dumped in data["dropped"]:
        model = _TABLES[table]
        if session.get(model, dumped["id"]) is None:
            session.add(model.model_validate({**dumped, "contact_id": other.id}))
    for touch_id, before in data["took"].items():
        touch = session.get(Touch, int(touch_id))
        if touch is not None:
            touch.note, touch.outcome = before["note"], before["outcome"]
            session.add(touch)
    for name, value in data["kept"].items():
        setattr(keep, name, _restore_field(name, value))
    session.add(keep)
    session.delete(row)
    session.flush()
    refresh_contacts(session, [keep.id, other.id], now, settings.touches.half_life_days)  # type: ignore[list-item]
    return other


def identity_value(text: str, region: str) -> tuple[str, str]:
    """An address or a phone number as the user types it, as an `Identity` (kind, value)."""
    value = text.strip()
    if "@" in value:
        return "email", value.lower()
    return "phone", normalise_phone(value, region) or phone_as_typed(value)


def split(
    session: Session, settings: Settings, contact: Contact, identity: str, now: datetime, via: str = "cli"
) -> Contact:
    """Take the contact merged in with `identity` back out (with its cards and entries), journaled."""
    kind, value = identity_value(identity, settings.me.region)
    owner = session.exec(select(Identity).where(Identity.kind == kind, Identity.value == value)).first()
    if owner is None or owner.contact_id != contact.id:
        raise UserError(
            f"{contact.name} (#{contact.id}) has no {kind} {identity!r}; `nudge show` lists theirs"
        )
    merges = session.exec(
        select(Merge).where(Merge.contact_id == contact.id).order_by(col(Merge.id).desc())
    ).all()
    for row in merges:
        if owner.id in json.loads(row.absorbed)["moved"].get("identity", []):
            break
    else:
        raise UserError(
            f"{identity} came to {contact.name} from their own cards, not from `nudge merge`: "
            "nudge can only split what was merged; change the card at its source instead"
        )
    merge_id = row.id
    other = unmerge(session, settings, row, now)
    assert other.id is not None and contact.id is not None
    journal.record(
        session,
        "split",
        contact,
        now,
        f"split {other.name} (#{other.id}, {identity}) out of {contact.name} (#{contact.id})",
        target=f"m{merge_id}",
        before={"merge_id": merge_id, "other": other.id},
        via=via,
    )
    return other


def add(
    session: Session,
    settings: Settings,
    email: str,
    now: datetime,
    name: str = "",
    tier: str | None = None,
    via: str = "cli",
) -> tuple[Contact, int]:
    """A contact for an address in no address book; its sightings become touches. Journaled.

    Returns the contact and how many touches its sightings gave.
    """
    kind, value = identity_value(email, settings.me.region)
    if kind != "email" or "@" not in value.strip("@"):
        raise UserError(f"{email!r} is not an e-mail address")
    if value in settings.me.emails:
        raise UserError(f"{value} is one of your own addresses (me.emails)")
    owner = session.exec(
        select(Identity.contact_id).where(Identity.kind == "email", Identity.value == value)
    ).first()
    if owner is not None:
        raise UserError(f"{value} is already a contact's (#{owner}): `nudge show {value}`")
    if tier is not None and tier not in settings.tiers:
        raise UserError(f"unknown tier {tier!r}; configured: {', '.join(settings.tiers)}")
    contact = Contact(name=name.strip() or value, created_at=now, warmth_at=now)
    if tier is not None:
        contact.tier, contact.tier_source, contact.tier_since = tier, "cli", now
    session.add(contact)
    session.flush()
    assert contact.id is not None
    session.add(Identity(contact_id=contact.id, kind="email", value=value))
    sightings = list(session.exec(select(Sighting).where(Sighting.email == value).order_by(col(Sighting.at))))
    seen: set[str] = set()
    for s in sightings:
        if s.external_id not in seen:
            seen.add(s.external_id)
            session.add(
                Touch(
                    contact_id=contact.id,
                    kind=s.kind,
                    source=s.source,
                    external_id=s.external_id,
                    at=s.at,
                    weight=s.weight,
                    direction=s.direction,
                    summary=s.summary,
                    created_at=now,
                )
            )
        session.delete(s)
    session.flush()
    refresh_contacts(session, [contact.id], now, settings.touches.half_life_days)
    summary = f"added {contact.name} ({value})" + (f" to {tier}" if tier else "")
    before = {"sightings": [s.model_dump(mode="json") for s in sightings]}
    journal.record(session, "add", contact, now, summary, target=f"c{contact.id}", before=before, via=via)
    return contact, len(seen)


def _unadd(session: Session, action: UserAction, now: datetime) -> None:
    """Undo `nudge add`: what was seen with the address is a sighting again, and the contact is
    archived without its address and touches (the journal still names it, so the row stays)."""
    before: dict[str, Any] = json.loads(action.before or "{}")
    for model in (Touch, Planned, Identity):
        session.execute(sa.delete(model).where(col(model.contact_id) == action.contact_id))
    session.flush()
    for row in before.get("sightings", []):
        if session.get(Sighting, row["id"]) is None:
            session.add(Sighting.model_validate(row))
    contact = session.get(Contact, action.contact_id)
    if contact is not None:
        contact.archived_at, contact.tier = now, None
        session.add(contact)


def reverse(session: Session, settings: Settings, action: UserAction, now: datetime) -> None:
    """`nudge undo` of a merge (split it), a split (merge again, under the same merge id), an add."""
    if action.kind == "add":
        _unadd(session, action, now)
        return
    if action.kind == "merge":
        row = session.get(Merge, int(action.target[1:]))
        if row is not None:
            unmerge(session, settings, row, now)
        return
    before: dict[str, Any] = json.loads(action.before or "{}")
    keep = session.get(Contact, action.contact_id)
    other = session.get(Contact, before.get("other"))
    if keep is not None and other is not None:
        merge(session, settings, keep, other, now, merge_id=before.get("merge_id"), record=False)
