"""Plan + facts -> the morning email (subject, text, HTML). Pure: no queries.

Templates are jinja2 files; a copy in the user's templates folder overrides
the packaged one. HTML is autoescaped, so a name or note can never inject markup.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import jinja2
import phonenumbers

from nudge.core import prompts
from nudge.core.planner import Pick, Plan, has_moment
from nudge.core.warmth import label

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
class Briefing:  # one person at one of today's meetings, in words: so the user walks in curious
    name: str
    last_touch: str  # "last: coffee on 6 Oct (48 days ago)" or "no contact logged yet"
    last_note: str | None
    follow_ups: tuple[str, ...]
    news: tuple[str, ...]  # "changed jobs: ...", "birthday Thursday"
    prompt: str


@dataclass(frozen=True)
class MeetingView:  # one of today's meetings, with the people nudge knows at it
    time: str  # "10:30"
    title: str
    people: tuple[Briefing, ...]


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
    meetings: tuple[MeetingView, ...] = ()  # today's meetings with people nudge knows, first
    asks: tuple[str, ...] = ()  # how did yesterday's meetings go (one line each, with the reply words)
    offers: tuple[str, ...] = ()  # set a follow-up after a meeting or a referral (with the reply words)


@functools.lru_cache(maxsize=4)
def load_prompts(user_file: Path | None = None) -> prompts.Library:
    """The packaged library, with the user's sections (if any) in place of ours."""
    text = resources.files("nudge").joinpath("data/prompts.toml").read_text("utf-8")
    packaged = prompts.read(text, "prompts.toml")
    if user_file is not None and user_file.exists():
        packaged.update(prompts.read(user_file.read_text("utf-8"), str(user_file)))
    return packaged


def short_date(value: date, today: date | None = None) -> str:
    """'6 Oct'; '6 Oct 2025' when more than a year before `today`, where the month alone misleads."""
    if today is not None and (today - value).days > 365:
        return f"{value.day} {value:%b} {value.year}"
    return f"{value.day} {value:%b}"


