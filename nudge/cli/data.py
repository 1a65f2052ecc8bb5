"""Your data in and out, and people put together or apart: export, import, merge, split,
duplicates, add."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nudge.cli.common import handled, settings, store


@handled
def export(
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="json (the complete backup), vcard (4.0) or csv (Google).")
    ] = "json",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default: stdout).")
    ] = None,
) -> None:
    """Take everything out: a JSON backup `nudge import` restores, or vCard/CSV for other tools."""
    from sqlmodel import Session

    from nudge import backup
    from nudge.errors import UserError

    if fmt not in backup.FORMATS:
        raise UserError(f"--format must be one of {', '.join(backup.FORMATS)}, not {fmt!r}")
    cfg = settings()
    with Session(store(cfg)) as s:
        labels = {name: (tier.groups or [name])[0] for name, tier in cfg.tiers.items()}
        text = backup.export(s, fmt, labels)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8", newline="")
    except OSError as e:
        raise UserError(f"cannot write {output}: {e.strerror}") from None
    typer.echo(f"Wrote {output} ({fmt}).", err=True)


@handled
def import_cmd(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="A backup made by `nudge export`.")],
) -> None:
    """Restore a JSON backup into an empty store; then `nudge sync` reads the sources again."""
    from nudge import backup
    from nudge.errors import UserError
    from nudge.store.db import atomic

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    cfg = settings()
    with atomic(store(cfg)) as s:
        done = backup.import_json(s, text, str(path))
    counts = ", ".join(f"{n} {table}" for table, n in done.items() if n)
    typer.echo(f"Restored {path}: {counts or 'nothing (the backup is empty)'}. Run `nudge sync` next.")


def register(app: typer.Typer, referral: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command()(export)
    app.command("import")(import_cmd)
