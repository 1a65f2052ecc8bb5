"""A real Dovecot on 127.0.0.1 for the IMAP tests (and the benchmark), with helpers that write into it.

Dovecot runs in the foreground (`dovecot -F -c CONF`) with everything in one temporary
directory: its config, base_dir (sockets), state_dir, log, a passwd-file of users (plaintext
scheme; a pool of them is written at start, as Dovecot re-reads the file at most once a
second), their maildirs and a rawlog of every IMAP session (the commands the server saw,
for counting). It listens on loopback only, with implicit TLS on one port and STARTTLS on
another, using a self-signed certificate for 127.0.0.1 made at start. Only IMAP is enabled:
no POP3, no LMTP, no sockets outside the directory.

Root: Dovecot refuses to open mail as UID 0, so as root the mail processes run as `nobody`
and the directory lives in the system temp dir (pytest's tmp_path has 0700 parents that
`nobody` cannot cross); it is deleted at stop, after its log is copied to `keep_log`. As an
ordinary user Dovecot runs "rootless": every process as that user, no chroot.

The auth penalty (anvil's growing delay after failed logins from one IP) is off by leaving its
socket out, so a wrong-password test does not slow the tests after it. Each new base_dir
matters here: a stale `anvil-auth-penalty` socket costs Dovecot's auth 5 s of retries.

Folders: "Sent" and "Gesendet" carry the SPECIAL-USE flag \\Sent once they exist (a name no
fallback list knows, to tell the flag from the name); any other name has no flag. Users made
by `add_user()` get a "Sent" unless told otherwise.
"""

from __future__ import annotations

import datetime as dt
import grp
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from nudge.sources.imap import ImapOptions
from tests.servers.loopback import HOST, free_port, make_cert

POOL = 500  # users in the passwd-file
SPECIAL_USE = {"Sent": "\\Sent", "Gesendet": "\\Sent"}
REQUIRE_ENV = "NUDGE_REQUIRE_DOVECOT"


def sbin_path() -> str:
    """PATH plus the sbin dirs, where Debian puts dovecot: an ordinary user's PATH may lack them."""
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


def dovecot_binary() -> str | None:
    return shutil.which("dovecot", path=sbin_path())


def require_dovecot() -> str:
    """The binary, or skip the test (fail it in CI, where NUDGE_REQUIRE_DOVECOT is set)."""
    binary = dovecot_binary()
    if binary:
        return binary
    reason = "dovecot is not installed (apt-get install dovecot-imapd); the IMAP tests need a real server"
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{reason}; {REQUIRE_ENV} is set, so this is an error, not a skip")
    pytest.skip(reason)


def _config(root: Path, tls_port: int, starttls_port: int, cert: Path, key: Path, uid: int, gid: int) -> str:
    mailboxes = "".join(
        f'  mailbox "{name}" {{\n    special_use = {flag}\n  }}\n' for name, flag in SPECIAL_USE.items()
    )
    rootless = ""
    if os.geteuid() != 0:
        me, group = pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name
        rootless = f"""default_internal_user = {me}
default_internal_group = {group}
default_login_user = {me}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""
    return f"""# nudge test server: made by tests/servers/dovecot.py
