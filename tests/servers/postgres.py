"""A real PostgreSQL on 127.0.0.1 for the tests: `initdb` + `pg_ctl` into a temp dir, a database per test.

The binaries are Debian's (`postgresql`): `pg_config --bindir` when it names a directory with
`initdb`, else the newest /usr/lib/postgresql/N/bin. One server runs per test session; each test
gets a database of its own, made by CREATE DATABASE ... TEMPLATE (tens of milliseconds) and
dropped WITH (FORCE) after it, so an engine a test forgot to dispose cannot keep it alive.
`postgres_store_url` copies a template that nudge's migrations brought up to date once per
session; `postgres_url` is an empty database.

The server listens on 127.0.0.1 only (`-h 127.0.0.1`) on a free port, and on a Unix socket in
its own 0700 directory (`-k`), never in /var/run/postgresql. The superuser `nudge` logs in over
TCP with a random password (scram-sha-256), given in the URL or, for a URL without one (as a config
file others can read must have), by the libpq password file the fixture names in PGPASSFILE; only
the socket, which no one but the server's user can reach, is trusted. The cluster Debian may have
made (`main`) is never touched.

Root: initdb refuses to run as UID 0, so as root the server runs as `nobody` (subprocess's
`user`/`group`, the same as `setpriv --reuid`), as the Dovecot harness does for its mail
processes; the directory then lives in the system temp dir, since pytest's tmp_path has 0700
parents `nobody` cannot cross. As an ordinary user the server runs as that user.

For speed and for honesty it is configured as no production server is and as many are:
durability is off (fsync, full_page_writes, synchronous_commit), which only matters if the
machine crashes mid-test; its TimeZone is not UTC, so a timestamp that silently takes the
server's zone shows up as a wrong hour rather than passing by luck; and text compares and sorts
as on most servers (ICU's en-US: "anna" before "Ben", '}' before '|'), not byte by byte as in
SQLite and in the C locale, so a query that relies on byte order fails here as it would there.
ICU ships with Debian's server, so this needs no system locale (PostgreSQL 15+; older servers
get C.UTF-8).

pg_ctl detaches the postmaster (its own session), so a test run killed with SIGKILL would leave
it running: each start first stops the servers of earlier runs whose pytest process is gone
(their directory names that PID in `owner.pid`).

Skipped with a clear reason when PostgreSQL or psycopg is missing, unless NUDGE_REQUIRE_POSTGRES
is set (as `.ci/run` does), which turns the skip into a failure.
"""

from __future__ import annotations

import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.servers.loopback import HOST, free_port

REQUIRE_ENV = "NUDGE_REQUIRE_POSTGRES"
DEBIAN_ROOT = Path("/usr/lib/postgresql")  # Debian's postgresql-N puts its binaries in N/bin
USER = "nudge"  # the superuser initdb makes, the one the tests log in as
SERVER_TIMEZONE = "America/New_York"  # not UTC, on purpose (see the module's docstring)
COLLATION = "en-US"  # ICU locale of the databases' text order (PostgreSQL 15+), as on most servers
PREFIX = "nudge-postgres-"
SETTINGS = {
    # Durability off: a test database never outlives a crash of the machine.
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "timezone": f"'{SERVER_TIMEZONE}'",
    "log_timezone": "'UTC'",
    "lc_messages": "'C'",
    # Each test's engines keep a few pooled connections until the database is dropped.
    "max_connections": "200",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
}


