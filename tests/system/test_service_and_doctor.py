"""The systemd unit, `nudge service`, `nudge doctor`, and the daemon's decisions."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nudge import config, daemon, doctor, log, unit
from nudge.cli import app
from tests.builders import vcard
from tests.servers.smtp import PASSWORD, StartServer, smtp_cert, smtp_server

__all__ = ["smtp_cert", "smtp_server"]
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def settings_at(**digest: object) -> config.Settings:
    return config.validate({"timezone": "Europe/Berlin", "digest": {"workdays": ["mon", "tue"], **digest}})


@pytest.mark.parametrize(
    ("local", "state", "due"),
    [
        ("2026-11-23T07:29", None, False),  # Monday, before 07:30
        ("2026-11-23T07:30", None, True),
        ("2026-11-23T11:59", "failed", True),
        ("2026-11-23T11:59", "planned", True),
        ("2026-11-23T12:00", None, False),  # the cutoff
        ("2026-11-23T09:00", "sent", False),
        ("2026-11-23T09:00", "sending", False),  # may have gone out: never twice
        ("2026-11-25T09:00", None, False),  # Wednesday is not a workday here
    ],
)
def test_catch_up_due(local: str, state: str | None, due: bool) -> None:
    s = settings_at(time="07:30", cutoff="12:00")
    now = datetime.fromisoformat(local).replace(tzinfo=s.tz).astimezone(UTC)
    assert daemon.catch_up_due(s, now, state) is due


def test_retry_backoff_doubles_up_to_fifteen_minutes() -> None:
    s = settings_at(retry_delay=60)
    assert [daemon.retry_delay(s, n) for n in (1, 2, 3, 4, 5, 9)] == [60, 120, 240, 480, 900, 900]


def test_repository_unit_is_the_generated_one() -> None:
    assert (ROOT / "systemd" / "nudge.service").read_text() == unit.unit_text(unit.REPO_EXEC)
    text = unit.unit_text("/x/nudge run")
    for line in (
        "Type=notify",
        "Restart=on-failure",
        "WatchdogSec=",
        "WantedBy=default.target",
        "UMask=0077",
        "NoNewPrivileges=yes",
        "ExecStart=/x/nudge run",
    ):
        assert line in text


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_installed_unit(tmp_path: Path) -> None:
    path = tmp_path / "nudge.service"
    path.write_text(unit.unit_text(unit.installed_exec()))
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    done = subprocess.run(
        ["systemd-analyze", "verify", "--user", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""  # unknown keys are only warnings


def test_service_install_writes_the_unit_with_this_installation(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("")
    result = runner.invoke(app, ["--config", str(cfg), "service", "install"])
    assert result.exit_code == 0, result.output
    path = unit.unit_dir() / "nudge.service"
    text = path.read_text()
    assert f"ExecStart={unit.installed_exec(str(cfg))}" in text
    assert f"--config {cfg.resolve()} run" in text
    assert "systemctl --user enable --now nudge" in result.output
    status = runner.invoke(app, ["service", "status"])
    assert "Installed" in status.output
    assert runner.invoke(app, ["service", "uninstall"]).exit_code == 0
    assert not path.exists()
    assert runner.invoke(app, ["service", "status"]).exit_code == 1


def test_doctor_all_good(tmp_path: Path, smtp_server: StartServer, monkeypatch: pytest.MonkeyPatch) -> None:
    server = smtp_server("starttls")
    monkeypatch.setenv("NUDGE_TEST_SMTP_PASSWORD", PASSWORD)
    book = tmp_path / "c.vcf"
    book.write_text(vcard("a", "Ana Ruiz", emails=("ana@example.org",)))
    smtp = server.config()
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'database_url = "sqlite:///{tmp_path / "n.db"}"\n'
        '[me]\nemails = ["me@example.com"]\n'
        f'[[sources]]\ntype = "files"\nname = "book"\npaths = ["{book}"]\n'
        "[smtp]\n" + "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in smtp.items())
    )
    result = runner.invoke(app, ["--config", str(cfg), "doctor"])
    assert result.exit_code == 0, result.output
    assert "[ok  ] config" in result.output
    assert "[ok  ] source book: 1 collections (contacts)" in result.output
    assert "[ok  ] smtp: 127.0.0.1" in result.output and "logged in as digest-bot" in result.output
    assert PASSWORD not in result.output


def test_doctor_names_each_failure_and_its_fix(
    tmp_path: Path, make_settings: Callable[..., config.Settings]
) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'database_url = "sqlite:///{tmp_path / "n.db"}"\n'
        '[me]\nemails = ["me@example.com"]\n'
        f'[[sources]]\ntype = "files"\nname = "gone"\npaths = ["{tmp_path / "missing.vcf"}"]\n'
        '[smtp]\nhost = "127.0.0.1"\nport = 1\nsecurity = "none"\ntimeout = 2\n'
    )
    checks = {c.name: c for c in doctor.run_checks(str(cfg))}
    assert not checks["source gone"].ok and "no such file" in checks["source gone"].detail
    assert not checks["smtp"].ok and "ConnectionRefusedError" in checks["smtp"].detail
    assert checks["smtp"].fix
    result = runner.invoke(app, ["--config", str(cfg), "doctor"])
    assert result.exit_code == 1 and "2 check(s) failed" in result.output and "fix:" in result.output


def test_doctor_wants_your_own_addresses(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'database_url = "sqlite:///{tmp_path / "n.db"}"\n')
    checks = {c.name: c for c in doctor.run_checks(str(cfg))}
    assert not checks["me"].ok and "[me] emails" in checks["me"].fix


def test_doctor_reports_a_broken_config(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[digest]\ndaily_size = -1\n")
    result = runner.invoke(app, ["--config", str(cfg), "doctor"])
    assert result.exit_code == 1
    assert "[FAIL] config: digest.daily_size" in result.output


def test_log_lines_carry_syslog_priorities_under_the_journal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "8:1")
    log.setup(1)
    logging.getLogger("nudge.test").warning("disk %s", "full")
    logging.getLogger("nudge.test").info("hello")
    err = capsys.readouterr().err.splitlines()
    assert err == ["<4>nudge.test: disk full", "<6>nudge.test: hello"]
    monkeypatch.delenv("JOURNAL_STREAM")
    log.setup(0)
    logging.getLogger("nudge.test").warning("plain")
    assert capsys.readouterr().err.rstrip().endswith("WARNING nudge.test: plain")


def test_a_wall_clock_jump_schedules_a_sync_and_catch_up(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'database_url = "sqlite:///{tmp_path / "n.db"}"\n')
    d = daemon.Daemon(str(cfg))
    d.schedule()
    d.tick()
    assert d.scheduler.get_job("wake") is None  # no jump, nothing extra
    d._wall -= 3600  # as if the machine slept an hour between two ticks
    d.tick()
    job = d.scheduler.get_job("wake")
    assert job is not None and job.func == d.startup_job
    d.engine.dispose()


def test_stopping_while_a_job_finishes_does_not_deadlock(tmp_path: Path) -> None:
    """A job that touches the scheduler as it ends (status, retries) must not block the stop."""
    import threading

    cfg = tmp_path / "config.toml"
    cfg.write_text(f'database_url = "sqlite:///{tmp_path / "n.db"}"\n')
    d = daemon.Daemon(str(cfg))
    d.schedule()
    d.scheduler.start()
    working, release = threading.Event(), threading.Event()

    def job() -> None:
        with d.mailing:  # a digest being sent
            working.set()
            release.wait(5)
        d.scheduler.get_job("digest")  # what publish_status does after a digest

    d.scheduler.add_job(job)
    assert working.wait(5)
    stopper = threading.Thread(target=d.stop)
    stopper.start()
    time.sleep(0.3)
    assert stopper.is_alive()  # it waits for the running job ...
    release.set()
    stopper.join(5)
    assert not stopper.is_alive()  # ... and then stops, no deadlock


def test_the_daemon_rests_between_jobs_with_no_idle_connections(tmp_path: Path) -> None:
    book = tmp_path / "book.vcf"
    book.write_text(vcard("a", "Ana Ruiz", emails=("ana@example.org",), categories=("top100",)))
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'database_url = "sqlite:///{tmp_path / "n.db"}"\n'
        f'[[sources]]\ntype = "files"\nname = "book"\npaths = ["{book}"]\n'
    )
    d = daemon.Daemon(str(cfg))
    d.sync_job()
    assert d.engine.pool.checkedin() == 0  # closed after the job, page caches with them
    book.write_text(book.read_text() + vcard("b", "Ben Ott", emails=("ben@example.org",)))
    d.sync_job()  # and the next job simply connects again
    assert d.status.last_sync_ok
    from sqlmodel import Session, select

    from nudge.store.models import Contact

    with Session(d.engine) as s:
        assert sorted(c.name for c in s.exec(select(Contact))) == ["Ana Ruiz", "Ben Ott"]
    d.engine.dispose()


def test_a_password_in_a_source_url_never_shows_in_doctor_sync_or_the_log(tmp_path: Path) -> None:
    """`url = "http://bob:pw@host/"` is a real login: refused nowhere, shown nowhere."""
    import socket
    import sys

    with socket.socket() as closed:  # a port where nothing listens: every attempt fails, naming the URL
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'database_url = "sqlite:///{tmp_path / "n.db"}"\n[me]\nemails = ["me@example.com"]\n'
        f'[[sources]]\ntype = "carddav"\nname = "dav"\nurl = "http://bob:dav-s3cret@127.0.0.1:{port}/dav/"\n'
        "timeout = 2\n"
    )
    cfg.chmod(0o600)
    checks = {c.name: c for c in doctor.run_checks(str(cfg))}
    assert not checks["source dav"].ok and f"127.0.0.1:{port}" in checks["source dav"].detail
    result = runner.invoke(app, ["--config", str(cfg), "doctor"])
    assert f"127.0.0.1:{port}" in result.output and "dav-s3cret" not in result.output
    done = subprocess.run(
        [sys.executable, "-m", "nudge", "-vv", "--config", str(cfg), "sync"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and "cannot connect" in done.stdout
    assert "dav-s3cret" not in done.stdout + done.stderr
    assert "dav-s3cret" not in (tmp_path / "n.db").read_bytes().decode("latin-1")  # nor the stored error


def test_any_failure_of_the_digest_job_is_a_failed_day_retried_with_its_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Not only SMTP errors: a template that breaks at render time fails the day, which is
    retried (with backoff) and sent once the cause is gone; never a dead `planned` day."""
    from sqlmodel import Session, select

    from nudge.store.models import DigestRun

    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "digest.txt.j2").write_text("{{ 1 // 0 }}\n")  # an override that raises
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'timezone = "UTC"\ndatabase_url = "sqlite:///{tmp_path / "n.db"}"\n'
        f'maildir = "{tmp_path / "Maildir"}"\n'
        f'[digest]\ntime = "00:00"\ncutoff = "23:59"\nretry_delay = 30\n'
        f'workdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\ntemplates_dir = "{templates}"\n'
    )
    d = daemon.Daemon(str(cfg))
    d.schedule()
    try:
        with caplog.at_level(logging.WARNING, "nudge.daemon"):
            d.digest_job()
        with Session(d.engine) as s:
            [run] = s.exec(select(DigestRun)).all()
        assert run.state == "failed" and "ZeroDivisionError" in (run.error or "")
        retry = d.scheduler.get_job("digest-retry")
        assert retry is not None
        assert "ZeroDivisionError" in caplog.text and "retrying in 30 s" in caplog.text
        (templates / "digest.txt.j2").unlink()  # the user fixes the template
        retry.func()
        with Session(d.engine) as s:
            [run] = s.exec(select(DigestRun)).all()
        assert run.state == "sent" and len(list((tmp_path / "Maildir" / "new").iterdir())) == 1
    finally:
        d.engine.dispose()