protocols = imap
listen = {HOST}
base_dir = {root}/run
state_dir = {root}/state
instance_name = nudge-test-{tls_port}
log_path = {root}/dovecot.log
log_timestamp = "%H:%M:%S.%{{usecs}} "
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = {uid}
last_valid_uid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
mail_location = maildir:~/Maildir:LAYOUT=fs
mail_fsync = never
namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}}}
service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {starttls_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 100
  rawlog_dir = {root}/rawlog/%u
}}
{rootless}"""


_COMMAND = re.compile(r"^\S+ (UID [A-Z]+|[A-Z]+)")


@dataclass
class Dovecot:
    root: Path
    tls_port: int
    starttls_port: int
    cafile: Path
    log: Path
    proc: subprocess.Popen[bytes]
    mail_uid: int
    mail_gid: int
    users: dict[str, str] = field(default_factory=dict)  # handed out by add_user()
    host: str = HOST
    _pool: list[tuple[str, str]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"imaps://{self.host}:{self.tls_port}"

    def options(self, user: str, security: str = "tls", **extra: Any) -> ImapOptions:
        """ImapOptions for `user` (password inline), trusting the test certificate."""
        port = self.tls_port if security == "tls" else self.starttls_port
        values: dict[str, Any] = {
            "host": self.host,
            "port": port,
            "security": security,
            "cafile": str(self.cafile),
            "username": user,
            "password": self.users[user],
            "timeout": 10,
        }
        return ImapOptions.model_validate(values | extra)

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, self.mail_uid, self.mail_gid)

    def add_user(self, sent: bool = True) -> tuple[str, str]:
        """(name, password) of a user no test has had; with `sent`, its "Sent" folder exists (flagged).

        Users come from a pool written to the passwd-file at start: Dovecot re-reads that
        file at most once a second, so a user appended mid-run may be unknown for a second.
        """
        name, password = self._pool.pop(0)
        self.users[name] = password
        rawlog = self.root / "rawlog" / name
        rawlog.mkdir(parents=True)
        self._own(rawlog)
        if sent:
            self.create_folder(name, "Sent")
        return name, password

    @contextmanager
    def client(self, user: str) -> Iterator[IMAPClient]:
        """A logged-in IMAPClient over implicit TLS, for writing test data."""
        context = ssl.create_default_context(cafile=str(self.cafile))
        client = IMAPClient(self.host, self.tls_port, ssl_context=context, timeout=30)
        try:
            client.login(user, self.users[user])
            yield client
        finally:
            client.logout()

    def create_folder(self, user: str, name: str) -> None:
        """A folder; flagged \\Sent only if its name is one of SPECIAL_USE's."""
        with self.client(user) as c:
            c.create_folder(name)

    def append(
        self,
        user: str,
        folder: str,
        message: bytes,
        flags: Iterable[str | bytes] = (),
        date: dt.datetime | None = None,
    ) -> int:
        """IMAP APPEND one message (internal date `date`, default now); returns its UID (UIDPLUS)."""
        with self.client(user) as c:
            return self._append(c, folder, message, flags, date)

    def append_many(
        self, user: str, folder: str, messages: Iterable[bytes | tuple[bytes, dt.datetime]]
    ) -> list[int]:
        """APPEND several messages over one connection (each bytes, or (bytes, internal date))."""
        with self.client(user) as c:
            out = []
            for m in messages:
                message, date = m if isinstance(m, tuple) else (m, None)
                out.append(self._append(c, folder, message, (), date))
            return out

    @staticmethod
    def _append(
        c: IMAPClient, folder: str, message: bytes, flags: Iterable[str | bytes], date: dt.datetime | None
    ) -> int:
        reply = c.append(folder, message, flags=tuple(flags), msg_time=date)
        m = re.search(rb"APPENDUID \d+ (\d+)", reply)
        assert m, f"no APPENDUID in {reply!r}"
        return int(m[1])

    def uidvalidity(self, user: str, folder: str) -> int:
        with self.client(user) as c:
            return int(c.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def flags(self, user: str, folder: str) -> dict[int, set[bytes]]:
        """Each message's flags by UID (read-only, so this look changes nothing)."""
        with self.client(user) as c:
            c.select_folder(folder, readonly=True)
            return {uid: set(d[b"FLAGS"]) for uid, d in c.fetch(c.search("ALL"), ["FLAGS"]).items()}

    def rebuild_folder(self, user: str, folder: str) -> int:
        """Give `folder` a new UIDVALIDITY, as a server repair does; returns it.

        IMAP cannot delete the INBOX, so its UIDVALIDITY is set with doveadm (the UIDs stay);
        any other folder is deleted and re-created with the same messages (new UIDs too).
        """
        old = self.uidvalidity(user, folder)
        if folder.upper() == "INBOX":
            new = max(old + 1, int(time.time()))
            self.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(new), folder)
            return self.uidvalidity(user, folder)
        with self.client(user) as c:
            c.select_folder(folder)
            saved = c.fetch(c.search("ALL"), ["RFC822", "FLAGS", "INTERNALDATE"])
            c.close_folder()
            c.delete_folder(folder)
            c.create_folder(folder)
            for uid in sorted(saved):
                d = saved[uid]
                flags = [f for f in d[b"FLAGS"] if f != b"\\Recent"]
                c.append(folder, d[b"RFC822"], flags=flags, msg_time=d[b"INTERNALDATE"])
        new = self.uidvalidity(user, folder)
        assert new != old, "Dovecot kept the UIDVALIDITY of a re-created folder"
        return new

    def doveadm(self, *args: str) -> str:
        """Run doveadm against this instance's config; its output."""
        binary = shutil.which("doveadm", path=sbin_path())
        assert binary, "doveadm is not installed (it comes with dovecot-core)"
        done = subprocess.run(
            [binary, "-c", str(self.root / "dovecot.conf"), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, f"doveadm {' '.join(args)}: {done.stderr or done.stdout}"
        return done.stdout

    def sessions(self, user: str) -> dict[str, list[str]]:
        """Rawlog: the commands of each IMAP session of `user` (after login), by session file."""
        out = {}
        for path in sorted((self.root / "rawlog" / user).glob("*.in")):
            commands = []
            for line in path.read_text(errors="replace").splitlines():
                m = _COMMAND.match(line.partition(" ")[2])  # drop rawlog's timestamp
                if m:
                    commands.append(m[1])
            out[path.name] = commands
        return out

    def commands_since(self, user: str, before: Iterable[str], timeout: float = 5) -> list[list[str]]:
        """The commands of the sessions not in `before`, once each has logged out."""
        known = set(before)
        deadline = time.monotonic() + timeout
        while True:
            new = {k: v for k, v in self.sessions(user).items() if k not in known}
            if all(v and v[-1] == "LOGOUT" for v in new.values()) or time.monotonic() > deadline:
                return [new[k] for k in sorted(new)]
            time.sleep(0.02)


def _wait_listening(proc: subprocess.Popen[bytes], port: int, log: Path, out: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = out.read_text(errors="replace")
            text += log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"dovecot exited with {proc.returncode}:\n{text[-3000:]}")
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"dovecot did not listen on {port} within {seconds} s")


def start_dovecot(keep_log: Path | None = None) -> Dovecot:
    """Start a fresh Dovecot; `stop_dovecot()` ends it and removes its directory."""
    binary = dovecot_binary()
    if not binary:
        raise RuntimeError("dovecot is not installed (apt-get install dovecot-imapd)")
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        uid, gid = nobody.pw_uid, nobody.pw_gid
    else:
        uid, gid = os.geteuid(), os.getegid()
    for attempt in range(3):  # a free port can be taken between picking and binding
        root = Path(tempfile.mkdtemp(prefix="nudge-dovecot-"))
        root.chmod(0o711)
        for sub in ("run", "state", "mail", "rawlog"):
            (root / sub).mkdir()
        pool = [(f"user{i}", f"pw-{secrets.token_urlsafe(12)}") for i in range(1, POOL + 1)]
        (root / "users").write_text("".join(f"{n}:{{PLAIN}}{p}\n" for n, p in pool))
        (root / "users").chmod(0o644)  # read by Dovecot's auth process (user dovecot as root)
        if os.geteuid() == 0:
            for sub in ("mail", "rawlog"):
                os.chown(root / sub, uid, gid)
        tls = make_cert(root, "nudge test IMAP")
        cert, key = tls.cert, tls.key
        tls_port, starttls_port = free_port(), free_port()
        conf = root / "dovecot.conf"
        conf.write_text(_config(root, tls_port, starttls_port, cert, key, uid, gid))
        out = root / "dovecot.out"
        with out.open("wb") as sink:
            proc = subprocess.Popen(
                [binary, "-F", "-c", str(conf)],
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop_dovecot() can check none is left
            )
        server = Dovecot(
            root, tls_port, starttls_port, cert, root / "dovecot.log", proc, uid, gid, _pool=pool
        )
        try:
            _wait_listening(proc, starttls_port, server.log, out, 15)
            _wait_listening(proc, tls_port, server.log, out, 15)
        except RuntimeError:
            stop_dovecot(server, keep_log)
            if attempt == 2:
                raise
            continue
        return server
    raise AssertionError("unreachable")


def _live_in_group(pgid: int) -> list[int]:
    """Processes of group `pgid` that still run (zombies are dead: pid 1 may be slow to reap them)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields and fields[0] != "Z" and int(fields[2]) == pgid:
            pids.append(int(stat.parent.name))
    return pids


def stop_dovecot(server: Dovecot, keep_log: Path | None = None) -> None:
    """SIGTERM Dovecot's process group (the master alone takes a second to end its children).

    Then make sure none of the group is left, keep the log if asked, remove the directory.
    """
    pgid = server.proc.pid  # start_new_session: the master leads its own group
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    try:
        server.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()
    deadline = time.monotonic() + 5
    while _live_in_group(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if _live_in_group(pgid):
        with suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    if keep_log is not None and server.log.exists():
        keep_log.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(server.log, keep_log)
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="module")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    """One Dovecot per test module; each test makes its own user(s) with `add_user()`."""
    require_dovecot()
    keep = tmp_path_factory.mktemp("dovecot") / "dovecot.log"
    server = start_dovecot()
    yield server
    stop_dovecot(server, keep)
