"""A way out and back in: the JSON backup of everything the user owns, vCard 4.0 and Google CSV.

The JSON backup holds every table the user's work lives in (`EXPORTED`), row by
row with their ids, in a fixed order with sorted keys, so exporting a restored
store gives the same bytes. What nudge can read again from the sources
(`DERIVED`) is left out: after `nudge import`, the first `nudge sync` brings it
back and finds the restored contacts by their addresses and phones. A test
fails when a table is in neither list, so a new table is one line here.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any, TextIO

import sqlalchemy as sa
from pydantic import TypeAdapter, ValidationError, create_model
from sqlmodel import Session, SQLModel, col, func, select

from nudge.errors import UserError
from nudge.store.dialect import reset_ids
from nudge.store.migrations import MIGRATIONS
from nudge.store.models import (
    Contact,
    Delivery,
    DigestRun,
    FollowUp,
    GroupMember,
    Identity,
    MailAddress,
    Merge,
    Moment,
    Note,
    Planned,
    Referral,
    Reply,
    Sighting,
    SourceRecord,
    Suggestion,
    SyncState,
    Touch,
    User,
    UserAction,
    UTCDateTime,
)

FORMAT = "nudge-backup"
FORMATS = ("json", "vcard", "csv")

# Every table the user's work lives in: contacts (with their tier, where it came from, snooze and
# cadence), identities, touches (origin, outcome, note), notes, job changes and other moments, the
# referral ledger, the digest history (days, deliveries, suggestions, replies), the undo journal, merges.
EXPORTED: tuple[type[SQLModel], ...] = (
    Contact,
    Identity,
    Touch,
    Note,
    Moment,
    Referral,
    DigestRun,
    Delivery,
    Suggestion,
    Reply,
    UserAction,
    Merge,
    FollowUp,
    MailAddress,
)

# Tables nudge fills again from the sources on the next sync, and why they are not in the backup.
DERIVED: dict[type[SQLModel], str] = {
    SourceRecord: "the cards and events read from each source: read again by the next sync",
    GroupMember: "who each group card lists: read again with the group cards",
    SyncState: "each collection's sync token: a first sync after import lists everything",
    Planned: "meetings ahead, from the calendars: read again by the next sync",
    Sighting: "meetings and mail with addresses in no address book: read again from the sources",
}

# Not one user's: a backup is one user's rows, without owner_id, imported as the store's bound user.
STORE_WIDE: dict[type[SQLModel], str] = {User: "the store's users: a backup is one user's rows"}
OWNER_COLUMN = "owner_id"


def schema_version() -> str:
    """The backup's version: the store's newest migration, which fixes every table's columns."""
    return MIGRATIONS[-1][0]


def _table(model: type[SQLModel]) -> str:
    return str(model.__tablename__)


def _time(value: datetime | None) -> str | None:
    """A stored time (UTC, from `UTCDateTime`) as JSON: ISO with a Z."""
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _rows(session: Session, model: type[SQLModel]) -> Iterator[str]:
    """Each of the user's rows of `model` by id as one line of JSON, keys sorted; read in batches."""
    columns = sorted((c for c in sa.inspect(model).columns if c.name != OWNER_COLUMN), key=lambda c: c.name)
    convert: list[Callable[[Any], Any] | None] = [
        _time if isinstance(c.type, UTCDateTime) else _day if isinstance(c.type, sa.Date) else None
        for c in columns
    ]
    names = [c.name for c in columns]
    encode = json.JSONEncoder(ensure_ascii=False).encode
    query = sa.select(*(getattr(model, c.name) for c in columns)).order_by(model.id)  # type: ignore[attr-defined]
    for row in session.execute(query, execution_options={"yield_per": 2000}):
        values = [f(v) if f else v for f, v in zip(convert, row, strict=True)]
        yield encode(dict(zip(names, values, strict=True)))


def write_json(session: Session, out: TextIO) -> None:
    """The whole backup, written as it is read: tables in a fixed order, rows by id, one a line.

    Rows are streamed from the database, so memory stays flat however many touches there are.
    """
    head = {"format": FORMAT, "schema_version": schema_version()}
    out.write("{\n" + "".join(f"{json.dumps(k)}: {json.dumps(v)},\n" for k, v in head.items()))
    out.write('"tables": {')
    for n, model in enumerate(EXPORTED):
        out.write(("\n" if n == 0 else ",\n") + f"{json.dumps(_table(model))}: [")
        wrote = False
        for line in _rows(session, model):
            out.write((",\n" if wrote else "\n") + line)
            wrote = True
        out.write("\n]" if wrote else "]")
    out.write("\n}\n}\n")


def export_json(session: Session) -> str:
    """The whole backup as text (see `write_json`)."""
    buffer = io.StringIO()
    write_json(session, buffer)
    return buffer.getvalue()


