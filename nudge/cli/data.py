"""Your data in and out, and people put together or apart: export, import, merge, split,
duplicates, add."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from nudge.cli.common import handled, now, settings, store


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
    labels = {name: (tier.groups or [name])[0] for name, tier in cfg.tiers.items()}
    with Session(store(cfg)) as s:
        if output is None:
            backup.write(s, fmt, labels, sys.stdout)
            return
        part = output.with_name(output.name + ".part")  # a backup cut short never takes the name
        try:
            with part.open("w", encoding="utf-8", newline="") as f:
                backup.write(s, fmt, labels, f)
            part.replace(output)
        except OSError as e:
            part.unlink(missing_ok=True)
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


@handled
def merge(
    keep: Annotated[str, typer.Argument(metavar="A", help="The contact to keep (its name stays).")],
    other: Annotated[str, typer.Argument(metavar="B", help="The same person's other contact.")],
) -> None:
    """Make two contacts one person: B's addresses, cards, touches, notes and referrals join A.

    Remembered, so the next sync keeps them together; `nudge undo` or `nudge split` takes it back.
    """
    from nudge import actions
    from nudge import merge as merging
    from nudge.store.db import atomic

    cfg = settings()
    with atomic(store(cfg)) as s:
        a = actions.find(s, keep, include_archived=True)
        b = actions.find(s, other, include_archived=True)
        names = f"{b.name} (#{b.id}) into {a.name} (#{a.id})"
        merging.merge(s, cfg, a, b, now())
    typer.echo(f"Merged {names}.")


@handled
def split(
    contact: Annotated[str, typer.Argument(help="The merged contact.")],
    identity: Annotated[str, typer.Argument(help="An address or phone the other contact brought.")],
) -> None:
    """Take a merged contact back out by one of its addresses or phones, with its cards and entries."""
    from nudge import actions
    from nudge import merge as merging
    from nudge.store.db import atomic

    cfg = settings()
    with atomic(store(cfg)) as s:
        found = actions.find(s, contact, include_archived=True)
        other = merging.split(s, cfg, found, identity, now())
        said = f"Split {other.name} (#{other.id}) out of {found.name} (#{found.id})."
    typer.echo(said)


@handled
def duplicates(
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """List contacts that may be one person, with the evidence; `nudge merge` is yours to run."""
    from sqlmodel import Session

    from nudge.reports import duplicates as report

    cfg = settings()
    with Session(store(cfg)) as s:
        found = report.pairs(s)
    if as_json:
        rows = [
            {
                "a": {"id": p.a.id, "name": p.a.name},
                "b": {"id": p.b.id, "name": p.b.name},
                "evidence": p.evidence,
                "merge": f"nudge merge '#{p.a.id}' '#{p.b.id}'",
            }
            for p in found
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not found:
        typer.echo("No likely duplicates.")
        return
    for p in found:
        typer.echo(f"{p.a.name} (#{p.a.id}) and {p.b.name} (#{p.b.id})")
        for why in p.evidence:
            typer.echo(f"  {why}")
        typer.echo(f"  the same person? nudge merge '#{p.a.id}' '#{p.b.id}'")


@handled
def add(
    email: Annotated[str, typer.Argument(help="Their e-mail address, as `top100 suggest` shows it.")],
    name: Annotated[str, typer.Option("--name", help="Their name (default: the address).")] = "",
    tier: Annotated[str | None, typer.Option("--tier", help="Put them in this tier.")] = None,
) -> None:
    """Make someone you met or mailed a contact: what nudge saw with the address becomes touches.

    Adding them to an address book does the same at the next sync; this is for who is in none.
    """
    from nudge import merge as merging
    from nudge.store.db import atomic

    cfg = settings()
    with atomic(store(cfg)) as s:
        contact, touches = merging.add(s, cfg, email, now(), name=name, tier=tier)
        said = f"Added {contact.name} (#{contact.id})" + (f" to {tier}" if tier else "")
    typer.echo(f"{said}, with {touches} touch{'es' if touches != 1 else ''} from your calendars and mail.")


def register(app: typer.Typer, referral: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command()(export)
    app.command("import")(import_cmd)
    app.command()(merge)
    app.command()(split)
    app.command()(duplicates)
    app.command()(add)
