"""Users of one store, and whose rows an engine reads and writes.

Every row of a user's data carries `owner_id` (models.Owned). Which user a piece of
code works for is a property of the engine it is given, not of its call signatures:
`as_owner(engine, n)` is an engine sharing `engine`'s connection pool that reads and
writes user n's rows only, and every Session or connection made from it does the same.
An engine bound to no owner is the personal install's, `PERSONAL` (user 1), unless it
is marked a team engine (`team_engine`): then any statement on a user's table raises
`NoOwner`, so a forgotten owner fails instead of reading or writing someone's rows.

Two listeners do it: `_filter` (do_orm_execute) adds `owner_id = n` to every ORM
SELECT, UPDATE and DELETE; `_stamp_inserts` (the engine's before_execute) gives every
INSERT into a user's table the owner, and refuses (`Unfiltered`) any other statement
on one that did not come through `_filter`. SQL text is the store's own (migrations,
dialect.py); `every_owner(engine)` sees the whole store, for `migrate-store` only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.util import find_tables
from sqlmodel import Session, SQLModel, col, select

from nudge.errors import UserError
from nudge.store import dialect
from nudge.store.models import OWNED, PERSONAL, Owned, User

__all__ = [
    "ALL",
    "OWNER",
    "PERSONAL",
    "TEAM",
    "NoOwner",
    "Unfiltered",
    "add_user",
    "as_owner",
    "every_owner",
    "install",
    "owner_of",
    "remove_user",
    "team_engine",
    "user_id",
    "users",
]

OWNER = dialect.OWNER  # execution option: the user whose rows this engine or connection reads and writes
TEAM = dialect.TEAM  # execution option: an engine of many users, which has no default owner
ALL = dialect.ALL  # execution option: the whole store, every user's rows as they are (copy, migrate)
FILTERED = "nudge_filtered"  # execution option `_filter` leaves: this statement is the owner's alone
_OWNED_TABLES = frozenset(model.__table__.name for model in OWNED)  # type: ignore[attr-defined]


class NoOwner(RuntimeError):
    """A statement on a user's table through a team engine bound to no user: a bug, never a leak."""


class Unfiltered(RuntimeError):
    """A statement on a user's table that went past the owner filter (Core, or an ORM one on a
    Connection): it could read or change another user's rows, so it is refused. A bug."""


def as_owner(engine: Engine, owner_id: int) -> Engine:
    """`engine` for user `owner_id`: the same pool, and only that user's rows in every statement."""
    return engine.execution_options(**{OWNER: int(owner_id)})


def team_engine(engine: Engine) -> Engine:
    """`engine` marked as serving many users: unbound, it refuses every statement on a user's table."""
    return engine.execution_options(**{TEAM: True})


def every_owner(engine: Engine) -> Engine:
    """`engine` for the store as a whole (migrate-store's copy): no filter, owner_id copied as it is."""
    return engine.execution_options(**{ALL: True})


def _owner(options: dict[str, object]) -> int | None:
    """The owner execution options name: theirs, PERSONAL when none and not a team, else None."""
    owner = options.get(OWNER)
    if owner is not None:
        assert isinstance(owner, int)
        return owner
    return None if options.get(TEAM) else PERSONAL


def owner_of(bind: Engine | Connection) -> int:
    """The user `bind` works for: its bound owner, or PERSONAL; raises NoOwner for an unbound team engine."""
    owner = _owner(dict(bind.get_execution_options()))
    if owner is None:
        raise NoOwner("this team engine is bound to no user: use store.owner.as_owner(engine, user)")
    return owner


