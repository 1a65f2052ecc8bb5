"""The commands that set nudge up and keep it running: init, the daemon and its systemd unit,
`doctor`, account access, the demo and shell completion."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from nudge.cli.common import COMPLETE_VAR, SHELLS, State, handled, now, settings
from nudge.errors import NudgeError

STARTER = """\
# nudge config. Every key, with its default, is documented in config.example.toml.
timezone = "{tz}"

[me]
name = ""
emails = []          # your own addresses, e.g. ["me@example.com"]
# region = "DE"      # phone numbers without +country; default: your time zone's country

[digest]
time = "07:30"
daily_size = 5
# to = "me@example.com"

# [[sources]]
# type = "files"
# name = "address-book"
# paths = ["~/contacts.vcf", "~/calendar.ics"]

# Without [smtp] the digest goes to a Maildir in the data folder.
# [smtp]
# host = "smtp.example.com"
# security = "starttls"
# username = "me@example.com"
# password_command = "pass show mail/smtp"
"""


@handled
def init(
    force: Annotated[bool, typer.Option(help="Overwrite an existing config.")] = False,
) -> None:
    """Write a starter config (mode 0600) and create the data folder."""
    from nudge import config

    path = Path(State.config or os.environ.get("NUDGE_CONFIG") or config.default_config_path()).expanduser()
    if path.exists() and not force:
        raise NudgeError(f"{path} exists; use --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(STARTER.format(tz=config.local_zone().key))
    os.chmod(path, 0o600)
    config.data_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
    typer.echo(f"Wrote {path}\nData folder: {config.data_dir()}\nNext: add a source, then run `nudge sync`.")


@handled
def run(
    once: Annotated[
        bool,
        typer.Option(
            "--once",
            help="Sync, read replies, send today's digest if it is due, and exit (for cron); "
            "exit 1 if anything failed.",
        ),
    ] = False,
    team: Annotated[
        bool,
        typer.Option(
            "--team",
            help="Serve every user of the team folder; several such daemons (processes or machines) "
            "share the work.",
        ),
    ] = False,
) -> None:
    """Run the daemon: sync every sync.interval minutes, send the digest each workday morning.

    It logs what it does at INFO (each sync, each digest or why none, each reply, each failure).
    """
    from nudge import daemon, log

    log.setup(max(State.verbose, 1))  # the daemon tells its story by default; -vv for debug
    if team:
        from nudge import team_daemon

        if once or State.user:
            raise NudgeError("--team serves every user, all day: use it without --once and --user")
        raise typer.Exit(team_daemon.run(State.config))
    user = State.user
    raise typer.Exit(daemon.once(State.config, user) if once else daemon.run(State.config, user))


@handled
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """Check config, database, sources, SMTP and the service; exit 1 if anything fails."""
    from nudge import doctor as doctor_mod

    failed = 0
    if as_json:
        from nudge.secrets import mask

        checks = list(doctor_mod.run_checks(State.config, user=State.user))
        out = {
            "ok": all(c.ok for c in checks),
            "checks": [
                {"name": c.name, "ok": c.ok, "detail": mask(c.detail), "fix": mask(c.fix) if not c.ok else ""}
                for c in checks
            ],
        }
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
        raise typer.Exit(0 if out["ok"] else 1)
    for check in doctor_mod.run_checks(State.config, user=State.user):
        typer.echo(check.line())
        failed += not check.ok
    if failed:
        typer.echo(f"{failed} check(s) failed.")
        raise typer.Exit(1)


@handled
def auth_google(
    account: Annotated[str, typer.Option(help="The `account` of your google_* sources.")] = "default",
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the consent URL and paste the result (over SSH).")
    ] = False,
    client_secrets: Annotated[
        str | None, typer.Option(help="The Desktop-app OAuth client file (default: from the config).")
    ] = None,
) -> None:
    """Authorise read-only access to Google Contacts and Calendar, and Gmail headers if configured."""
    from nudge import service
    from nudge.extras import require_extra

    require_extra("google", "nudge auth google")
    path = service.authorize_google(settings(), account, no_browser, client_secrets)
    typer.echo(f"Authorised. The token is in {path} (mode 0600). Next: nudge sync")


@handled
def service_install(
    enable: Annotated[
        bool, typer.Option("--enable", help="Also run `systemctl --user enable --now nudge`.")
    ] = False,
    team: Annotated[
        bool, typer.Option("--team", help="The unit runs `nudge run --team` (every user of the team folder).")
    ] = False,
) -> None:
    """Write the user unit with this installation's `nudge run`, and say how to start it."""
    from nudge import unit

    exec_start = unit.installed_exec(State.config) + (" --team" if team else "")
    path = unit.unit_dir() / unit.UNIT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(unit.unit_text(exec_start), encoding="utf-8")
    typer.echo(f"Wrote {path}\n  ExecStart={exec_start}")
    commands = [("daemon-reload",), ("enable", "--now", unit.UNIT_NAME)]
    if enable:
        for args in commands:
            done = unit.systemctl(*args)
            if done is None:
                raise NudgeError("systemctl is not available here; start `nudge run` another way")
            if done.returncode != 0:
                raise NudgeError(f"systemctl --user {' '.join(args)} failed: {done.stderr.strip()}")
        typer.echo("Enabled and started. Logs: journalctl --user -u nudge -f")
    else:
        typer.echo("Now run:\n  systemctl --user daemon-reload\n  systemctl --user enable --now nudge")