def _version(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", path.parent.name)) or (0,)


def postgres_bindir() -> Path | None:
    """The directory with initdb and pg_ctl: `pg_config --bindir`, else the newest Debian one."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False
            )
            if done.returncode == 0 and done.stdout.strip():
                candidates.append(Path(done.stdout.strip()))
    candidates += sorted(DEBIAN_ROOT.glob("*/bin"), key=_version, reverse=True)
    for bindir in candidates:
        if all(os.access(bindir / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


def _missing() -> str | None:
    """Why there can be no test server here, or None."""
    if postgres_bindir() is None:
        return (
            "PostgreSQL is not installed (apt-get install postgresql: initdb and pg_ctl in "
            f"{DEBIAN_ROOT}/N/bin or `pg_config --bindir`); the PostgreSQL store tests need a real server"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[postgres]'); the PostgreSQL store tests need it"
    return None


def require_postgres() -> Path:
    """The binaries' directory, or skip the test (fail it where NUDGE_REQUIRE_POSTGRES is set)."""
    reason = _missing()
    if reason is None:
        bindir = postgres_bindir()
        assert bindir is not None
        return bindir
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{reason}; {REQUIRE_ENV} is set, so this is an error, not a skip")
    pytest.skip(reason)


def server_major(bindir: Path) -> int:
    """The major version of the server in `bindir` (15 for "postgres (PostgreSQL) 15.18 (Debian ...)")."""
    done = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, timeout=30, check=True
    )
    found = re.search(r"\) (\d+)", done.stdout)
    return int(found[1]) if found else 0


def _collation(bindir: Path) -> list[str]:
    """initdb's options for ICU's COLLATION as the default text order, where the server has it (15+)."""
    if server_major(bindir) < 15:
        return []
    return ["--locale-provider", "icu", "--icu-locale", COLLATION]


def _server_user() -> tuple[int, int]:
    """(uid, gid) the server runs as: `nobody` for root (initdb refuses UID 0), else ourselves."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        return nobody.pw_uid, nobody.pw_gid
    return os.geteuid(), os.getegid()


@dataclass
class Postgres:
    root: Path
    bindir: Path
    port: int
    password: str
    uid: int
    gid: int
    host: str = HOST
    user: str = USER
    _names: Iterator[int] = field(default_factory=itertools.count)
    _admin: Any = None  # a psycopg connection to the `postgres` database, in autocommit
    _template: str | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    @property
    def passfile(self) -> Path:
        return self.root / "pgpass"

    def url(self, database: str, driver: str = "psycopg", password: bool = True) -> str:
        """An SQLAlchemy URL for `database` (`postgresql+psycopg://`).

        Without `password` the URL has none and libpq reads it from PGPASSFILE, which the
        `postgres` fixture sets: nudge refuses a config file others can read that holds one.
        """
        secret = f":{self.password}" if password else ""
        return f"postgresql+{driver}://{self.user}{secret}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres", **kwargs: Any) -> Any:
        """A plain psycopg connection over TCP."""
        import psycopg

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            connect_timeout=10,
            **kwargs,
        )

    def admin(self, statement: str, *identifiers: str) -> list[tuple[Any, ...]]:
        """Run one statement outside a transaction (CREATE/DROP DATABASE); `{}` take quoted names."""
        from psycopg import sql

        if self._admin is None or self._admin.closed:
            self._admin = self.connect(autocommit=True)
        query = sql.SQL(statement).format(*(sql.Identifier(name) for name in identifiers))
        cur = self._admin.execute(query)
        return list(cur.fetchall()) if cur.description else []

    def create_database(self, template: str = "template1") -> str:
        """A new database (a copy of `template`); its name."""
        name = f"test_{next(self._names)}_{secrets.token_hex(3)}"
        self.admin("CREATE DATABASE {} TEMPLATE {}", name, template)
        return name

    def drop_database(self, name: str) -> None:
        """Drop it, ending whatever sessions still use it."""
        self.admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)

    def migrated_template(self) -> str:
        """A database nudge's migrations brought up to date, made once; copy it for each test."""
        if self._template is None:
            import sqlalchemy as sa

            migrate = nudge_migrate()
            name = self.create_database()
            engine = sa.create_engine(self.url(name))
            try:
                migrate(engine)
            except BaseException:
                engine.dispose()
                self.drop_database(name)
                raise
            engine.dispose()  # a template must have no sessions to be copied
            self._template = name
        return self._template

    def listening(self) -> set[str]:
        """The addresses (IPv4 and IPv6) with a socket in LISTEN state on this server's port."""
        found = set()
        for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
            with suppress(FileNotFoundError):
                for line in Path(table).read_text().splitlines()[1:]:
                    local, state = line.split()[1], line.split()[3]
                    address, _, port = local.partition(":")
                    if state == "0A" and int(port, 16) == self.port and len(address) == width:
                        found.add(_address(address))
        return found


