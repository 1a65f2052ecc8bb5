"""Named, ordered schema migrations, each in its own transaction, recorded in a table.

Never edit a migration that has shipped: add a new one. A database is only ever
moved forward, and upgrading never drops user data.

One piece (over 400 lines): the migrations are one ordered list, read top to bottom;
splitting them would hide their order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from nudge.store import dialect

log = logging.getLogger(__name__)

Migration = tuple[str, Callable[[Connection], None]]

_TS = sa.DateTime


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer, primary_key=True)


def _fk(table: str, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(f"{table}_id", sa.Integer, sa.ForeignKey(f"{table}.id"), nullable=nullable)


def m0001_initial(conn: Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        "contact",
        md,
        _id(),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("org", sa.String),
        sa.Column("title", sa.String),
        sa.Column("birthday", sa.String),
        sa.Column("tier", sa.String, index=True),
        sa.Column("tier_source", sa.String),
        sa.Column("tier_since", _TS),
        sa.Column("cadence_days", sa.Integer),
        sa.Column("snoozed_until", sa.Date),
        sa.Column("archived_at", _TS),
        sa.Column("created_at", _TS),
        sa.Column("last_touch_at", _TS),
        sa.Column("warmth_sum", sa.Float, nullable=False),
        sa.Column("warmth_at", _TS),
    )
    sa.Table(
        "identity",
        md,
        _id(),
        _fk("contact"),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("value", sa.String, nullable=False),
        sa.UniqueConstraint("kind", "value"),
        sa.Index("ix_identity_contact_id", "contact_id"),
    )
    sa.Table(
        "sourcerecord",
        md,
        _id(),
        sa.Column("source", sa.String, nullable=False),
        sa.Column("collection", sa.String, nullable=False),
        sa.Column("href", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("uid", sa.String, nullable=False),
        sa.Column("etag", sa.String, nullable=False),
        _fk("contact", nullable=True),
        sa.Column("org", sa.String),
        sa.Column("title", sa.String),
        sa.Column("raw_hash", sa.String, nullable=False),
        sa.Column("raw", sa.Text),
        sa.Column("recheck_at", _TS),
        sa.UniqueConstraint("source", "href"),
        sa.Index("ix_sourcerecord_contact_id", "contact_id"),
        sa.Index("ix_sourcerecord_recheck_at", "recheck_at"),
    )
    sa.Table(
        "syncstate",
        md,
        _id(),
        sa.Column("source", sa.String, nullable=False),
        sa.Column("collection", sa.String, nullable=False),
        sa.Column("token", sa.String),
        sa.Column("last_success_at", _TS),
        sa.Column("last_error", sa.String),
        sa.Column("last_error_at", _TS),
        sa.Column("last_summary", sa.String),
        sa.UniqueConstraint("source", "collection"),
    )
    sa.Table(
        "touch",
        md,
        _id(),
        _fk("contact"),
        sa.Column("at", _TS, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("direction", sa.String, nullable=False),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("source", sa.String, nullable=False),
        sa.Column("external_id", sa.String, index=True),
        sa.Column("note", sa.String),
        sa.Column("created_at", _TS),
        sa.UniqueConstraint("contact_id", "external_id"),
        sa.Index("ix_touch_contact_at", "contact_id", "at"),
    )
    sa.Table(
        "planned",
        md,
        _id(),
        _fk("contact"),
        sa.Column("source", sa.String, nullable=False),
        sa.Column("event_uid", sa.String, nullable=False, index=True),
        sa.Column("external_id", sa.String, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("summary", sa.String, nullable=False),
        sa.UniqueConstraint("contact_id", "external_id"),
        sa.Index("ix_planned_contact_id", "contact_id"),
    )
    sa.Table(
        "moment",
        md,
        _id(),
        _fk("contact"),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("detail", sa.String, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("seen_at", _TS),
        sa.Index("ix_moment_contact_id", "contact_id"),
    )
    sa.Table(
        "referral",
        md,
        _id(),
        _fk("contact"),
        sa.Column("direction", sa.String, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("note", sa.String, nullable=False),
        sa.Column("counterpart", sa.String, nullable=False),
        sa.Index("ix_referral_contact_id", "contact_id"),
    )
    sa.Table(
        "suggestion",
        md,
        _id(),
        sa.Column("digest_date", sa.Date, nullable=False, index=True),
        _fk("contact"),
        sa.Column("slot", sa.String, nullable=False),
        sa.Column("reason", sa.String, nullable=False),
        sa.Column("acted_at", _TS),
        sa.UniqueConstraint("digest_date", "contact_id"),
        sa.Index("ix_suggestion_contact_id", "contact_id"),
    )
    sa.Table(
        "digestrun",
        md,
        _id(),
        sa.Column("date", sa.Date, nullable=False, unique=True),
        sa.Column("state", sa.String, nullable=False),
        sa.Column("message_id", sa.String, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("sent_at", _TS),
        sa.Column("error", sa.String),
        sa.Column("updated_at", _TS),
    )
    md.create_all(conn)


def m0002_sightings_and_outcomes(conn: Connection) -> None:
    """Meetings with not-yet-known addresses; a touch's outcome and event title."""
    md = sa.MetaData()
    sa.Table(
        "sighting",
        md,
        _id(),
        sa.Column("email", sa.String, nullable=False, index=True),
        sa.Column("source", sa.String, nullable=False),
        sa.Column("event_uid", sa.String, nullable=False, index=True),
        sa.Column("external_id", sa.String, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("direction", sa.String, nullable=False),
        sa.Column("summary", sa.String, nullable=False),
        sa.UniqueConstraint("email", "external_id"),
    )
    md.create_all(conn)
    conn.execute(sa.text("ALTER TABLE touch ADD COLUMN outcome VARCHAR"))
    conn.execute(sa.text("ALTER TABLE touch ADD COLUMN summary VARCHAR"))


def m0003_record_format(conn: Connection) -> None:
    """Which parser a stored object needs when it is looked at again (iCalendar or Google JSON)."""
    conn.execute(sa.text("ALTER TABLE sourcerecord ADD COLUMN format VARCHAR NOT NULL DEFAULT ''"))


def m0004_notes_and_prompts(conn: Connection) -> None:
    """Notes without a touch; which curiosity prompt each suggestion carried."""
    md = sa.MetaData()
    sa.Table(
        "note",
        md,
        _id(),
        sa.Column("contact_id", sa.Integer, nullable=False, index=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("text", sa.String, nullable=False),
    )
    sa.Table("contact", md, sa.Column("id", sa.Integer, primary_key=True))
    md.tables["note"].append_constraint(sa.ForeignKeyConstraint(["contact_id"], ["contact.id"]))
    md.create_all(conn, tables=[md.tables["note"]])
    conn.execute(sa.text("ALTER TABLE suggestion ADD COLUMN prompt VARCHAR NOT NULL DEFAULT ''"))


def m0005_mail_and_replies(conn: Connection) -> None:
    """Email touches remembered for addresses not yet known; digest numbers; replies to digests."""
    conn.execute(sa.text("ALTER TABLE sighting ADD COLUMN kind VARCHAR NOT NULL DEFAULT 'meeting'"))
    conn.execute(sa.text("ALTER TABLE suggestion ADD COLUMN position INTEGER"))
    md = sa.MetaData()
    sa.Table(
        "reply",
        md,
        _id(),
        sa.Column("message_id", sa.String, nullable=False, unique=True),
        sa.Column("digest_date", sa.Date),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("state", sa.String, nullable=False),
        sa.Column("applied", sa.String, nullable=False),
        sa.Column("problems", sa.String, nullable=False),
        sa.Column("reported_on", sa.Date),
    )
    md.create_all(conn)


def m0006_group_tiers(conn: Connection) -> None:
    """Group cards as tier markers: each record's own tier, and who each group lists."""
    conn.execute(sa.text("ALTER TABLE sourcerecord ADD COLUMN tier VARCHAR"))
    md = sa.MetaData()
    sa.Table(
        "groupmember",
        md,
        _id(),
        sa.Column("source", sa.String, nullable=False),
        sa.Column("group_href", sa.String, nullable=False),
        sa.Column("member", sa.String, nullable=False),
        sa.UniqueConstraint("source", "group_href", "member"),
        sa.Index("ix_groupmember_source_member", "source", "member"),
    )
    md.create_all(conn)


def m0007_digest_claim(conn: Connection) -> None:
    """Who is sending a day, for stores without file locks (PostgreSQL): a lease on its DigestRun."""
    conn.execute(sa.text("ALTER TABLE digestrun ADD COLUMN claimed_by VARCHAR"))
    conn.execute(sa.text("ALTER TABLE digestrun ADD COLUMN claimed_until TIMESTAMP"))


def m0008_kept_meetings(conn: Connection) -> None:
    """Where a calendar touch the user kept came from; event records by UID (the same event elsewhere)."""
    conn.execute(sa.text("ALTER TABLE touch ADD COLUMN origin VARCHAR"))
    conn.execute(sa.text("CREATE INDEX ix_sourcerecord_uid ON sourcerecord (uid)"))


def m0009_first_sync_tiers(conn: Connection) -> None:
    """Tiers found at a source's first sync are as old as the person's history, not new that day.

    Before this, such a tier got `tier_since` = the time of that sync, so everyone looked like a
    newcomer. Those rows are the ones whose tier came from an address book in the very sync that
    created the contact (`tier_since` = `created_at`: both are that sync's clock), when that was
    the earliest sync that created any contact with a card in that source. A tier added later,
    or to a contact that came later, keeps its date.
    """
    conn.execute(
        sa.text(
            "UPDATE contact SET tier_since = NULL "
            "WHERE tier_source LIKE 'source:%' AND tier_since IS NOT NULL AND tier_since = created_at "
            "AND created_at = (SELECT MIN(other.created_at) FROM contact AS other "
            "JOIN sourcerecord AS card ON card.contact_id = other.id "
            "WHERE card.kind = 'contact' AND card.source = SUBSTR(contact.tier_source, 8))"
        )
    )


def m0010_user_actions(conn: Connection) -> None:
    """A journal of what the user changed by hand, for `nudge undo`."""
    md = sa.MetaData()
    sa.Table("contact", md, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "useraction",
        md,
        _id(),
        sa.Column("at", _TS, nullable=False),
        sa.Column("batch", sa.String, nullable=False, index=True),
        sa.Column("via", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        _fk("contact"),
        sa.Column("target", sa.String, nullable=False),
        sa.Column("before", sa.Text),
        sa.Column("summary", sa.String, nullable=False),
        sa.Column("undone_at", _TS),
        sa.Index("ix_useraction_contact_id", "contact_id"),
    )
    md.create_all(conn, tables=[md.tables["useraction"]])


def m0011_card_aliases(conn: Connection) -> None:
    """A contact card's other key in group cards (Apple's X-ABUID when a server set the UID).

    The cards of sources with group cards are read once more (their etags and sync tokens are
    forgotten), so that cards synced before this learn their alias and their groups' tiers.
    """
    conn.execute(sa.text("ALTER TABLE sourcerecord ADD COLUMN alias VARCHAR NOT NULL DEFAULT ''"))
    conn.execute(sa.text("CREATE INDEX ix_sourcerecord_alias ON sourcerecord (alias)"))
    grouped = "SELECT DISTINCT source FROM groupmember"
    conn.execute(
        sa.text(f"UPDATE sourcerecord SET etag = '' WHERE kind = 'contact' AND source IN ({grouped})")
    )
    conn.execute(sa.text(f"UPDATE syncstate SET token = NULL WHERE source IN ({grouped})"))


def m0012_unread_columns(conn: Connection) -> None:
    """Columns written but never read: a source record's raw hash, a sync state's last summary."""
    dialect.drop_column(conn, "sourcerecord", "raw_hash")
    dialect.drop_column(conn, "syncstate", "last_summary")


def m0013_channel_deliveries(conn: Connection) -> None:
    """Each channel's delivery of each day ([[channels]]): at most once per channel and day.

    Days sent before this have no rows: a channel without a row takes the day's
    own state (one channel was all there was).
    """
    md = sa.MetaData()
    sa.Table(
        "delivery",
        md,
        _id(),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("channel", sa.String, nullable=False),
        sa.Column("state", sa.String, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.String),
        sa.Column("where", sa.String, nullable=False),
        sa.Column("sent_at", _TS),
        sa.Column("updated_at", _TS),
        sa.UniqueConstraint("date", "channel"),
        sa.Index("ix_delivery_date", "date"),
    )
    md.create_all(conn)


def m0015_merges(conn: Connection) -> None:
    """Contacts the user merged (`nudge merge`), so the next sync does not split them again."""
    md = sa.MetaData()
    sa.Table("contact", md, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "merge",
        md,
        _id(),
        _fk("contact"),
        sa.Column("absorbed_id", sa.Integer, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("cards", sa.Text, nullable=False),
        sa.Column("absorbed", sa.Text, nullable=False),
        sa.Index("ix_merge_contact_id", "contact_id"),
    )
    md.create_all(conn, tables=[md.tables["merge"]])


def m0016_cadence_and_mail_addresses(conn: Connection) -> None:
    """Who set a contact's own cadence: `nudge cadence` ("cli") or an address book ("source:NAME");
    and each contact's addresses as mail showed them in use (job changes from mail).

    Mail read before this left no addresses; they fill in as mail comes, so no old mail is
    taken for news.
    """
    conn.execute(sa.text("ALTER TABLE contact ADD COLUMN cadence_source VARCHAR"))
    md = sa.MetaData()
    sa.Table("contact", md, _id())
    sa.Table(
        "mailaddress",
        md,
        _id(),
        _fk("contact"),
        sa.Column("address", sa.String, nullable=False),
        sa.Column("first_in_at", _TS),
        sa.Column("first_out_at", _TS),
        sa.UniqueConstraint("contact_id", "address"),
        sa.Index("ix_mailaddress_contact_id", "contact_id"),
    )
    md.tables["mailaddress"].create(conn)


def m0017_follow_ups(conn: Connection) -> None:
    """Dated follow-ups (`nudge follow-up`, `follow 3 fri` in a reply): a new table, nothing rewritten."""
    md = sa.MetaData()
    sa.Table(
        "followup",
        md,
        _id(),
        _fk("contact"),
        sa.Column("due", sa.Date, nullable=False),
        sa.Column("text", sa.String, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("done_at", _TS),
        sa.Column("how", sa.String, nullable=False),
        sa.Index("ix_followup_contact_id", "contact_id"),
        sa.Index("ix_followup_open", "done_at", "due"),
    )
    sa.Table("contact", md, sa.Column("id", sa.Integer, primary_key=True))
    md.create_all(conn, tables=[md.tables["followup"]])


def m0018_keys_in_byte_order(conn: Connection) -> None:
    """Event keys (`uid|start`) compare byte by byte on every store: they are matched by prefix.

    ingest.events finds an event's touches as the range `uid|` .. `uid}`, which holds
    only where '|' sorts before '}' (byte order). SQLite compares text that way; a
    PostgreSQL database usually has ICU's or libc's order, in which '}' comes first,
    so the range was empty and a synced event's touches were never found again.
    """
    dialect.byte_order(conn, "touch", "external_id")
    dialect.byte_order(conn, "planned", "external_id")


# Every table holding a user's data gets an owner (0019), parents first: a child's foreign key
# names its parent. The unique keys listed become per owner: two users of one store may sync the
# same calendar (event UIDs), the same address book and get replies with the same Message-IDs.
_OWNED = [
    "contact",
    "identity",
    "sourcerecord",
    "groupmember",
    "syncstate",
    "touch",
    "planned",
    "sighting",
    "mailaddress",
    "moment",
    "note",
    "referral",
    "suggestion",
    "digestrun",
    "delivery",
    "reply",
    "useraction",
    "followup",
    "merge",
]
_PER_OWNER = {
    "identity": ("kind", "value"),
    "sourcerecord": ("source", "href"),
    "groupmember": ("source", "group_href", "member"),
    "syncstate": ("source", "collection"),
    "sighting": ("email", "external_id"),
    "digestrun": ("date",),
    "delivery": ("date", "channel"),
    "reply": ("message_id",),
}


def m0019_owners(conn: Connection) -> None:
    """Users: every row belongs to one (`owner_id`), all existing rows to user 1, "me".

    A personal store stays a team of one and nothing changes for it. The unique keys above
    become per owner, `owner_id` last, so that they still serve the lookups they served
    (an identity by kind and value, a record by source and href). PostgreSQL does it with
    ALTER TABLE, and gives each owned table an index on `owner_id` (one user's rows: a
    removal, an export, the team's stats; its statistics keep the planner from it where a
    better index exists). SQLite gets none: it has no statistics unless ANALYZE is run, and
    without them it takes `owner_id = ?` for a selective key and scans a user's whole table
    instead of using the index on the column asked for. SQLite cannot add a column with a
    REFERENCES clause and a default while foreign keys are on, nor change a constraint, so
    there every owned table is rebuilt (`dialect.add_owner`), all in this one transaction.
    """
    md = sa.MetaData()
    users = sa.Table(
        "nudge_user",
        md,
        _id(),
        sa.Column("name", sa.String, nullable=False, unique=True),
        sa.Column("created_at", _TS),
        sa.Column("stats_opt_in", sa.Boolean, nullable=False),
    )
    users.create(conn)
    conn.execute(
        users.insert().values(
            id=1, name="me", created_at=datetime.now(UTC).replace(tzinfo=None), stats_opt_in=False
        )
    )
    dialect.reset_ids(conn, users)
    dialect.add_owner(conn, _OWNED, _PER_OWNER)
    if not dialect.is_sqlite(conn):
        for table in _OWNED:
            conn.execute(sa.text(f"CREATE INDEX ix_{table}_owner_id ON {_quoted(conn, table)} (owner_id)"))


def _quoted(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def m0020_sync_leases(conn: Connection) -> None:
    """Who syncs a team user's source now, until when, and when it was last synced (nudge/leases.py).

    One row per (user, source); the daemons of a team take it by compare-and-set. A
    user's rows go with the user (ON DELETE CASCADE).
    """
    md = sa.MetaData()
    sa.Table("nudge_user", md, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "synclease",
        md,
        _id(),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("nudge_user.id", ondelete="CASCADE"), nullable=False),
        sa.Column("source", sa.String, nullable=False),
        sa.Column("holder", sa.String, nullable=True),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("synced_at", _TS, nullable=True),
        sa.UniqueConstraint("owner_id", "source"),
    )
    md.tables["synclease"].create(conn)


MIGRATIONS: list[Migration] = [
    ("0001_initial", m0001_initial),
    ("0002_sightings_and_outcomes", m0002_sightings_and_outcomes),
    ("0003_record_format", m0003_record_format),
    ("0004_notes_and_prompts", m0004_notes_and_prompts),
    ("0005_mail_and_replies", m0005_mail_and_replies),
    ("0006_group_tiers", m0006_group_tiers),
    ("0007_digest_claim", m0007_digest_claim),
    ("0008_kept_meetings", m0008_kept_meetings),
    ("0009_first_sync_tiers", m0009_first_sync_tiers),
    ("0010_user_actions", m0010_user_actions),
    ("0011_card_aliases", m0011_card_aliases),
    ("0012_unread_columns", m0012_unread_columns),
    ("0013_channel_deliveries", m0013_channel_deliveries),
    ("0015_merges", m0015_merges),
    ("0016_cadence_and_mail_addresses", m0016_cadence_and_mail_addresses),
    ("0017_follow_ups", m0017_follow_ups),
    ("0018_keys_in_byte_order", m0018_keys_in_byte_order),
    ("0019_owners", m0019_owners),
    ("0020_sync_leases", m0020_sync_leases),
]

_applied = sa.Table(
    "nudge_migrations",
    sa.MetaData(),
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)


def applied(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("nudge_migrations"):
            return []
        return list(conn.execute(sa.select(_applied.c.name).order_by(_applied.c.name)).scalars())


def pending(engine: Engine, upto: str | None = None) -> list[Migration]:
    done = set(applied(engine))
    todo = []
    for name, fn in MIGRATIONS:
        if name not in done:
            todo.append((name, fn))
        if name == upto:
            break
    return todo


def migrate(engine: Engine, upto: str | None = None) -> list[str]:
    """Apply what is missing, in order; `upto` stops after the named migration."""
    _applied.create(engine, checkfirst=True)
    names = []
    for name, fn in pending(engine, upto):
        with engine.begin() as conn:
            log.info("applying migration %s", name)
            fn(conn)
            conn.execute(
                _applied.insert().values(name=name, applied_at=datetime.now(UTC).replace(tzinfo=None))
            )
        names.append(name)
    return names
