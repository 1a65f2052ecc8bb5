"""CalDAV calendars (RFC 4791) with RFC 6578 incremental sync; the work is in `dav.py`.

Only calendars that can hold events are read; tasks and journals in a mixed
calendar are ignored when fetched.
"""

from __future__ import annotations

from nudge.sources.dav import CALDAV, DavSource, Flavor


class CalDavSource(DavSource):
    type_name = "caldav"
    flavor = Flavor(
        kind="events",
        protocol="caldav",
        namespace=CALDAV,
        home_set="calendar-home-set",
        collection_type="calendar",
        report="cal:calendar-multiget",
        data_prop="cal:calendar-data",
        format="ical",
    )