def _address(hex_address: str) -> str:
    """/proc/net/tcp's little-endian hex address as text (IPv4 or IPv6)."""
    import ipaddress

    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))  # each 32-bit word is host order
    return str(ipaddress.ip_address(words))


def _migrations() -> Any:
    """nudge's migrations module (imported late: the harness itself needs no nudge)."""
    import importlib

    return importlib.import_module("nudge.store.migrations")


def nudge_migrate() -> Callable[[Any], Any]:
    """nudge's `migrate(engine)`."""
    return _migrations().migrate  # type: ignore[no-any-return]


def nudge_migrations() -> list[str]:
    """The names of nudge's migrations, in order."""
    return [name for name, _ in _migrations().MIGRATIONS]


def _run_as(uid: int, gid: int) -> dict[str, Any]:
    """Popen arguments that run a command as uid:gid (as `setpriv --reuid --regid --clear-groups`)."""
    if os.geteuid() == uid:
        return {}
    return {"user": uid, "group": gid, "extra_groups": []}


def _pg(bindir: Path, root: Path, uid: int, gid: int, *args: str, timeout: float = 60) -> str:
    """Run one of PostgreSQL's programs as the server's user; its output, or RuntimeError."""
    done = subprocess.run(
        [str(bindir / args[0]), *args[1:]],
        cwd=root,  # not the caller's folder, which `nobody` may not read
        env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
        **_run_as(uid, gid),
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} exited with {done.returncode}: {(done.stderr or done.stdout)[-3000:]}")
    return str(done.stdout)


def _postmaster_of(data: Path) -> int | None:
    """The PID of the postmaster running on `data`, if one does (a PID file can outlive it)."""
    with suppress(OSError, ValueError, IndexError):
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        if str(data).encode() in command:
            return pid
    return None