def phone_text(e164: str, region: str = "") -> str:
    """A number as the user dials it: national in their own region ('030 1234567'), international
    elsewhere ('+1 415-555-0134'). The `tel:` link keeps the E.164 form."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    home = bool(region) and phonenumbers.region_code_for_number(number) == region.upper()
    style = phonenumbers.PhoneNumberFormat.NATIONAL if home else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return str(phonenumbers.format_number(number, style))


def tier_words(tier: str) -> str:
    """How a tier reads in a sentence: 'top 100', 'referral partners', or its own name."""
    return {"top100": "top 100", "partner": "referral partners"}.get(tier, tier)


def _since(pick: Pick, facts: Facts, today: date, tz: tzinfo) -> tuple[int, str]:
    """Days since the last touch, and '40 days since coffee on 6 Oct' (or 'email today')."""
    at = facts.last_touch_at or pick.person.last_touch_at
    assert at is not None
    local = at.astimezone(tz).date()
    what = facts.last_touch_summary or facts.last_touch_kind or "contact"
    days = (today - local).days
    if days <= 0:
        return 0, f"{what} today"
    return days, f"{days} day{'s' if days != 1 else ''} since {what} on {short_date(local, today)}"


def lateness(due: date, today: date) -> str:
    """'due today', '1 day late', '3 days late'; 'due Fri 27 Nov' for one still ahead."""
    late = (today - due).days
    if late <= 0:
        return "due today" if late == 0 else f"due {due:%a} {short_date(due, today)}"
    return f"{late} day{'s' if late != 1 else ''} late"


def follow_up_line(text: str, due: date, today: date) -> str:
    """'follow-up: send the deck (due today)', 'follow-up (3 days late)'."""
    return f"follow-up{': ' + text if text else ''} ({lateness(due, today)})"


def why_now(pick: Pick, facts: Facts, today: date, tz: tzinfo) -> tuple[str, ...]:
    """Why this person is picked today, in words, most telling first; never empty.

    '40 days since coffee on 6 Oct, cadence 30', 'new to your top 100, no contact yet'.
    """
    p = pick.person
    lines: list[str] = []
    for reason in pick.reasons:
        if reason == "follow_up":
            lines.extend(follow_up_line(f.text, f.due, today) for f in pick.follow_ups)
        elif reason == "job_change":
            lines.append(f"changed jobs: {facts.job_change}" if facts.job_change else "changed jobs")
        elif reason in ("birthday", "birthday_soon") and pick.birthday_in is not None:
            n = pick.birthday_in
            when = "today" if n == 0 else "tomorrow" if n == 1 else WEEKDAY[(today.weekday() + n) % 7]
            lines.append(f"birthday {when}")
        elif reason == "inbound":
            lines.append(facts.inbound or "wrote to you and has no answer yet")
        elif reason == "new":
            lines.append(f"new to your {tier_words(p.tier)}, no contact yet")
        elif reason == "joined":
            joined = p.joined_at.astimezone(tz).date() if p.joined_at else None
            since = f" since {short_date(joined, today)}" if joined else ""
            lines.append(f"new to your {tier_words(p.tier)}{since}; {_since(pick, facts, today, tz)[1]}")
        elif reason == "overdue":
            lines.append(f"{_since(pick, facts, today, tz)[1]}, cadence {p.cadence_days}")
        elif reason == "early":
            days, words = _since(pick, facts, today, tz)
            left = max(p.cadence_days - days, 1)
            room = "" if has_moment(pick) or pick.follow_ups else ", and there is room today"
            lines.append(
                f"{words}, cadence {p.cadence_days}: due in {left} day{'s' if left != 1 else ''}{room}"
            )
    return tuple(lines)


def quoted_note(facts: Facts, tz: tzinfo, today: date | None = None) -> str | None:
    if not facts.last_note or facts.last_note_at is None:
        return None
    return f"On {short_date(facts.last_note_at.astimezone(tz).date(), today)} you noted: “{facts.last_note}”"


def prompt_for(
    pick: Pick, facts: Facts, today: date, library: prompts.Library, taken: Collection[str] = ()
) -> str:
    """One curiosity prompt for this person's situation, not asked in the last 90 days, and
    not one that someone else in the same digest (`taken`) already got."""
    days = None
    if facts.last_touch_at is not None:
        days = (datetime.combine(today, datetime.min.time(), tzinfo=UTC) - facts.last_touch_at).days
    situations = prompts.situations_for(
        pick.reasons, pick.person.slot, days, facts.last_touch_kind, facts.last_note is not None
    )
    chosen = prompts.choose(
        library, situations, facts.recent_prompts, prompts.today_seed(pick.person.id, today), taken
    )
    if chosen is not None:
        return chosen
    first = pick.person.name.split(maxsplit=1)[0] if pick.person.name.split() else pick.person.name
    fallback, n = f"What has been on your mind lately, {first}?", 1
    while fallback in taken:  # a library smaller than the digest, and two people of one name
        n += 1
        fallback = f"What has been on your mind lately, {first} ({n})?"
    return fallback


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


def _entry(
    number: int,
    pick: Pick,
    facts: Facts,
    today: date,
    tz: tzinfo,
    library: prompts.Library,
    taken: set[str],
    region: str,
) -> Entry:
    p = pick.person
    prompt = prompt_for(pick, facts, today, library, taken)
    taken.add(prompt)
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
        tel=phone_text(facts.phone, region) if facts.phone else None,
        tel_href=f"tel:{facts.phone}" if facts.phone else None,
        email=facts.email,
        mailto=f"mailto:{quote(facts.email, safe='@.+-_')}" if facts.email else None,
        last_note=quoted_note(facts, tz, today),
        prompt=prompt,
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
    region: str = "",
) -> View:
    """`region` is the user's (ISO 3166): their numbers read national, others international."""
    lib = library if library is not None else load_prompts()
    taken: set[str] = set()  # two people in one digest never get the same prompt
    entries = tuple(
        _entry(i, k, facts.get(k.person.id, Facts()), plan.day, tz, lib, taken, region)
        for i, k in enumerate(plan.calls, 1)
    )
    partners = tuple(
        _entry(len(entries) + i, k, facts.get(k.person.id, Facts()), plan.day, tz, lib, taken, region)
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
    loaders.append(jinja2.PackageLoader("nudge.digest", "templates"))
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