@handled
def service_uninstall() -> None:
    """Stop and disable the service and remove the unit file."""
    from nudge import unit

    path = unit.unit_dir() / unit.UNIT_NAME
    unit.systemctl("disable", "--now", unit.UNIT_NAME)
    if path.exists():
        path.unlink()
        unit.systemctl("daemon-reload")
        typer.echo(f"Removed {path}")
    else:
        typer.echo(f"No unit at {path}")


@handled
def service_status() -> None:
    """Whether the unit is installed and running."""
    from nudge import unit

    path = unit.unit_dir() / unit.UNIT_NAME
    if not path.exists():
        typer.echo(f"Not installed ({path} does not exist). Run `nudge service install`.")
        raise typer.Exit(1)
    typer.echo(f"Installed: {path}")
    done = unit.systemctl("status", "--no-pager", unit.UNIT_NAME)
    typer.echo(done.stdout.strip() if done is not None else "systemctl is not available here")


@handled
def demo(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to put the demo data (default: a new temporary folder)."),
    ] = None,
) -> None:
    """Sync bundled sample data into a throwaway store and show a real digest."""
    from nudge import demo as demo_mod

    result = demo_mod.run(directory, now())
    typer.echo(result.text, nl=False)
    typer.echo(f"\nThe full message (text and HTML) is in the Maildir {result.maildir}\n  {result.path}")
    typer.echo(f"Try: nudge --config {result.config} contacts --tier top100")


@handled
def migrate_store(
    source: Annotated[
        str, typer.Argument(help="The store to copy, e.g. sqlite:///~/.local/share/nudge/nudge.db.")
    ],
    target: Annotated[
        str,
        typer.Argument(help="An empty database to copy it into, e.g. postgresql+psycopg://nudge@db/nudge."),
    ],
) -> None:
    """Copy a whole store into an empty database (SQLite to PostgreSQL): every row, ids kept.

    Stop `nudge run` first. The source is left as it is; point database_url at the
    target afterwards. A URL without a password takes it from ~/.pgpass (PGPASSFILE).
    """
    from nudge import config
    from nudge.store import locks, transfer

    with locks.single_instance(source, config.data_dir() / "run.lock"):
        copied = transfer.copy_store(source, target)
    typer.echo(f"Copied {copied.total} rows from {copied.source} to {copied.target}:")
    for table, count in copied.rows.items():
        typer.echo(f"  {table:<14} {count:>8}")
    typer.echo(f'Next: set database_url = "{copied.target}" in your config, then start nudge again.')


def completion(
    ctx: typer.Context,
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.")],
) -> None:
    """Print the shell completion script (see the README for where to put it)."""
    from typer._completion_classes import completion_init
    from typer.completion import shell_complete

    if shell not in SHELLS:
        raise typer.BadParameter(f"use one of {', '.join(SHELLS)}, not {shell!r}", param_hint="SHELL")
    completion_init()
    command = ctx.find_root().command
    raise typer.Exit(shell_complete(command, {}, "nudge", COMPLETE_VAR, f"source_{shell}"))


def register(app: typer.Typer, referral: typer.Typer) -> None:
    """Add this group's commands to `app` (and to the shared `referral` group)."""
    for command in (init, run, doctor, demo, completion):
        app.command()(command)
    app.command("migrate-store")(migrate_store)
    auth = typer.Typer(help="Grant nudge read-only access to an online account.")
    app.add_typer(auth, name="auth")
    auth.command("google")(auth_google)
    service = typer.Typer(help="The systemd user service that runs `nudge run`.")
    app.add_typer(service, name="service")
    service.command("install")(service_install)
    service.command("uninstall")(service_uninstall)
    service.command("status")(service_status)
