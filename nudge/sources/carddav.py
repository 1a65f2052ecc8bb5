"""CardDAV address books (RFC 6352) with RFC 6578 incremental sync; the work is in `dav.py`."""

from __future__ import annotations

from nudge.sources.dav import CARDDAV, DavSource, Flavor


class CardDavSource(DavSource):
    type_name = "carddav"
    flavor = Flavor(
        kind="contacts",
        protocol="carddav",
        namespace=CARDDAV,
        home_set="addressbook-home-set",
        collection_type="addressbook",
        report="card:addressbook-multiget",
        data_prop="card:address-data",
        format="vcard",
    )