def _halt(bindir: Path, root: Path, uid: int, gid: int, mode: str = "fast") -> None:
    """Stop the server in `root`, if it runs: pg_ctl stop, then SIGKILL should that fail."""
    data = root / "data"
    if _postmaster_of(data) is None:
        return
    with suppress(RuntimeError, subprocess.TimeoutExpired):
        _pg(
            bindir,
            root,
            uid,
            gid,
            "pg_ctl",
            "-D",
            str(data),
            "-m",
            mode,
            "-w",
            "-t",
            "30",
            "stop",
            timeout=40,
        )
    pid = _postmaster_of(data)
    if pid is not None:
        with suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_orphans(bindir: Path, uid: int, gid: int) -> None:
    """Stop and remove the servers of earlier test runs whose pytest process is gone (kill -9)."""
    for root in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
        try:
            owner = int((root / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if _alive(owner):
            continue
        with suppress(OSError):
            _halt(bindir, root, uid, gid, "immediate")
        shutil.rmtree(root, ignore_errors=True)


def start_postgres() -> Postgres:
    """initdb into a new temp dir and start the server on a free loopback port; stop_postgres() ends it."""
    bindir = postgres_bindir()
    if bindir is None:
        raise RuntimeError(_missing() or "PostgreSQL is not installed")
    uid, gid = _server_user()
    _stop_orphans(bindir, uid, gid)
    root = Path(tempfile.mkdtemp(prefix=PREFIX))
    (root / "owner.pid").write_text(f"{os.getpid()}\n")
    root.chmod(0o711)
    socket_dir = root / "sock"
    socket_dir.mkdir(mode=0o700)
    password = secrets.token_urlsafe(18)
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    if os.geteuid() == 0:
        for path in (root, socket_dir, pwfile):
            os.chown(path, uid, gid)
    server = Postgres(root, bindir, 0, password, uid, gid)
    try:
        _pg(
            bindir,
            root,
            uid,
            gid,
            "initdb",
            "--pgdata",
            str(server.data),
            "--username",
            USER,
            "--pwfile",
            str(pwfile),
            "--auth-host",
            "scram-sha-256",
            "--auth-local",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C.UTF-8",
            *_collation(bindir),
            "--no-sync",
            "--no-instructions",
        )
        pwfile.unlink()
        with (server.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# nudge test server: made by tests/servers/postgres.py\n")
            conf.writelines(f"{key} = {value}\n" for key, value in SETTINGS.items())
        for attempt in range(3):  # a free port can be taken between picking and binding
            server.port = free_port()
            try:
                _pg(
                    bindir,
                    root,
                    uid,
                    gid,
                    "pg_ctl",
                    "--pgdata",
                    str(server.data),
                    "--log",
                    str(server.log),
                    "--wait",
                    "--timeout",
                    "60",
                    "--options",
                    f"-k {socket_dir} -h {HOST} -p {server.port}",
                    "start",
                    timeout=70,
                )
                break
            except RuntimeError as e:
                _halt(bindir, root, uid, gid)
                log = server.log.read_text(errors="replace") if server.log.exists() else ""
                if attempt == 2 or "could not bind" not in log:
                    raise RuntimeError(f"{e}\n{log[-3000:]}") from None
        # libpq's password file (read by whoever runs the tests, so theirs, 0600): host:port:db:user:password
        server.passfile.write_text(f"{HOST}:{server.port}:*:{USER}:{password}\n")
        server.passfile.chmod(0o600)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server


def stop_postgres(server: Postgres, keep_log: Path | None = None) -> None:
    """Stop the server (fast shutdown), keep its log if asked, remove its directory."""
    if server._admin is not None:
        with suppress(Exception):
            server._admin.close()
    _halt(server.bindir, server.root, server.uid, server.gid)
    if keep_log is not None and server.log.exists():
        keep_log.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(server.log, keep_log)
    shutil.rmtree(server.root, ignore_errors=True)


@dataclass
class _Shared:
    """One server for the whole session, however many modules import the fixture.

    A fixture imported into several test modules is a separate fixture in each (even at session
    scope), so the server is counted out and stopped when the last of them is torn down.
    """

    server: Postgres | None = None
    users: int = 0

    def acquire(self) -> Postgres:
        if self.server is None:
            self.server = start_postgres()
        self.users += 1
        return self.server

    def release(self, keep_log: Path | None) -> None:
        self.users -= 1
        if self.users == 0 and self.server is not None:
            stop_postgres(self.server, keep_log)
            self.server = None


_shared = _Shared()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    """The session's PostgreSQL server (skipped, or failed in CI, where there is none)."""
    require_postgres()
    keep = tmp_path_factory.getbasetemp() / "postgres.log"
    server = _shared.acquire()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PGPASSFILE", str(server.passfile))  # for URLs without a password, in subprocesses too
        yield server
    _shared.release(keep)


@pytest.fixture
def postgres_url(postgres: Postgres) -> Iterator[str]:
    """An empty database for one test, as an SQLAlchemy URL (`postgresql+psycopg://`)."""
    name = postgres.create_database()
    yield postgres.url(name)
    postgres.drop_database(name)


@pytest.fixture
def postgres_store_url(postgres: Postgres) -> Iterator[str]:
    """A database for one test with nudge's schema: a copy of a template migrated once per session."""
    name = postgres.create_database(postgres.migrated_template())
    yield postgres.url(name)
    postgres.drop_database(name)
