"""The manager's view: each rep's funnel, behaviour, top-100 health and streak, no contact in sight.

Each rep's figures come from the same functions as their own `nudge stats`
(`reports.method.stats`, `digest.plan.load_people`), run on an engine bound to
that rep (`store.owner.as_owner`), so a rep and their manager read the same
numbers. What leaves this module is counts, ratios and dates: no contact's id,
name, address or note is kept in a `Rep`, so neither the text nor the JSON can
show one. A rep who has not opted in (`nudge_user.stats_opt_in`) is only counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from nudge.config import WEEKDAYS, Settings
from nudge.core import metrics, teamstats
from nudge.digest.plan import delivered_days, load_people
from nudge.reports import method
from nudge.store.models import Referral, Suggestion, Touch


@dataclass(frozen=True)
class Member:
    """A user of the team as the report sees them: their name, their bound engine, their config."""

    name: str
    engine: Engine  # bound to this user's rows (store.owner.as_owner)
    settings: Settings
    sharing: bool  # nudge_user.stats_opt_in


@dataclass(frozen=True)
class Rep:
    name: str
    weeks: list[metrics.Week]
    behaviour: list[teamstats.Behaviour]
    trend: float | None
    health: list[method.Health]
    top100: teamstats.TopHealth
    streak: teamstats.Streak


@dataclass(frozen=True)
class Team:
    reps: list[Rep]
    not_sharing: int


def rep(name: str, engine: Engine, settings: Settings, now: datetime, weeks: int) -> Rep:
    """One rep's figures: `nudge stats` as that rep sees it, plus behaviour, top 100 and streak."""
    tz = settings.tz
    today = now.astimezone(tz).date()
    with Session(engine) as s:
        own = method.stats(s, settings, now, weeks)
        mondays = [w.start for w in own.weeks]
        since = datetime.combine(mondays[0], datetime.min.time(), tzinfo=tz)
        calls = [
            teamstats.Call(cid, _aware(at), bool(note and note.strip()))
            for cid, at, note in s.exec(
                select(col(Touch.contact_id), col(Touch.at), col(Touch.note)).where(
                    Touch.kind == "call", col(Touch.at) >= since, col(Touch.at) <= now
                )
            )
        ]
        prompted = [
            teamstats.Prompted(cid, day)
            for cid, day in s.exec(
                select(col(Suggestion.contact_id), col(Suggestion.digest_date)).where(
                    col(Suggestion.prompt) != "",
                    col(Suggestion.digest_date) >= mondays[0] - teamstats.PROMPT_WINDOW,
                    col(Suggestion.digest_date).in_(delivered_days()),
                )
            )
        ]
        given = [
            _aware(at)
            for at in s.exec(
                select(col(Referral.at)).where(
                    Referral.direction == "given", col(Referral.at) >= since, col(Referral.at) <= now
                )
            )
        ]
        active = {
            _aware(at).astimezone(tz).date()
            for at in s.exec(
                select(col(Touch.at)).where(
                    col(Touch.kind).in_(sorted(teamstats.OUTREACH)),
                    col(Touch.direction).in_(("out", "both")),
                    col(Touch.at) >= since,
                    col(Touch.at) <= now,
                )
            )
        }
        people = load_people(s, settings, now, today)
    workdays = frozenset(WEEKDAYS.index(d) for d in settings.digest.workdays)
    return Rep(
        name=name,
        weeks=own.weeks,
        behaviour=teamstats.behaviour(calls, prompted, given, tz, mondays),
        trend=own.trend,
        health=own.health,
        top100=teamstats.top_health(people, now),
        streak=teamstats.streak(active, today, mondays[0], workdays),
    )


def _aware(value: datetime) -> datetime:
    """A UTC column's value, aware (SQLite's driver may hand it back naive)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def team(members: list[Member], now: datetime, weeks: int) -> Team:
    """Every sharing member's figures, in the order given; the others only counted."""
    return Team(
        reps=[rep(m.name, m.engine, m.settings, now, weeks) for m in members if m.sharing],
        not_sharing=sum(1 for m in members if not m.sharing),
    )


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def week_dict(week: metrics.Week, done: teamstats.Behaviour) -> dict[str, Any]:
    """One week as `nudge team stats --json` prints it: the behaviour first, then the funnel in
    the keys and values of `nudge stats --json`."""
    return {
        "week": week.start.isoformat(),
        **done.counts,
        **week.counts,
        **{f"{step}_ratio": week.ratio(step) for step in metrics.STEPS[1:]},
    }


