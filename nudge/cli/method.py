"""The method's commands: the top-100 builder, the forward plan, step metrics, the referral
ledger, and what your replies to the digest did."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from nudge.cli.common import handled, now, settings, store


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


@handled
def top100_suggest(
    limit: Annotated[int, typer.Option(min=1, help="How many to list.")] = 150,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """Rank everyone by relationship evidence: meetings, calls, recency, months, both ways, referrals.

    People met or mailed often who are in no address book are candidates too (`nudge add` them).
    """
    from rich.console import Console
    from rich.table import Table
    from sqlmodel import Session

    from nudge.core import ranking
    from nudge.reports import method

    cfg = settings()
    with Session(store(cfg)) as s:
        candidates = method.evidence(s, now()) + method.sighting_evidence(s, now(), frozenset(cfg.me.emails))
        ranked = ranking.rank(candidates, now(), limit)
    if as_json:
        rows = [
            {
                "rank": i,
                "id": r.evidence.id or None,
                "name": r.evidence.name,
                "tier": r.evidence.tier,
                "score": round(r.score, 2),
                "reasons": r.reasons,
                **(
                    {"email": r.evidence.email, "add": f"nudge add {r.evidence.email}"}
                    if r.evidence.email
                    else {}
                ),
            }
            for i, r in enumerate(ranked, 1)
        ]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table(title="Top-100 candidates (accept with `nudge top100 accept --top N`)")
    for column in ("#", "name", "tier", "score", "why"):
        table.add_column(column, justify="right" if column in ("#", "score") else "left")
    for i, r in enumerate(ranked, 1):
        name = f"{r.evidence.email} (not a contact: nudge add)" if r.evidence.email else r.evidence.name
        table.add_row(str(i), name, r.evidence.tier or "", f"{r.score:.1f}", r.reasons)
    Console(width=140).print(table)


def _set_many(names: list[str], tier: str | None) -> None:
    from nudge import actions
    from nudge.store.db import atomic

    cfg = settings()
    with atomic(store(cfg)) as s:
        found = [actions.find(s, name) for name in names]  # all or nothing
        for contact in found:
            actions.set_tier(s, cfg, contact, tier or "none", now())
            typer.echo(f"{contact.name}: {'in your top 100' if tier else 'no longer in a tier'}")


@handled
def top100_add(names: Annotated[list[str], typer.Argument(help="One or more people.")]) -> None:
    """Put people in your top 100."""
    _set_many(names, "top100")


@handled
def top100_remove(names: Annotated[list[str], typer.Argument(help="One or more people.")]) -> None:
    """Take people out of your top 100."""
    _set_many(names, None)


@handled
def top100_accept(
    top: Annotated[int, typer.Option("--top", min=1, help="Take the first N of `top100 suggest`.")] = 100,
) -> None:
    """Put the first N suggested people in your top 100 at once (people in another tier keep it)."""
    from sqlmodel import Session

    from nudge import actions
    from nudge.core import ranking
    from nudge.reports import method
    from nudge.store.db import atomic
    from nudge.store.models import Contact

    cfg = settings()
    engine = store(cfg)
    with Session(engine) as s:
        candidates = method.evidence(s, now()) + method.sighting_evidence(s, now(), frozenset(cfg.me.emails))
        ranked = ranking.rank(candidates, now(), top)
    added = 0
    sighted = [r.evidence.email for r in ranked if r.evidence.email]
    with atomic(engine) as s:
        for r in ranked:
            contact = s.get(Contact, r.evidence.id) if not r.evidence.email else None
            if contact is not None and contact.tier is None:
                actions.set_tier(s, cfg, contact, "top100", now())
                added += 1
    kept = len(ranked) - added - len(sighted)
    typer.echo(f"Added {added} people to your top 100 ({kept} were already in a tier).")
    if sighted:
        typer.echo(f"In no address book yet (`nudge add EMAIL --tier top100`): {', '.join(sighted)}")


@handled
def top100_list(
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """Your top 100, warmest first, with how due each one is."""
    from sqlmodel import Session

    from nudge.reports import contacts as reports

    cfg = settings()
    with Session(store(cfg)) as s:
        rows = [r for r in reports.rows(s, cfg, now()) if r.tier == "top100"]
    rows.sort(key=lambda r: -r.warmth)
    if as_json:
        out = [
            {
                "id": r.id,
                "name": r.name,
                "warmth": round(r.warmth, 1),
                "label": r.label,
                "last_touch_at": r.last_touch_at.isoformat() if r.last_touch_at else None,
                "due": round(r.due, 2) if r.due is not None else None,
                "standing": r.standing,
            }
            for r in rows
        ]
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    for r in rows:
        typer.echo(f"{r.name:<32} {r.warmth:5.0f} {r.label:<8} {reports.due_text(r.due, r.standing)}")
    typer.echo(f"{len(rows)} people.")


@handled
def plan_cmd(
    days: Annotated[int, typer.Option(min=1, max=366, help="How many days ahead.")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """The coming days' calls, assuming you make them, and whether your cadences fit."""
    from sqlmodel import Session

    from nudge.reports import method

    cfg = settings()
    with Session(store(cfg)) as s:
        plans = method.forecast(s, cfg, now(), days)
    if as_json:
        out = [
            {
                "date": p.day.isoformat(),
                "calls": [k.person.name for k in p.calls],
                "partners": [k.person.name for k in p.partners],
            }
            for p in plans
        ]
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    for p in plans:
        if not p.workday:
            continue
        names = (
            ", ".join(k.person.name + (" (follow-up)" if k.follow_ups else "") for k in p.calls)
            or "nobody due"
        )
        partner = f"  | partner: {', '.join(k.person.name for k in p.partners)}" if p.partners else ""
        typer.echo(f"{p.day:%a %d %b}  {names}{partner}")
    if plans:
        cap = plans[0].capacity
        need = f"{cap.needed_per_workday:.1f}"
        typer.echo(f"\nYour tiers need {need} calls a workday; the digest suggests {cap.daily_size}.")
        if not cap.ok:
            typer.echo(f"Can't keep up: {cap.advice}")