def _read_backup(text: str, name: str) -> dict[str, list[Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{name} is not a nudge backup: line {e.lineno}: {e.msg}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("tables"), dict):
        raise UserError(f"{name} is not a nudge backup (made by `nudge export --format json`)")
    version = data.get("schema_version")
    known = [migration for migration, _ in MIGRATIONS]
    if version not in known:
        raise UserError(
            f"{name} has schema_version {version!r}, which this nudge does not know (it knows up to "
            f"{known[-1]}); a newer nudge made it: upgrade nudge, then import"
        )
    tables: dict[str, list[Any]] = data["tables"]
    mine = {_table(model) for model in EXPORTED}
    for table, rows in tables.items():
        if table not in mine or not isinstance(rows, list):
            raise UserError(f"{name}: table {table!r} is not one a nudge backup holds")
    return tables


def rows_in_store(session: Session) -> dict[str, int]:
    """The tables that hold rows, with their counts (an import wants none)."""
    counts: dict[str, int] = {}
    for model in (*EXPORTED, *DERIVED):
        n = session.exec(select(func.count()).select_from(model)).one()
        if n:
            counts[_table(model)] = int(n)
    return counts


def import_json(session: Session, text: str, name: str) -> dict[str, int]:
    """Restore a backup into an empty store, in the caller's transaction; rows per table."""
    tables = _read_backup(text, name)
    held = rows_in_store(session)
    if held:
        what = ", ".join(f"{n} {table}" for table, n in sorted(held.items()))
        raise UserError(
            f"nudge import restores into an empty store, and this one holds rows ({what}); "
            "point database_url at a new file, import, then run `nudge sync`"
        )
    models = {_table(model): model for model in EXPORTED}
    done: dict[str, int] = {}
    for table in SQLModel.metadata.sorted_tables:  # parents before the rows that refer to them
        model = models.get(table.name)
        rows = tables.get(table.name, []) if model else []
        if not model or not rows:
            continue
        values = []
        reader = _reader(model)
        for i, row in enumerate(rows, 1):
            try:
                value = reader.validate_python(row).__dict__
                value.pop(OWNER_COLUMN, None)  # the rows are the importing user's
                values.append(value)
            except ValidationError as e:
                err = e.errors()[0]
                field = ".".join(str(part) for part in err["loc"]) or "the row"
                raise UserError(f"{name}: {table.name} row {i}: {field}: {err['msg']}") from None
        try:
            for start in range(0, len(values), 2000):
                session.execute(sa.insert(model), values[start : start + 2000])
        except sa.exc.IntegrityError as e:
            first = str(e.orig).splitlines()[0]
            raise UserError(
                f"{name}: the {table.name} rows do not fit the rest of the backup ({first}); "
                "the file was changed or cut short: restore another backup"
            ) from None
        done[table.name] = len(rows)
        _advance_sequence(session, table)
    return done


def _reader(model: type[SQLModel]) -> TypeAdapter[Any]:
    """A plain pydantic model with `model`'s fields: the same checks and defaults, without the ORM.

    Validating table models themselves costs about 0.4 ms a row, through their instrumented attributes.
    """
    fields: dict[str, Any] = {
        name: (info.annotation, ... if info.is_required() else info.default)
        for name, info in model.model_fields.items()
    }
    return TypeAdapter(create_model(f"{model.__name__}Row", **fields))


def _advance_sequence(session: Session, table: sa.Table) -> None:
    """Rows came in with their ids: a PostgreSQL sequence must start after them (SQLite needs nothing)."""
    reset_ids(session.connection(), table)


# --- for other tools: vCard 4.0 and Google CSV ----------------------------------------------------

_NAMESPACE = uuid.UUID("5b0d1c59-0f4e-4c53-9a55-5a8b7f1d3e21")


class Person:
    """One live contact as the exports for other tools see it."""

    def __init__(self, contact: Contact) -> None:
        self.contact = contact
        self.emails: list[str] = []
        self.phones: list[str] = []
        self.notes: list[str] = []

    @property
    def uid(self) -> str:
        """Stable across exports of the same store, so a re-import updates instead of duplicating."""
        return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'nudge-contact-{self.contact.id}')}"

    @property
    def given_family(self) -> tuple[str, str]:
        """nudge keeps one name: its last word is taken as the family name."""
        words = self.contact.name.split()
        if len(words) < 2:
            return (words[0] if words else "", "")
        return " ".join(words[:-1]), words[-1]


