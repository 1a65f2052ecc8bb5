"""CLI commands that keep nudge running: the daemon, its systemd unit, `doctor` and account access.
Registered on the app in cli.py.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from nudge.cli import State, app, auth_app, handled, service_app, settings
from nudge.errors import NudgeError


@app.command()
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
) -> None:
    """Run the daemon: sync every sync.interval minutes, send the digest each workday morning.

    It logs what it does at INFO (each sync, each digest or why none, each reply, each failure).
    """
    from nudge import daemon, log

    log.setup(max(State.verbose, 1))  # the daemon tells its story by default; -vv for debug
    raise typer.Exit(daemon.once(State.config) if once else daemon.run(State.config))


@auth_app.command("google")
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
    from nudge.extras import require_extra
    from nudge.sources import google_auth

    require_extra("google", "nudge auth google")
    cfg = settings()
    secrets_file = client_secrets or google_auth.client_secrets_for(cfg.sources, account)
    if not secrets_file:
        raise NudgeError(
            f"no client_secrets for the Google account {account!r}: set it on a google_contacts, "
            "google_calendar or gmail source, or pass --client-secrets (see docs/google.md)"
        )
    scopes = google_auth.scopes_for(cfg.sources, account)
    path = google_auth.authorize(account, secrets_file, no_browser, scopes=scopes)
    typer.echo(f"Authorised. The token is in {path} (mode 0600). Next: nudge sync")


@app.command()
@handled
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """Check config, database, sources, SMTP and the service; exit 1 if anything fails."""
    from nudge import doctor as doctor_mod

    failed = 0
    if as_json:
        from nudge.secrets import mask

        checks = list(doctor_mod.run_checks(State.config))
        out = {
            "ok": all(c.ok for c in checks),
            "checks": [
                {"name": c.name, "ok": c.ok, "detail": mask(c.detail), "fix": mask(c.fix) if not c.ok else ""}
                for c in checks
            ],
        }
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
        raise typer.Exit(0 if out["ok"] else 1)
    for check in doctor_mod.run_checks(State.config):
        typer.echo(check.line())
        failed += not check.ok
    if failed:
        typer.echo(f"{failed} check(s) failed.")
        raise typer.Exit(1)


@service_app.command("install")
@handled
def service_install(
    enable: Annotated[
        bool, typer.Option("--enable", help="Also run `systemctl --user enable --now nudge`.")
    ] = False,
) -> None:
    """Write the user unit with this installation's `nudge run`, and say how to start it."""
    from nudge import unit

    exec_start = unit.installed_exec(State.config)
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


@service_app.command("uninstall")
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


@service_app.command("status")
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