def rep_dict(r: Rep) -> dict[str, Any]:
    top = r.top100
    return {
        "name": r.name,
        "totals": totals(r),
        "weeks": [week_dict(w, b) for w, b in zip(r.weeks, r.behaviour, strict=True)],
        "trend_contacted": r.trend,
        "top100": {
            "people": top.people,
            "within": top.within,
            "overdue": top.overdue,
            "new": top.new,
            "overdue_share": _ratio(top.overdue_share),
            "median_days_late": None if top.median_days_late is None else round(top.median_days_late, 1),
        },
        "streak": {"current": r.streak.current, "longest": r.streak.longest},
        "health": [h.__dict__ for h in r.health],
    }


def totals(r: Rep) -> dict[str, int]:
    """The weeks summed: behaviour first (curious calls, referrals given), then the funnel's steps."""
    out = dict.fromkeys((*teamstats.BEHAVIOUR, *metrics.STEPS), 0)
    for b in r.behaviour:
        for key, n in b.counts.items():
            out[key] += n
    for w in r.weeks:
        for key, n in w.counts.items():
            out[key] += n
    return out


def as_dict(t: Team, weeks: int, now: datetime) -> dict[str, Any]:
    return {
        "generated_at": now.isoformat(),
        "weeks": weeks,
        "reps": [rep_dict(r) for r in t.reps],
        "not_sharing": t.not_sharing,
    }


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def text(t: Team, weeks: int) -> list[str]:
    """The report in lines: a team line, then per rep their totals, weeks, top 100 and streak."""
    out: list[str] = []
    everyone = [totals(r) for r in t.reps]
    team_sum = {key: sum(row[key] for row in everyone) for key in everyone[0]} if everyone else {}
    if team_sum:
        out.append(
            f"Team, last {weeks} week{'s' if weeks != 1 else ''}, {len(t.reps)} sharing: "
            f"{team_sum['curious_calls']} curious calls, "
            f"{team_sum['referrals_given']} referrals given, {team_sum['meeting']} meetings, "
            f"{team_sum['referral']} referrals and opportunities"
        )
    for r in t.reps:
        total = totals(r)
        out += [
            "",
            f"{r.name}: {total['curious_calls']} curious calls, {total['referrals_given']} referrals given, "
            f"{total['meeting']} meetings",
            f"  {'week':<8} {'curious':>7} {'given':>5} {'sugg':>5} {'contact':>8} {'talk':>8} "
            f"{'meet':>8} {'refer':>8}",
        ]
        for w, b in zip(r.weeks, r.behaviour, strict=True):
            c = w.counts
            out.append(
                f"  {w.start:%d %b}   {b.counts['curious_calls']:>7} {b.counts['referrals_given']:>5} "
                f"{c['suggested']:>5} "
                + " ".join(f"{c[step]:>3} {_pct(w.ratio(step)):>4}" for step in metrics.STEPS[1:])
            )
        top = r.top100
        if top.people:
            late = (
                f" (median {top.median_days_late:.0f} days late)" if top.median_days_late is not None else ""
            )
            out.append(
                f"  top 100: {top.people} people, {_pct(top.overdue_share)} overdue{late}, "
                f"{top.new} not contacted since joining"
            )
        else:
            out.append("  top 100: nobody in it yet")
        out.append(f"  streak: {r.streak.current} workdays running (longest {r.streak.longest})")
    if t.not_sharing:
        who = "rep does" if t.not_sharing == 1 else "reps do"
        out += [""] if out else []
        out.append(f"Not sharing: {t.not_sharing} {who} not share their figures.")
    if not t.reps and not t.not_sharing:
        out.append("No users in this store yet.")
    return out
