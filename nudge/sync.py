"""One source's sync: compare its listing with what is stored, then act.

`diff` decides (pure); `sync_source` fetches what the decision asks for,
parses it, and applies it in batches, each batch one transaction. A sync token
is stored in the last transaction, after every change it covers, so an
interrupted sync simply resumes from the old token next time.

One piece (over 400 lines): the plan, the prefetched batches and the `Report` they count
into are one algorithm; what a record does to the store is ingest's (`nudge.ingest`),
and which format an object is in is parse's: a new format changes nothing here.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Mapping, Set
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from nudge.core.records import ContactRecord, EventRecord, GroupRecord, MessageRecord, PhoneRecord
from nudge.errors import InvalidSyncToken, SourceError
from nudge.ingest import Context, Ingest, Vanished, identity_keys, load_identities
from nudge.parse import ParseError, parse_object
from nudge.sources.base import BadItem, Collection, Item, Notice, Source
from nudge.store.db import atomic
from nudge.store.models import SourceRecord, SyncState
from nudge.store.query import chunks

log = logging.getLogger(__name__)

BATCH = 500
PREFETCH = 2  # batches fetched ahead of the one being applied


@dataclass(frozen=True)
class Diff:
    fetch: list[str]  # new or changed hrefs
    remove: list[str]  # stored hrefs the source no longer has
    unchanged: int


def diff(listing: Mapping[str, str], stored: Mapping[str, str]) -> Diff:
    """What to do to make `stored` (href -> etag) match a full `listing`."""
    fetch = [h for h, etag in listing.items() if stored.get(h) != etag]
    remove = [h for h in stored if h not in listing]
    return Diff(fetch=fetch, remove=remove, unchanged=len(listing) - len(fetch))


def incremental_diff(changed: Mapping[str, str], deleted: Iterable[str], stored: Mapping[str, str]) -> Diff:
    fetch = [h for h, etag in changed.items() if stored.get(h) != etag]
    remove = [h for h in deleted if h in stored]
    return Diff(fetch=fetch, remove=remove, unchanged=len(changed) - len(fetch))


@dataclass(frozen=True)
class Skipped:
    href: str
    uid: str
    reason: str


@dataclass
class Report:
    """What one source's sync did; `line()` is its summary."""

    source: str
    contacts: int = 0  # cards that made a new contact
    merged: int = 0  # new cards of a person who already was a contact
    events: int = 0
    messages: int = 0  # mail messages that gave a touch or a sighting
    calls: int = 0  # calls and texts from the phone that gave a touch or a moment
    # calls and texts from numbers no contact holds, as (number, minute, kind): once per entry
    unmatched: set[tuple[str, datetime, str]] = field(default_factory=set)
    changed: int = 0
    archived: int = 0
    removed: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    events_seen: set[str] = field(default_factory=set)  # hrefs of the events applied (after its contacts)
    phones_unparsed: int = 0  # numbers on the cards applied that were kept as typed
    notices: list[Notice] = field(default_factory=list)

    def count(self, what: str, outcome: str, href: str) -> None:
        """One applied object: what it was (contact, group, event) and what came of it."""
        if what == "contact":
            self.contacts += outcome == "added"
            self.merged += outcome == "merged"
        elif what == "event":
            self.events_seen.add(href)
            self.events += outcome == "added"
        if outcome == "changed":
            self.changed += 1
        elif outcome == "archived":
            self.archived += 1

    @property
    def added(self) -> int:
        """New objects of any kind (a merged card included)."""
        return self.contacts + self.merged + self.events + self.messages + self.calls

    @property
    def ok(self) -> bool:
        return not self.errors

    def line(self) -> str:
        parts = [
            _count(self.contacts, "new contact"),
            _count(self.merged, "card merged into a contact", "cards merged into contacts"),
            _count(self.events, "event"),
            _count(self.messages, "email"),
            _count(self.calls, "call or text", "calls and texts"),
        ]
        detail = ", ".join(p for p in parts if p)
        text = (
            f"{self.source}: {self.added} added{f' ({detail})' if detail else ''}, {self.changed} changed, "
            f"{self.archived} archived, {self.removed} events removed, {len(self.skipped)} skipped"
        )
        if self.phones_unparsed:
            text += f", {_count(self.phones_unparsed, 'phone number')} kept unparsed"
        if self.unmatched:
            calls = _count(len(self.unmatched), "call or text", "calls and texts")
            text += f", {calls} from numbers in no address book"
        text += f", took {self.seconds:.1f}s"
        if self.errors:
            text += " — FAILED: " + "; ".join(self.errors)
        for notice in self.notices:
            text += f"; {'warning' if notice.problem else 'note'}: {notice.text}"
        return text


