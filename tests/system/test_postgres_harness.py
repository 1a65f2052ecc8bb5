"""The PostgreSQL test harness (tests/servers/postgres.py) gives what the store tests will rely on.

A real server reached through SQLAlchemy and psycopg 3 (`postgresql+psycopg://`, the URL a user
writes), a database of its own per test, loopback only; and without PostgreSQL, a skip that
says what to install, or a failure where NUDGE_REQUIRE_POSTGRES is set.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.servers import postgres as harness
from tests.servers.loopback import HOST
from tests.servers.postgres import Postgres, postgres, postgres_store_url, postgres_url

__all__ = ["postgres", "postgres_store_url", "postgres_url"]  # fixtures

_seen_databases: list[str] = []


def test_sqlalchemy_with_psycopg3_creates_inserts_and_reads(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql+psycopg://")
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            assert conn.dialect.driver == "psycopg"
            conn.execute(sa.text("CREATE TABLE person (id SERIAL PRIMARY KEY, name TEXT NOT NULL)"))
            conn.execute(sa.text("INSERT INTO person (name) VALUES (:n)"), [{"n": "Ada"}, {"n": "Grace"}])
        with engine.connect() as conn:
            names = conn.execute(sa.text("SELECT name FROM person ORDER BY id")).scalars().all()
            version = conn.execute(sa.text("SHOW server_version")).scalar_one()
    finally:
        engine.dispose()
    assert names == ["Ada", "Grace"]
    assert int(version.split(".")[0]) >= 13  # DROP DATABASE ... WITH (FORCE)


@pytest.mark.parametrize("turn", ["first", "second"])
def test_each_test_gets_a_database_of_its_own(postgres_url: str, turn: str) -> None:
    """Both turns make the same table: whichever runs second would find the other's if they shared."""
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            name = conn.execute(sa.text("SELECT current_database()")).scalar_one()
            tables = sa.inspect(conn).get_table_names()
            conn.execute(sa.text("CREATE TABLE marker (turn TEXT)"))
            conn.execute(sa.text("INSERT INTO marker VALUES (:t)"), {"t": turn})
    finally:
        engine.dispose()
    assert tables == []
    assert name not in _seen_databases
    _seen_databases.append(name)


def test_databases_are_dropped_after_their_tests(postgres: Postgres) -> None:
    """No test database outlives its test (the ones above are gone); only the migrated template stays."""
    names = {row[0] for row in postgres.admin("SELECT datname FROM pg_database")}
    assert {n for n in names if n.startswith("test_")} <= {postgres._template}
    assert not set(_seen_databases) & names


def test_the_server_listens_on_loopback_only(postgres: Postgres) -> None:
    assert postgres.listening() == {HOST}
    with postgres.connect() as conn:
        assert conn.execute("SHOW listen_addresses").fetchone() == (HOST,)
        socket_dirs = conn.execute("SHOW unix_socket_directories").fetchone()
    assert socket_dirs == (str(postgres.socket_dir),)
    assert postgres.socket_dir.stat().st_mode & 0o077 == 0
    other = _non_loopback_address()
    if other is not None:  # a machine with a network: that address must refuse the port
        with pytest.raises(OSError), socket.create_connection((other, postgres.port), timeout=2):
            pass


def _non_loopback_address() -> str | None:
    """One IPv4 address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent for a UDP connect
        except OSError:
            return None
        address = str(s.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_a_password_is_needed_over_tcp(postgres: Postgres) -> None:
    import psycopg

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(
            host=postgres.host,
            port=postgres.port,
            user=postgres.user,
            password="wrong",
            dbname="postgres",
            connect_timeout=5,
        )


def test_a_url_without_a_password_logs_in_by_the_password_file(postgres_url: str, postgres: Postgres) -> None:
    """What a config file others can read holds: nudge refuses one with a password in it."""
    bare = postgres_url.replace(f":{postgres.password}@", "@")
    assert postgres.password not in bare
    engine = sa.create_engine(bare)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT current_user")).scalar_one() == postgres.user
    finally:
        engine.dispose()
    assert postgres.url("x", password=False) == f"postgresql+psycopg://nudge@{HOST}:{postgres.port}/x"


def test_the_server_zone_is_not_utc(postgres: Postgres) -> None:
    """So a timestamp that takes the server's zone shows up as a wrong hour in the store tests."""
    with postgres.connect() as conn:
        zone = conn.execute("SHOW TimeZone").fetchone()
        offset = conn.execute("SELECT now() AT TIME ZONE 'UTC' - now()::timestamp").fetchone()
    assert zone == (harness.SERVER_TIMEZONE,)
    assert offset is not None and offset[0].total_seconds() != 0