@contextmanager
def _writing(engine: Engine) -> Iterator[Session]:
    """db.atomic's transaction (the write lock first), which db.py, importing this module, cannot lend."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            session.connection(execution_options={dialect.WRITE: True})
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def add_user(engine: Engine, name: str, stats_opt_in: bool = False) -> User:
    """Create user `name` (a new id); UserError if that name is taken."""
    name = name.strip()
    if not name:
        raise UserError("a user needs a name")
    with _writing(engine) as s:
        if s.exec(select(User).where(User.name == name)).first() is not None:
            raise UserError(f"there is already a user named {name!r} in this store")
        user = User(name=name, created_at=datetime.now(UTC), stats_opt_in=stats_opt_in)
        s.add(user)
        s.flush()
        return user


def user_id(engine: Engine, name: str) -> int | None:
    """The id of user `name`, or None."""
    with Session(engine) as s:
        return s.exec(select(User.id).where(User.name == name.strip())).first()


def users(engine: Engine) -> list[User]:
    """Every user of the store, by id (a personal store: one, `me`)."""
    with Session(engine, expire_on_commit=False) as s:
        return list(s.exec(select(User).order_by(col(User.id))))


def remove_user(engine: Engine, name: str) -> dict[str, int]:
    """Delete user `name` and every row they own, in one transaction; rows deleted per table (non-zero).

    Only rows whose owner_id is theirs are deleted: another user's rows are never touched.
    UserError if there is no such user.
    """
    uid = user_id(engine, name)
    if uid is None:
        raise UserError(f"there is no user named {name!r} in this store")
    deleted: dict[str, int] = {}
    with _writing(as_owner(engine, uid)) as s:
        tables = {model.__table__.name: model for model in OWNED}  # type: ignore[attr-defined]
        for table in reversed(SQLModel.metadata.sorted_tables):  # children before their parents
            model = tables.get(table.name)
            if model is None:
                continue
            result = s.execute(sa.delete(model).where(model.owner_id == uid))  # type: ignore[attr-defined]
            if result.rowcount:  # type: ignore[attr-defined]
                deleted[table.name] = int(result.rowcount)  # type: ignore[attr-defined]
        s.execute(sa.delete(User).where(col(User.id) == uid))
    return deleted


def _session_owner(session: orm.Session) -> int:
    bind = session.get_bind()
    assert isinstance(bind, Engine | Connection)
    return owner_of(bind)


@sa.event.listens_for(orm.Session, "before_flush")
def _stamp_new_rows(session: orm.Session, _context: object, _instances: object) -> None:
    """New rows of a user's tables belong to the session's owner, whatever they were given."""
    new = [row for row in session.new if isinstance(row, Owned)]
    if new:
        owner = _session_owner(session)
        for row in new:
            setattr(row, "owner_id", owner)  # noqa: B010  (every Owned table has it; Owned declares none)


def _with_owner(row: Any, owner: int) -> Any:
    return {**row, "owner_id": owner} if isinstance(row, Mapping) else row


def _stamp_inserts(
    conn: Connection, clause: Any, multiparams: Any, params: Any, options: Any
) -> tuple[Any, Any, Any]:
    """before_execute: each INSERT into a user's table (ORM flush, bulk, Core) gets the owner;
    any other statement on a user's table must have come through the filter (`_filter`)."""
    if isinstance(clause, sa.TextClause | sa.schema.DDLElement) or not isinstance(clause, sa.Executable):
        return clause, multiparams, params  # migrations' and dialect.py's SQL, which the store keeps
    merged = {**conn.get_execution_options(), **options}
    if merged.get(ALL):
        return clause, multiparams, params
    if not isinstance(clause, sa.Insert):
        # The ORM's own flush (by primary key, of rows it read through the filter) carries its cache.
        if FILTERED not in merged and "compiled_cache" not in options:
            touched = {
                t.name for t in find_tables(cast(sa.ClauseElement, clause), include_crud=True)
            } & _OWNED_TABLES
            if touched:
                raise Unfiltered(
                    f"a statement on {', '.join(sorted(touched))} went past the owner filter: "
                    "write it with the models (select(Model.column), sa.update(Model)) and run it "
                    "with session.execute"
                )
        return clause, multiparams, params
    if clause.table.name not in _OWNED_TABLES:
        return clause, multiparams, params
    owner = _owner(merged)
    if owner is None:
        raise NoOwner(f"INSERT into {clause.table.name} through a team engine bound to no user")
    clause = clause.values(owner_id=owner)
    multiparams = [_with_owner(p, owner) for p in multiparams]
    params = _with_owner(params, owner) if params else params
    return clause, multiparams, params


def install(engine: Engine) -> None:
    """Make `engine` (and every engine `as_owner` derives from it) stamp each new row with its owner."""
    sa.event.listen(engine, "before_execute", _stamp_inserts, retval=True)


def _criteria(owner: int) -> Any:
    return orm.with_loader_criteria(Owned, lambda cls: cls.owner_id == owner, include_aliases=True)


@sa.event.listens_for(orm.Session, "do_orm_execute")
def _filter(state: orm.ORMExecuteState) -> None:
    """Every ORM SELECT, UPDATE and DELETE of a user's tables reads and changes the owner's rows only."""
    if not (state.is_select or state.is_update or state.is_delete):
        return
    bind = state.session.get_bind()
    assert isinstance(bind, Engine | Connection)
    options = {**bind.get_execution_options(), **state.execution_options}
    if options.get(ALL):
        return
    owner = _owner(options)
    if owner is None:
        if not _OWNED_TABLES.isdisjoint(
            t.name for t in find_tables(cast(sa.ClauseElement, state.statement), include_crud=True)
        ):
            raise NoOwner("a query of a user's table through a team engine bound to no user")
        return
    state.statement = state.statement.options(_criteria(owner))
    state.update_execution_options(**{FILTERED: owner})