def _count(n: int, one: str, many: str = "") -> str:
    return "" if not n else f"1 {one}" if n == 1 else f"{n} {many or one + 's'}"


def _parse(
    fmt: str, data: str, ctx: Context
) -> ContactRecord | GroupRecord | EventRecord | MessageRecord | PhoneRecord:
    start = ctx.now - timedelta(days=ctx.rules.history_days)
    end = ctx.now + timedelta(days=ctx.rules.planned_days)
    return parse_object(fmt, data, ctx.tz, start, end)


def _stored(
    session: Session, source: str, collection: str, hrefs: Iterable[str] | None = None
) -> dict[str, str]:
    """href -> etag of what was synced from the collection (or of just these hrefs)."""
    query = select(SourceRecord.href, SourceRecord.etag).where(
        SourceRecord.source == source, SourceRecord.collection == collection
    )
    if hrefs is None:
        return {href: etag for href, etag in session.execute(query)}
    found = {}
    for chunk in chunks(sorted(set(hrefs))):
        rows = session.execute(query.where(col(SourceRecord.href).in_(chunk)))
        found.update({href: etag for href, etag in rows})
    return found


def _state(session: Session, source: str, collection: str) -> SyncState:
    state = session.exec(
        select(SyncState).where(SyncState.source == source, SyncState.collection == collection)
    ).first()
    return state or SyncState(source=source, collection=collection)


def record_error(engine: Engine, source: str, collection: str, message: str, now: datetime) -> None:
    with atomic(engine) as s:
        state = _state(s, source, collection)
        state.last_error, state.last_error_at = message, now
        s.add(state)


@dataclass
class CollectionPlan:
    """What one collection's sync will do, decided before anything is written."""

    coll: Collection
    token: str | None = None  # to store once everything below is applied
    fetch: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    error: SourceError | None = None


@dataclass
class SourcePlan:
    collections: list[CollectionPlan]
    gone: list[str]  # collections synced before that the source no longer has


def plan_source(engine: Engine, source: Source) -> SourcePlan:
    """The network half of a sync, which writes nothing: the collections and what changed in each.

    `service.sync_all` plans the next source while it applies this one, so the
    server works on the next listing while nudge writes the last one. Raises
    SourceError when the source cannot be read at all.
    """
    collections = sorted(source.collections(), key=lambda c: c.kind != "contacts")
    with Session(engine) as s:
        known = set(
            s.exec(select(SourceRecord.collection).where(SourceRecord.source == source.name).distinct())
        )
    if not collections and known:
        raise SourceError("no collections found; keeping what was synced before")
    plans = []
    for coll in collections:
        try:
            plans.append(_plan_collection(engine, source, coll))
        except SourceError as e:
            plans.append(CollectionPlan(coll, error=e))
    return SourcePlan(plans, sorted(known - {c.id for c in collections}))


def _plan_collection(engine: Engine, source: Source, coll: Collection) -> CollectionPlan:
    with Session(engine) as s:
        token = _state(s, source.name, coll.id).token
    try:
        changes = source.changes(coll, token)
    except InvalidSyncToken as e:
        log.info("%s: %s; doing a full listing", source.name, e)
        changes = source.changes(coll, None)
    with Session(engine) as s:  # only this source's own sync, later, writes what is read here
        if changes.complete:
            plan = diff(changes.changed, _stored(s, source.name, coll.id))
        else:
            touched = [*changes.changed, *changes.deleted]  # an increment needs only these
            plan = incremental_diff(
                changes.changed, changes.deleted, _stored(s, source.name, coll.id, touched)
            )
    return CollectionPlan(coll, changes.token, plan.fetch, plan.remove)