def test_text_sorts_as_on_most_servers_not_byte_by_byte(postgres_url: str, postgres: Postgres) -> None:
    """So a query that relies on SQLite's byte order (a prefix as a range, say) fails here too."""
    if harness.server_major(postgres.bindir) < 15:
        pytest.skip("PostgreSQL before 15 has no ICU default collation; its databases use C.UTF-8")
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            order = conn.execute(
                sa.text("SELECT w FROM (VALUES ('Ben'), ('anna'), ('a|'), ('a}')) AS t(w) ORDER BY w")
            ).scalars()
            words = list(order)
    finally:
        engine.dispose()
    assert words == ["a}", "a|", "anna", "Ben"]  # bytes would give ['Ben', 'a|', 'a}', 'anna']


def test_a_store_database_is_a_migrated_copy_of_its_own(postgres_store_url: str, postgres: Postgres) -> None:
    """It has nudge's schema; a row written there is not in the template the next copies come from."""
    engine = sa.create_engine(postgres_store_url)
    try:
        with engine.begin() as conn:
            name = conn.execute(sa.text("SELECT current_database()")).scalar_one()
            tables = set(sa.inspect(conn).get_table_names())
            applied = conn.execute(sa.text("SELECT count(*) FROM nudge_migrations")).scalar_one()
            conn.execute(
                sa.text("INSERT INTO contact (name, warmth_sum, created_at) VALUES ('Ada', 0, :at)"),
                {"at": datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)},
            )
    finally:
        engine.dispose()
    assert {"contact", "touch", "digestrun", "nudge_migrations"} <= tables
    assert applied == len(harness.nudge_migrations())
    template = postgres.migrated_template()
    assert name != template
    with postgres.connect(template) as conn:
        assert conn.execute("SELECT count(*) FROM contact").fetchone() == (0,)


def test_the_server_does_not_run_as_root(postgres: Postgres) -> None:
    """initdb refuses UID 0; as root the harness runs the server as `nobody`."""
    pid = int((postgres.data / "postmaster.pid").read_text().splitlines()[0])
    uid = Path(f"/proc/{pid}").stat().st_uid
    assert uid != 0
    assert uid == postgres.uid


def _no_postgres_here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A machine without PostgreSQL: no pg_config on PATH, an empty /usr/lib/postgresql."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setattr(harness, "DEBIAN_ROOT", tmp_path / "no-postgresql")


def test_without_postgresql_the_tests_skip_saying_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_postgres_here(monkeypatch, tmp_path)
    monkeypatch.delenv(harness.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install postgresql"):
        harness.require_postgres()


def test_without_postgresql_ci_fails_instead_of_skipping(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_postgres_here(monkeypatch, tmp_path)
    monkeypatch.setenv(harness.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=r"NUDGE_REQUIRE_POSTGRES is set"):
        harness.require_postgres()


def test_pg_config_is_asked_first_then_the_newest_debian_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Debian's /usr/lib/postgresql/N/bin: the newest complete one; `pg_config --bindir` before it."""
    debian = tmp_path / "lib-postgresql"
    for version, programs in (
        ("9.6", ("initdb", "pg_ctl", "postgres")),
        ("15", ("initdb", "pg_ctl", "postgres")),
    ):
        _programs(debian / version / "bin", programs)
    _programs(debian / "16" / "bin", ("initdb",))  # half installed: no server
    monkeypatch.setattr(harness, "DEBIAN_ROOT", debian)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert harness.postgres_bindir() == debian / "15" / "bin"

    elsewhere = tmp_path / "opt-pg" / "bin"
    _programs(elsewhere, ("initdb", "pg_ctl", "postgres"))
    (tmp_path / "bin").mkdir()
    pg_config = tmp_path / "bin" / "pg_config"
    pg_config.write_text(f"#!/bin/sh\necho {elsewhere}\n")
    pg_config.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert harness.postgres_bindir() == elsewhere


def _programs(folder: Path, names: tuple[str, ...]) -> None:
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_text("#!/bin/sh\n")
        (folder / name).chmod(0o755)
