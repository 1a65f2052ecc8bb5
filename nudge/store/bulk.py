"""Many rows into one table, compiled once and sent in one executemany.

`connection.execute(table.insert(), rows)` builds, per row, SQLAlchemy's parameter
dict and runs each value's bind processor through its generic machinery; for the
400,000 rows of a large first sync (touches, sightings, planned meetings) that was
about as much time as SQLite's own executemany. Here the statement is compiled
once per (table, columns), each column's bind processor is looked up once, and the
rows go to the driver as plain tuples (or dicts, for named paramstyles); a value
shared by many rows (the batch's `created_at`) is converted once. Anything
the compiled statement needs beyond the given columns (a Python-side default)
takes SQLAlchemy's own path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from nudge.store.owner import stamped

_Plan = tuple[str, tuple[str, ...], tuple[Callable[[Any], Any] | None, ...], bool] | None
_plans: dict[tuple[str, str, tuple[str, ...]], _Plan] = {}


def insert_rows(connection: sa.Connection, model: type[SQLModel], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` into `model`'s table: one executemany per set of columns the rows name.

    The driver-level statement skips the engine's before_execute hook, so the rows of a
    user's table get the connection's owner here (`owner.stamped`).
    """
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in stamped(connection, table, rows):
        groups.setdefault(tuple(row), []).append(row)
    for keys, group in groups.items():
        plan = _plan(connection.dialect, table, keys)
        if plan is None:
            connection.execute(table.insert(), group)
            continue
        sql, order, processors, positional = plan
        values = [[row[k] for k in order] for row in group]
        for i, process in enumerate(processors):
            if process is not None:
                _process_column(values, i, process)
        if positional:
            connection.exec_driver_sql(sql, [tuple(v) for v in values])
        else:
            connection.exec_driver_sql(sql, [dict(zip(order, v, strict=True)) for v in values])


def _process_column(values: list[list[Any]], i: int, process: Callable[[Any], Any]) -> None:
    """Column `i` through its bind processor, once per distinct value (a batch's rows share `created_at`)."""
    done: dict[Any, Any] = {}
    for value in values:
        raw = value[i]
        key = (type(raw), raw)  # 1 and 1.0 and True are one dict key otherwise
        try:
            value[i] = done[key]
        except KeyError:
            value[i] = done[key] = process(raw)
        except TypeError:  # unhashable (JSON): no memo
            value[i] = process(raw)


def _plan(dialect: sa.Dialect, table: sa.Table, keys: tuple[str, ...]) -> _Plan:
    """(SQL, bind names in order, their bind processors, positional?) or None for SQLAlchemy's path."""
    cache_key = (dialect.name, table.fullname, keys)
    if cache_key not in _plans:
        compiled: Any = table.insert().compile(dialect=dialect, column_keys=list(keys))
        names = list(compiled.positiontup) if compiled.positional else list(compiled.bind_names.values())
        plain = sorted(names) == sorted(keys) and not compiled.escaped_bind_names
        processors = tuple(table.c[k].type.dialect_impl(dialect).bind_processor(dialect) for k in names)
        _plans[cache_key] = (str(compiled), tuple(names), processors, compiled.positional) if plain else None
    return _plans[cache_key]
