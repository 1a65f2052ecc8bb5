"""Reading many rows by key: `IN (...)` lists cut to a size every database accepts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

CHUNK = 500  # keys per IN (...) list: far below SQLite's 32,766 bound parameters, and one plan


def chunks(keys: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """`keys` in lists of at most `size`, in the order given (sort or deduplicate first if needed)."""
    batch: list[T] = []
    for key in keys:
        batch.append(key)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