def sync_source(
    engine: Engine,
    source: Source,
    ctx: Context,
    progress: Callable[[int, int], None] | None = None,
    planned: Future[SourcePlan] | None = None,
    shown: int = 0,
) -> Report:
    """Sync every collection of `source`, as `planned` ahead if given; failures are recorded, not raised.

    Each skipped object is logged, but for the first `shown`, which the caller prints itself
    (`nudge sync`), so that no skip is reported twice.
    """
    report = Report(source.name)
    started = time.monotonic()
    try:
        whole = planned.result() if planned is not None else plan_source(engine, source)
        for plan in whole.collections:
            coll = plan.coll
            try:
                if plan.error is not None:
                    raise plan.error
                _sync_collection(engine, source, plan, ctx, report, progress)
            except SourceError as e:
                report.errors.append(f"{coll.name or coll.id}: {e}")
                record_error(engine, source.name, coll.id, str(e), ctx.now)
        for gone in whole.gone:
            log.info("%s: collection %s is gone", source.name, gone)
            with Session(engine) as s:
                hrefs = list(_stored(s, source.name, gone))
            _apply_removals(engine, source.name, hrefs, ctx, report)
        report.notices = list(source.notices())
    except SourceError as e:
        report.errors.append(str(e))
    except Exception as e:  # a bug in one source must not stop the others
        log.exception("%s: sync failed unexpectedly", source.name)
        report.errors.append(f"unexpected {type(e).__name__}: {e}")
    finally:
        source.close()
    report.seconds = time.monotonic() - started
    with atomic(engine) as s:
        state = _state(s, source.name, "")
        if report.ok:
            state.last_success_at, state.last_error = ctx.now, None
        else:
            state.last_error, state.last_error_at = "; ".join(report.errors), ctx.now
        s.add(state)
    for sk in report.skipped[shown:]:
        log.warning("%s: skipped %s (UID %s): %s", source.name, sk.href, sk.uid or "?", sk.reason)
    for notice in report.notices:
        log.log(logging.WARNING if notice.problem else logging.INFO, "%s: %s", source.name, notice.text)
    return report


def _sync_collection(
    engine: Engine,
    source: Source,
    plan: CollectionPlan,
    ctx: Context,
    report: Report,
    progress: Callable[[int, int], None] | None,
) -> None:
    coll = plan.coll
    batches = [plan.fetch[i : i + BATCH] for i in range(0, len(plan.fetch), BATCH)]
    done = 0
    vanished = None
    if plan.fetch and plan.remove:
        with Session(engine) as s:
            vanished = Vanished.load(s, source.name, plan.remove)
    with closing(_prefetched(source, coll, batches)) as fetched:
        for batch, items in zip(batches, fetched, strict=True):
            _apply_batch(engine, source.name, coll, items, ctx, report, vanished)
            done += len(batch)
            if progress:
                progress(done, len(plan.fetch))
    _apply_removals(engine, source.name, plan.remove, ctx, report)
    with atomic(engine) as s:
        state = _state(s, source.name, coll.id)
        state.token = plan.token
        state.last_success_at, state.last_error = ctx.now, None
        s.add(state)


def _prefetched(
    source: Source, coll: Collection, batches: list[list[str]]
) -> Generator[list[Item | BadItem]]:
    """Each batch's items, the next few fetched (one thread) while the caller applies this one.

    Fetching waits on the server and applying on parsing and SQLite, so the two
    overlap; keeping PREFETCH batches in flight lets the server run ahead while
    its answers are quick and the writer catch up when they get slower (a large
    collection's later multigets cost Radicale more). A failing fetch raises when
    its batch is reached: the batches before it are applied, as without prefetching.
    """
    if len(batches) < 2:
        for batch in batches:
            yield list(source.fetch(coll, batch))
        return

    def fetch(batch: list[str]) -> list[Item | BadItem]:
        return list(source.fetch(coll, batch))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nudge-fetch") as pool:
        waiting = iter(batches)
        pending: deque[Future[list[Item | BadItem]]] = deque(
            pool.submit(fetch, b) for b in itertools.islice(waiting, PREFETCH)
        )
        try:
            while pending:
                items = pending.popleft().result()
                pending.extend(pool.submit(fetch, b) for b in itertools.islice(waiting, 1))
                yield items
        finally:
            for future in pending:
                future.cancel()


