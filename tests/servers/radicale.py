"""A real Radicale on 127.0.0.1 for the CardDAV/CalDAV tests, and a writer into it.

One server per test module (it starts in well under a second); each test gets a
user of its own, so tests never see each other's collections. Radicale reads
its htpasswd file on every login, so adding a user needs no restart.
"""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from nudge.sources.base import Kind
from nudge.sources.caldav import CalDavSource
from nudge.sources.carddav import CardDavSource
from nudge.sources.dav import DavOptions
from tests.builders import vcalendar
from tests.servers.loopback import free_port
from tests.sources.contract import Backend, CombinedSource

PASSWORD = "secret"
_users = itertools.count(1)


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"radicale exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"radicale did not listen on {port}:\n{log.read_text()[-2000:]}")


@dataclass
class Radicale:
    url: str  # http://127.0.0.1:PORT
    folder: Path
    htpasswd: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def add_user(self, name: str | None = None, password: str = PASSWORD) -> str:
        name = name or f"user{next(_users)}"
        with self.htpasswd.open("a") as f:
            f.write(f"{name}:{password}\n")
        return name

    def request(
        self, method: str, path: str, user: str, body: bytes | str = b"", content_type: str = ""
    ) -> requests.Response:
        headers = {"Content-Type": content_type} if content_type else {}
        data = body.encode() if isinstance(body, str) else body
        r = requests.request(
            method, self.url + path, data=data or None, headers=headers, auth=(user, PASSWORD), timeout=600
        )
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text[:500]}"
        return r

    def make_addressbook(self, user: str, name: str) -> str:
        body = (
            '<?xml version="1.0"?><mkcol xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
            f"<set><prop><resourcetype><collection/><C:addressbook/></resourcetype>"
            f"<displayname>{name}</displayname></prop></set></mkcol>"
        )
        path = f"/{user}/{name}/"
        self.request("MKCOL", path, user, body, "application/xml")
        return path

    def make_calendar(self, user: str, name: str) -> str:
        body = (
            '<?xml version="1.0"?><C:mkcalendar xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            f"<set><prop><displayname>{name}</displayname></prop></set></C:mkcalendar>"
        )
        path = f"/{user}/{name}/"
        self.request("MKCALENDAR", path, user, body, "application/xml")
        return path

    def put_contact(self, user: str, collection: str, uid: str, card: str) -> None:
        self.request("PUT", f"{collection}{uid}.vcf", user, card, "text/vcard; charset=utf-8")

    def put_event(self, user: str, collection: str, uid: str, vevents: str) -> None:
        self.request(
            "PUT", f"{collection}{uid}.ics", user, vcalendar(vevents), "text/calendar; charset=utf-8"
        )

    def delete(self, user: str, path: str) -> None:
        self.request("DELETE", path, user)

    def put_bulk(self, user: str, collection: str, text: str, kind: str) -> None:
        """One PUT of a whole .vcf / .ics to the collection URL: it is split into items by UID."""
        ctype = "text/vcard" if kind == "contacts" else "text/calendar"
        self.request("PUT", collection, user, text, f"{ctype}; charset=utf-8")


def start_radicale(folder: Path, extra: list[str] | None = None) -> Radicale:
    folder.mkdir(parents=True, exist_ok=True)
    htpasswd = folder / "users"
    if not htpasswd.exists():
        htpasswd.write_text("")
    log = folder / "radicale.log"
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "radicale",
        "--config",
        "",
        "--server-hosts",
        f"127.0.0.1:{port}",
        "--storage-filesystem-folder",
        str(folder / "collections"),
        "--auth-type",
        "htpasswd",
        "--auth-htpasswd-filename",
        str(htpasswd),
        "--auth-htpasswd-encryption",
        "plain",
        "--auth-delay",
        "0.05",
        "--server-delay-on-error",
        "0.05",
        *(extra or []),
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc, log)
    except Exception:
        proc.kill()
        proc.wait()
        raise
    return Radicale(f"http://127.0.0.1:{port}", folder, htpasswd, log, proc)


def stop_radicale(server: Radicale) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    server = start_radicale(tmp_path_factory.mktemp("radicale"))
    yield server
    stop_radicale(server)


# --- The contract suite's backend --------------------------------------------------------------


class DavBackend(Backend):
    """One fresh Radicale user with an address book and a calendar.

    `base` is where the sources connect (the server, or a proxy in front of it);
    with `by_collection_url` each source is given its collection's URL instead of
    the server's, skipping discovery.
    """

    def __init__(self, server: Radicale, base: str | None = None, by_collection_url: bool = False) -> None:
        self.server = server
        self.base = base or server.url
        self.by_collection_url = by_collection_url
        self.user = server.add_user()
        self.paths: dict[Kind, str] = {
            "contacts": server.make_addressbook(self.user, "contacts"),
            "events": server.make_calendar(self.user, "calendar"),
        }
        self.source = self.reopen()

    def options(self, kind: Kind) -> DavOptions:
        url = self.base + (self.paths[kind] if self.by_collection_url else "/")
        return DavOptions(url=url, username=self.user, password=PASSWORD, timeout=30)

    def reopen(self) -> CombinedSource:
        return CombinedSource(
            CardDavSource("card", self.options("contacts")), CalDavSource("cal", self.options("events"))
        )

    def put(self, kind: Kind, uid: str, text: str) -> None:
        if kind == "contacts":
            self.server.put_contact(self.user, self.paths[kind], uid, text)
        else:
            self.server.put_event(self.user, self.paths[kind], uid, text)

    def delete(self, kind: Kind, uid: str) -> None:
        suffix = ".vcf" if kind == "contacts" else ".ics"
        self.server.delete(self.user, f"{self.paths[kind]}{uid}{suffix}")

    def remove_collection(self, kind: Kind) -> None:
        self.server.delete(self.user, self.paths[kind])
