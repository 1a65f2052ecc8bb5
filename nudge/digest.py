"""Plan + facts -> the morning email (subject, text, HTML). Pure: no queries.

Templates are jinja2 files; a copy in the user's templates folder overrides
the packaged one. HTML is autoescaped, so a name or note can never inject markup.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from urllib.parse import quote

import jinja2

from nudge import prompts
from nudge.planner import Pick, Plan
from nudge.warmth import label

COLOURS = {"hot": "#d9480f", "warm": "#f59f00", "cooling": "#74c0fc", "cold": "#1c7ed6"}
WEEKDAY = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Facts:
    """What the store knows about one picked person, gathered by service.py."""

    email: str | None = None
    phone: str | None = None
    last_touch_at: datetime | None = None
    last_touch_kind: str | None = None
    last_touch_summary: str | None = None
    last_note: str | None = None
    last_note_at: datetime | None = None
    job_change: str | None = None
    inbound: str | None = None  # "wrote on Tue 24 Nov, no reply yet"
    recent_prompts: tuple[str, ...] = ()  # asked in the last 90 days, oldest first
    given: int = 0
    received: int = 0
    last_exchange_at: datetime | None = None
    ledger: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entry:
    number: int
    id: int
    name: str
    tier: str
    why: tuple[str, ...]
    warmth: int
    warmth_label: str
    colour: str
    tel: str | None
    tel_href: str | None
    email: str | None
    mailto: str | None
    last_note: str | None
    prompt: str
    slot: str
    given: int = 0
    received: int = 0
    ledger: tuple[str, ...] = ()
    give_first: str = ""


@dataclass(frozen=True)
class Cell:
    name: str
    warmth: int
    colour: str


@dataclass(frozen=True)
class Metrics:
    """Last week's funnel: suggested, contacted, conversation, meeting, referral."""

    counts: dict[str, int]

    def __bool__(self) -> bool:
        return self.counts.get("suggested", 0) > 0

    @property
    def suggested(self) -> int:
        return self.counts.get("suggested", 0)

    @property
    def contacted(self) -> int:
        return self.counts.get("contacted", 0)

    @property
    def ratio(self) -> int:
        return round(100 * self.contacted / self.suggested) if self.suggested else 0

    def line(self) -> str:
        c = self.counts
        return (
            f"{c['suggested']} suggested → {c['contacted']} contacted within a week ({self.ratio}%) → "
            f"{c['conversation']} conversations → {c['meeting']} meetings → "
            f"{c['referral']} referrals or opportunities"
        )


@dataclass(frozen=True)
class ReplyNote:
    """What came of one reply to an earlier digest."""

    id: int
    received: date
    applied: tuple[str, ...]
    problems: tuple[str, ...]


@dataclass(frozen=True)
class View:
    day: date
    subject: str
    entries: tuple[Entry, ...]
    partners: tuple[Entry, ...]
    strip: tuple[Cell, ...]
    capacity_warning: str = ""
    failing_sources: tuple[str, ...] = ()
    metrics: Metrics | None = None
    empty_reason: str = ""
    sign: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    replies: tuple[ReplyNote, ...] = ()  # confirmations of replies since the last digest
    reply_help: str = ""  # how to reply with commands; empty when replies are not read


def short_date(value: date) -> str:
    return f"{value.day} {value:%b}"


def _ago(days: int) -> str:
    return "today" if days == 0 else ("yesterday" if days == 1 else f"{days} days")


def why_now(pick: Pick, facts: Facts, today: date, tz: tzinfo) -> tuple[str, ...]:
    """Short reasons, most telling first: '47 days since Coffee on 6 Oct'."""
    lines: list[str] = []
    for reason in pick.reasons:
        if reason == "job_change" and facts.job_change:
            lines.append(f"changed jobs: {facts.job_change}")
        elif reason in ("birthday", "birthday_soon") and pick.birthday_in is not None:
            n = pick.birthday_in
            when = "today" if n == 0 else "tomorrow" if n == 1 else WEEKDAY[(today.weekday() + n) % 7]
            lines.append(f"birthday {when}")
        elif reason == "inbound":
            lines.append(facts.inbound or "wrote to you and has no answer yet")
        elif reason == "new":
            lines.append(f"new in your {pick.person.tier}: no contact logged yet")
        elif reason == "overdue" and facts.last_touch_at is not None:
            local = facts.last_touch_at.astimezone(tz).date()
            days = (today - local).days
            what = facts.last_touch_summary or facts.last_touch_kind or "contact"
            lines.append(f"{days} days since {what} on {short_date(local)}")
    if pick.due >= 1.5 and pick.person.last_touch_at is not None:
        lines.append(f"overdue: the cadence is {pick.person.cadence_days} days")
    return tuple(lines)


def quoted_note(facts: Facts, tz: tzinfo) -> str | None:
    if not facts.last_note or facts.last_note_at is None:
        return None
    return f"On {short_date(facts.last_note_at.astimezone(tz).date())} you noted: “{facts.last_note}”"