def _apply_batch(
    engine: Engine,
    source: str,
    coll: Collection,
    items: list[Item | BadItem],
    ctx: Context,
    report: Report,
    vanished: Vanished | None = None,
) -> None:
    parsed: list[tuple[Item, ContactRecord | GroupRecord | EventRecord]] = []
    messages: list[MessageRecord] = []
    calls: list[PhoneRecord] = []
    for item in items:
        if isinstance(item, BadItem):
            report.skipped.append(Skipped(item.href, item.uid, item.reason))
            continue
        try:
            record = _parse(item.format, item.data, ctx)
        except ParseError as e:
            report.skipped.append(Skipped(item.href, e.uid, e.reason))
            continue
        if isinstance(record, MessageRecord):
            messages.append(record)
        elif isinstance(record, PhoneRecord):
            calls.append(record)
        else:
            parsed.append((item, record))
    with atomic(engine) as s:
        everyone = messages or calls  # a message or a call may be anyone's: every identity is read
        ingest = Ingest(s, source, ctx, None if everyone else identity_keys((r for _, r in parsed), ctx))
        report.messages += ingest.apply_messages(messages) if messages else 0
        report.calls += ingest.apply_phone(calls) if calls else 0
        report.unmatched |= ingest.unmatched_numbers
        ingest.preload([i.href for i in items])
        ingest.prepare(r for _, r in parsed)
        for item, record in parsed:
            what, outcome = ingest.apply(
                coll.id, item.href, item.etag, item.data, item.format, record, vanished
            )
            report.count(what, outcome, item.href)
        ingest.finish()
        report.phones_unparsed += ingest.unparsed_phones


def _apply_removals(engine: Engine, source: str, hrefs: list[str], ctx: Context, report: Report) -> None:
    if not hrefs:
        return
    with atomic(engine) as s:
        ingest = Ingest(s, source, ctx)
        for href in hrefs:
            outcome = ingest.remove(href)
            if outcome == "archived":
                report.archived += 1
            elif outcome == "removed":
                report.removed += 1
        ingest.finish()


def refresh_events(
    engine: Engine, ctx: Context, everything: bool = False, skip: Set[tuple[str, str]] = frozenset()
) -> int:
    """Look again at stored events that are due (or all with a future, if `everything`).

    Upcoming meetings become touches once they are past, and recurring series
    grow new occurrences, without any change at the source. `skip` holds
    (source, href) of events just applied with the contacts as they are now.
    """
    with Session(engine) as s:
        query = select(SourceRecord.source, SourceRecord.href).where(col(SourceRecord.raw).is_not(None))
        if not everything:
            query = query.where(col(SourceRecord.recheck_at) <= ctx.now)
        due: dict[str, list[str]] = {}
        for source, href in s.exec(query):
            if (source, href) not in skip:
                due.setdefault(source, []).append(href)
    count = 0
    for source, hrefs in due.items():
        with atomic(engine) as s:
            ingest = Ingest(s, source, ctx, keys=())  # the identities come once the events are read
            ingest.preload(hrefs)
            events: list[tuple[SourceRecord, EventRecord]] = []
            for href in hrefs:
                sr = ingest.record(href)
                if sr is None or sr.raw is None:
                    continue
                try:
                    record = _parse(sr.format or "ical", sr.raw, ctx)
                except ParseError as e:  # it parsed before; be safe anyway
                    log.warning("%s: %s no longer parses: %s", source, href, e.reason)
                    sr.recheck_at, sr.raw = None, None
                    continue
                if isinstance(record, EventRecord):
                    events.append((sr, record))
                count += 1
            ingest.identities.update(load_identities(s, identity_keys((r for _, r in events), ctx)))
            for sr, record in events:
                assert sr.raw is not None
                ingest.upsert_event(sr.collection, sr.href, sr.etag, sr.raw, record, sr.format or "ical")
            ingest.finish()
    return count