@handled
def stats(
    weeks: Annotated[int, typer.Option(min=1, help="How many weeks back.")] = 12,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """The funnel per week (suggested → contacted → conversation → meeting → referral) and cadence health."""
    from sqlmodel import Session

    from nudge.core import metrics
    from nudge.reports import method

    cfg = settings()
    with Session(store(cfg)) as s:
        result = method.stats(s, cfg, now(), weeks)
    if as_json:
        out: dict[str, Any] = {
            "weeks": [
                {
                    "week": w.start.isoformat(),
                    **w.counts,
                    **{f"{step}_ratio": w.ratio(step) for step in metrics.STEPS[1:]},
                }
                for w in result.weeks
            ],
            "trend_contacted": result.trend,
            "health": [h.__dict__ for h in result.health],
        }
        typer.echo(json.dumps(out, indent=2))
        return
    typer.echo(f"{'week':<10} {'sugg':>5} {'contact':>8} {'talk':>8} {'meet':>8} {'refer':>8}")
    for w in result.weeks:
        c = w.counts
        typer.echo(
            f"{w.start:%d %b}    {c['suggested']:>5} "
            + " ".join(f"{c[step]:>3} {_pct(w.ratio(step)):>4}" for step in metrics.STEPS[1:])
        )
    if result.trend is not None:
        typer.echo(f"\nContact rate trend (later half vs earlier half): {100 * result.trend:+.0f} points")
    typer.echo("\nCadence health:")
    for h in result.health:
        typer.echo(
            f"  {h.tier:<10} {h.within} within cadence, {h.overdue} overdue, "
            f"{h.new} new (not contacted since joining)"
        )


@handled
def referral_list(
    partner: Annotated[str | None, typer.Argument(help="One partner (default: all).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """Given and received per partner, the balance, and days since the last exchange."""
    from sqlmodel import Session

    from nudge import actions
    from nudge.reports import method
    from nudge.store import journal

    cfg = settings()
    today = now().astimezone(cfg.tz).date()
    with Session(store(cfg)) as s:
        contact_id = actions.find(s, partner).id if partner else None
        ledgers = method.ledgers(s, contact_id)
    if as_json:
        out = [
            {
                "partner": led.partner,
                "given": led.given,
                "received": led.received,
                "balance": led.balance,
                "last_at": led.last_at.isoformat() if led.last_at else None,
                "days_since_last": method.days_since(led.last_at, today, cfg),
                "entries": [
                    {
                        "id": journal.entry_id(ref),
                        "at": ref.at.isoformat(),
                        "direction": ref.direction,
                        "note": ref.note,
                        "counterpart": ref.counterpart,
                    }
                    for ref in led.entries
                ],
            }
            for led in ledgers
        ]
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    if not ledgers:
        typer.echo(
            "No referral partners yet: `nudge tier NAME partner`, then `nudge referral given|received`."
        )
        return
    for led in ledgers:
        since = method.days_since(led.last_at, today, cfg)
        last = f"{since} days since the last exchange" if since is not None else "no exchange yet"
        typer.echo(
            f"{led.partner}: given {led.given}, received {led.received}, balance {led.balance:+d}; {last}"
        )
        for ref in led.entries:
            who = f" ({ref.counterpart})" if ref.counterpart else ""
            typer.echo(f"  {ref.at.astimezone(cfg.tz):%Y-%m-%d} {ref.direction:<8} {ref.note}{who}")


@handled
def replies_cmd(
    limit: Annotated[int, typer.Option(min=1, help="How many of the latest replies to list.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """Your replies to the digest: what each one did, and what was not understood or ignored."""
    from sqlmodel import Session, col, select

    from nudge.store.models import Reply

    cfg = settings()
    if cfg.reply_source is None and not as_json:
        typer.echo("Replies are not read: add an imap source (and keep replies.enabled = true).")
    with Session(store(cfg)) as s:
        rows = s.exec(select(Reply).order_by(col(Reply.received_at).desc()).limit(limit)).all()
    if as_json:
        out = [
            {
                "received_at": r.received_at.isoformat(),
                "state": r.state,
                "digest_date": r.digest_date.isoformat() if r.digest_date else None,
                "reported_on": r.reported_on.isoformat() if r.reported_on else None,
                "applied": r.applied.splitlines(),
                "problems": r.problems.splitlines(),
            }
            for r in rows
        ]
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    if not rows:
        typer.echo("No replies to the digest yet.")
        return
    for r in rows:
        answered = f"to the digest of {r.digest_date}" if r.digest_date else "to no digest"
        told = f", told on {r.reported_on}" if r.reported_on else ""
        typer.echo(f"{r.received_at.astimezone(cfg.tz):%Y-%m-%d %H:%M} {r.state} {answered}{told}")
        for line in r.applied.splitlines():
            typer.echo(f"  + {line}")
        for line in r.problems.splitlines():
            typer.echo(f"  ? {line}")


def register(app: typer.Typer, referral: typer.Typer) -> None:
    """Add this group's commands to `app` (and to the shared `referral` group)."""
    top100 = typer.Typer(help="Build and keep your top 100 from your own history.")
    app.add_typer(top100, name="top100")
    top100.command("suggest")(top100_suggest)
    top100.command("add")(top100_add)
    top100.command("remove")(top100_remove)
    top100.command("accept")(top100_accept)
    top100.command("list")(top100_list)
    app.command("plan")(plan_cmd)
    app.command()(stats)
    app.command("replies")(replies_cmd)
    referral.command("list")(referral_list)