def prompt_for(pick: Pick, facts: Facts, today: date, library: prompts.Library) -> str:
    """One curiosity prompt for this person's situation, not asked in the last 90 days."""
    days = None
    if facts.last_touch_at is not None:
        days = (datetime.combine(today, datetime.min.time(), tzinfo=UTC) - facts.last_touch_at).days
    situations = prompts.situations_for(
        pick.reasons, pick.person.slot, days, facts.last_touch_kind, facts.last_note is not None
    )
    return prompts.choose(
        library, situations, facts.recent_prompts, prompts.today_seed(pick.person.id, today)
    )


def give_first(facts: Facts, name: str) -> str:
    first = name.split(maxsplit=1)[0] if name.split() else name
    if facts.received > facts.given:
        return (
            f"You have received {facts.received} and given {facts.given}: "
            f"think of one introduction you can make for {first} today."
        )
    if facts.given == 0 and facts.received == 0:
        return f"Ask {first} what kind of client is a great fit for them right now, and keep an eye out."
    return f"Ask {first} who they are trying to meet this quarter."


def _entry(number: int, pick: Pick, facts: Facts, today: date, tz: tzinfo, library: prompts.Library) -> Entry:
    p = pick.person
    warmth = round(p.warmth)
    lab = label(p.warmth)
    return Entry(
        number=number,
        id=p.id,
        name=p.name,
        tier=p.tier,
        why=why_now(pick, facts, today, tz),
        warmth=warmth,
        warmth_label=lab,
        colour=COLOURS[lab],
        tel=facts.phone,
        tel_href=f"tel:{facts.phone}" if facts.phone else None,
        email=facts.email,
        mailto=f"mailto:{quote(facts.email, safe='@.+-_')}" if facts.email else None,
        last_note=quoted_note(facts, tz),
        prompt=prompt_for(pick, facts, today, library),
        slot=p.slot,
        given=facts.given,
        received=facts.received,
        ledger=facts.ledger,
        give_first=give_first(facts, p.name) if p.slot == "partner" else "",
    )


def subject_for(names: list[str]) -> str:
    if not names:
        return "Be curious today: nobody is due"
    if len(names) == 1:
        return f"Be curious today: {names[0]}"
    if len(names) == 2:
        return f"Be curious today: {names[0]} and {names[1]}"
    return f"Be curious today: {names[0]}, {names[1]} and {len(names) - 2} more"


def build_view(
    plan: Plan,
    facts: dict[int, Facts],
    strip: list[tuple[str, float]],
    tz: tzinfo,
    failing_sources: tuple[str, ...] = (),
    metrics: Metrics | None = None,
    sign: str = "",
    library: prompts.Library | None = None,
    replies: tuple[ReplyNote, ...] = (),
    reply_help: str = "",
) -> View:
    lib = library if library is not None else prompts.load()
    entries = tuple(
        _entry(i, k, facts.get(k.person.id, Facts()), plan.day, tz, lib) for i, k in enumerate(plan.calls, 1)
    )
    partners = tuple(
        _entry(len(entries) + i, k, facts.get(k.person.id, Facts()), plan.day, tz, lib)
        for i, k in enumerate(plan.partners, 1)
    )
    empty = ""
    if not plan.workday:
        empty = "Today is not one of your digest workdays."
    elif not entries and not strip:
        empty = (
            "Nobody is in a tier with a cadence yet. Mark people in your address book with the "
            "category top100 (or partner), or run `nudge tier NAME top100`."
        )
    elif not entries:
        empty = "Everyone in your tiers was contacted recently, has a meeting planned, or is resting."
    cells = tuple(Cell(name, round(w), COLOURS[label(w)]) for name, w in strip)
    return View(
        day=plan.day,
        subject=subject_for([e.name for e in entries] or [e.name for e in partners]),
        entries=entries,
        partners=partners,
        strip=cells,
        capacity_warning="" if plan.capacity.ok else plan.capacity.advice,
        failing_sources=failing_sources,
        metrics=metrics,
        empty_reason=empty,
        sign=sign,
        replies=replies,
        reply_help=reply_help,
    )


@functools.lru_cache(maxsize=4)
def environment(templates_dir: Path | None) -> jinja2.Environment:
    """One environment per templates folder, so compiled templates are reused."""
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir is not None and templates_dir.is_dir():
        loaders.append(jinja2.FileSystemLoader(str(templates_dir)))
    loaders.append(jinja2.PackageLoader("nudge", "templates"))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["bar"] = lambda w, width=10: (
        "█" * round(w / 100 * width) + "░" * (width - round(w / 100 * width))
    )
    env.filters["short_date"] = short_date
    return env


def render(view: View, templates_dir: Path | None = None) -> tuple[str, str, str]:
    """(subject, plain text, HTML)."""
    env = environment(templates_dir)
    text = env.get_template("digest.txt.j2").render(v=view)
    html = env.get_template("digest.html.j2").render(v=view)
    return view.subject, text, html
