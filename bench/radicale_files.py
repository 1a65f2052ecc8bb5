"""Write calendar objects into a Radicale storage as Radicale's own PUT would (for bench/sync.py).

Seeding 20,000 realistic calendar objects by PUT takes hours on two shared cores:
for every object, vobject rebuilds each VTIMEZONE from the zone's rules, walking
hour by hour through the DST transitions of 2000-2030 with dateutil's
`_tzicalvtz`, whose every `utcoffset` walks the VTIMEZONE's yearly RRULEs from
their DTSTART (1601 for Outlook's zones): 0.2-1 s per object. This module runs
Radicale's own upload path -- `radicale.item.read_components` and
`radicale.app.put.prepare`, as the PUT handler calls them, then `Item.serialize`
-- in worker processes, and writes each result where Radicale's
multifilesystem storage keeps it (`<collection>/<href>`, the href being the last
path segment of the PUT). One thing differs from a PUT: vobject's
`TimezoneComponent.settzinfo`, the rebuild above, is memoised per zone (keyed by
TZID and the zone's parsed rules), so each distinct VTIMEZONE is rebuilt once
per worker instead of once per object. The output is the same text (checked
byte for byte against a store seeded by PUT: `--compare`). Radicale's item
cache (`.Radicale.cache/item`) is not written: Radicale builds it at the first
read, which bench/sync.py's unmeasured warm-up REPORT does.

    .venv/bin/python bench/radicale_files.py --compare bench/out/radicale-realistic-17-1000-3000 1000 3000
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from collections.abc import Iterable
from multiprocessing import Pool
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

_memo: dict[Any, Any] = {}


def _zone_key(tzinfo: Any) -> Any:
    """A key naming what a dateutil VTIMEZONE zone says (TZID and each part's rules), or None."""
    comps = getattr(tzinfo, "_comps", None)
    if comps is None:
        return None
    parts = []
    for c in comps:
        rule = getattr(c, "rrule", None)
        rules = getattr(rule, "_rrule", None)
        text = "|".join(str(r) for r in rules) if rules is not None else str(rule)
        dates = getattr(rule, "_rdate", None)
        parts.append((c.tzoffsetfrom, c.tzoffsetto, c.isdst, c.tzname, text, repr(dates)))
    return (getattr(tzinfo, "_tzid", None), tuple(parts))


def _memoise_vtimezones() -> None:
    from vobject import icalendar

    original = icalendar.TimezoneComponent.settzinfo

    def settzinfo(self: Any, tzinfo: Any, start: int = 2000, end: int = 2030) -> None:
        key = _zone_key(tzinfo)
        if key is None:
            original(self, tzinfo, start, end)
            return
        key = (key, start, end)
        if key not in _memo:
            original(self, tzinfo, start, end)
            _memo[key] = copy.deepcopy(self.contents)
        self.contents = copy.deepcopy(_memo[key])

    icalendar.TimezoneComponent.settzinfo = settzinfo
    icalendar.TimezoneComponent.tzinfo = property(icalendar.TimezoneComponent.gettzinfo, settzinfo)


def _init() -> None:
    os.nice(5)
    _memoise_vtimezones()


def serialize(job: tuple[str, str, str]) -> tuple[str, str]:
    """(href, the text Radicale stores) for one PUT of `text` to `collection`/`href`."""
    from radicale import item as radicale_item
    from radicale.app.put import prepare

    collection, href, text = job
    components = radicale_item.read_components(text)
    items, _, _, _, failure = prepare(
        components, f"{collection}{href}", "text/calendar", False, True, 10**9, 10**9
    )
    if failure is not None:
        raise failure[1]
    (item,) = list(items)
    return href, item.serialize()


def write_objects(
    folder: Path, collection: str, objects: Iterable[tuple[str, str]], processes: int = 2
) -> int:
    """Write `(uid, text)` calendar objects into `folder` (a collection's directory) as `<uid>.ics`."""
    jobs = [(collection, f"{uid}.ics", text) for uid, text in objects]
    done = 0
    with Pool(processes, initializer=_init) as pool:
        for href, text in pool.imap_unordered(serialize, jobs, chunksize=20):
            with open(folder / href, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            done += 1
    return done


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--compare", nargs=3, metavar=("STORE", "CONTACTS", "EVENTS"), required=True)
    p.add_argument("--seed", type=int, default=17)
    args = p.parse_args()
    import tempfile

    from bench import realistic

    store, contacts, n_events = Path(args.compare[0]), int(args.compare[1]), int(args.compare[2])
    data = realistic.generate(contacts, n_events, args.seed, realistic.NOW)
    with tempfile.TemporaryDirectory() as tmp:
        write_objects(Path(tmp), "/bench/calendar/", [(o.uid, o.text()) for o in data.events])
        seeded = store / "collections" / "collection-root" / "bench" / "calendar"
        same = differ = missing = 0
        for path in sorted(Path(tmp).iterdir()):
            other = seeded / path.name
            if not other.exists():
                missing += 1
            elif other.read_bytes() == path.read_bytes():
                same += 1
            else:
                differ += 1
                if differ <= 3:
                    print(f"differs: {path.name}")
    print(f"{same} identical, {differ} differ, {missing} not in {seeded}")


if __name__ == "__main__":
    main()