def people(session: Session) -> list[Person]:
    """The live contacts with their addresses, phones and notes, by id."""
    found = {
        c.id: Person(c)
        for c in session.exec(
            select(Contact).where(col(Contact.archived_at).is_(None)).order_by(col(Contact.id))
        )
    }
    by_kind: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for ident in session.exec(select(Identity).order_by(col(Identity.id))):
        by_kind[ident.kind][ident.contact_id].append(ident.value)
    for cid, person in found.items():
        assert cid is not None
        person.emails = by_kind["email"].get(cid, [])
        person.phones = by_kind["phone"].get(cid, [])
    for note in session.exec(select(Note).order_by(col(Note.at), col(Note.id))):
        if note.contact_id in found:
            found[note.contact_id].notes.append(note.text)
    return list(found.values())


def label_of(tier: str | None, labels: Mapping[str, str]) -> list[str]:
    """The tier as the user's address book names it (its first configured group), for other tools."""
    return [labels.get(tier, tier)] if tier else []


def export_vcard(session: Session, labels: Mapping[str, str]) -> str:
    """vCard 4.0 (RFC 6350), one card per live contact; the tier is a CATEGORIES value."""
    import vobject

    out = []
    for person in people(session):
        c = person.contact
        card = vobject.vCard()
        card.add("version").value = "4.0"
        card.add("uid").value = person.uid
        card.add("fn").value = c.name
        given, family = person.given_family
        card.add("n").value = vobject.vcard.Name(family=family, given=given)
        for email in person.emails:
            card.add("email").value = email
        for phone in person.phones:
            tel = card.add("tel")
            tel.value = f"tel:{phone}" if phone.startswith("+") else phone
            if phone.startswith("+"):
                tel.params["VALUE"] = ["uri"]
        if c.org:
            card.add("org").value = [c.org]
        if c.title:
            card.add("title").value = c.title
        if c.birthday:
            card.add("bday").value = c.birthday
        if c.tier:
            card.add("categories").value = label_of(c.tier, labels)
        if person.notes:
            card.add("note").value = "\n".join(person.notes)
        out.append(card.serialize())
    return "".join(out)


# The header of Google Contacts' current CSV export ("Google CSV"), as tests/data/exports/google-csv/ has it.
GOOGLE_HEADER = [
    "First Name",
    "Middle Name",
    "Last Name",
    "Phonetic First Name",
    "Phonetic Middle Name",
    "Phonetic Last Name",
    "Name Prefix",
    "Name Suffix",
    "Nickname",
    "File As",
    "Organization Name",
    "Organization Title",
    "Organization Department",
    "Birthday",
    "Notes",
    "Photo",
    "Labels",
    "E-mail 1 - Label",
    "E-mail 1 - Value",
    "E-mail 2 - Label",
    "E-mail 2 - Value",
    "Phone 1 - Label",
    "Phone 1 - Value",
    "Phone 2 - Label",
    "Phone 2 - Value",
    "Address 1 - Label",
    "Address 1 - Formatted",
    "Address 1 - Street",
    "Address 1 - City",
    "Address 1 - PO Box",
    "Address 1 - Region",
    "Address 1 - Postal Code",
    "Address 1 - Country",
    "Address 1 - Extended Address",
    "Website 1 - Label",
    "Website 1 - Value",
    "Event 1 - Label",
    "Event 1 - Value",
]
_SEPARATOR = " ::: "  # Google's separator between the values of one cell


def export_csv(session: Session, labels: Mapping[str, str]) -> str:
    """Google Contacts CSV: UTF-8 with a BOM, LF, minimal quoting; the tier is a label.

    The header is fixed: a first and a second e-mail and phone column, further values
    joined into the second with ` ::: `, as Google does for values that share a label.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(GOOGLE_HEADER)
    for person in people(session):
        c = person.contact
        given, family = person.given_family
        row = dict.fromkeys(GOOGLE_HEADER, "")
        row.update(
            {
                "First Name": given,
                "Last Name": family,
                "Organization Name": c.org or "",
                "Organization Title": c.title or "",
                "Birthday": c.birthday or "",
                "Notes": "\n".join(person.notes),
                "Labels": _SEPARATOR.join([*label_of(c.tier, labels), "* myContacts"]),
            }
        )
        for kind, values in (("E-mail", person.emails), ("Phone", person.phones)):
            if values:
                row[f"{kind} 1 - Label"] = "* "
                row[f"{kind} 1 - Value"] = values[0]
            if len(values) > 1:
                row[f"{kind} 2 - Value"] = _SEPARATOR.join(values[1:])
        writer.writerow(row.values())
    return "\ufeff" + buffer.getvalue()


def write(session: Session, fmt: str, labels: Mapping[str, str], out: TextIO) -> None:
    """The store in `fmt` onto `out`; `labels` names each tier as the address books do (tier -> group)."""
    if fmt == "json":
        write_json(session, out)
    elif fmt == "vcard":
        out.write(export_vcard(session, labels))
    elif fmt == "csv":
        out.write(export_csv(session, labels))
    else:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
