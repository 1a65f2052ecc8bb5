"""Fictional, deterministic sample data for ``nudge demo``.

The demo has to work with zero configuration and always look "current", so the
address books and the calendar are generated at run time from a seeded RNG, with
every date expressed relative to ``today``.  All randomness is drawn in an order
that does not depend on ``today``: the same seed yields the same people in the
same roles (job changes, upcoming birthdays, never-met contacts) whatever the date.
Only reserved domains (example.com/.org/.net) and fictional phone ranges are used.

One piece (over 400 lines): it is data, the cast of the demo and their stories, more
than logic; split, the parts would only refer to each other.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress
from icalendar.enums import STATUS

ME_EMAIL = "you@example.com"
_ME_NAME = "Demo User"
_UTC = ZoneInfo("UTC")
_PEOPLE = 160

# (first names, last names) per naming culture, so generated names look plausible.
_CULTURES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("Ana", "Lucía", "Mateo", "Diego", "Camila", "Javier", "Sofía", "Carmen"),
     ("Ruiz", "García", "Morales", "Castillo", "Navarro", "Ortega", "Vargas", "Herrera")),
    (("Emma", "Oliver", "Grace", "Liam", "Hannah", "Noah", "Chloe", "Jack"),
     ("Walker", "Bennett", "Hughes", "Foster", "Reid", "Sullivan", "Carter", "Hayes")),
    (("Lukas", "Anna", "Jonas", "Lena", "Felix", "Marie", "Tobias", "Katrin"),
     ("Müller", "Schneider", "Becker", "Hoffmann", "Wagner", "Krause", "Vogel", "Brandt")),
    (("Chinedu", "Ngozi", "Tunde", "Amara", "Emeka", "Folake", "Ifeoma", "Segun"),
     ("Okafor", "Adeyemi", "Eze", "Balogun", "Nwosu", "Ogunleye", "Obi", "Afolabi")),
    (("Priya", "Arjun", "Ananya", "Rohan", "Kavya", "Vikram", "Meera", "Sanjay"),
     ("Sharma", "Iyer", "Patel", "Reddy", "Nair", "Gupta", "Menon", "Rao")),
    (("Wei", "Mei", "Jun", "Xiu", "Hao", "Yan", "Bo", "Ling"),
     ("Chen", "Wang", "Liu", "Zhang", "Huang", "Zhou", "Xu", "Lin")),
    (("Yuki", "Haruto", "Sakura", "Kenji", "Aiko", "Takeshi", "Naomi", "Ren"),
     ("Tanaka", "Sato", "Suzuki", "Watanabe", "Yamamoto", "Kobayashi", "Nakamura", "Ito")),
    (("Linh", "Minh", "Thao", "Quang", "Huong", "Duc"),
     ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Võ")),
    (("Omar", "Layla", "Karim", "Yasmin", "Tariq", "Nadia", "Samir", "Rania"),
     ("Haddad", "Khalil", "Mansour", "Saleh", "Nasser", "Farah", "Aziz", "Hamdan")),
    (("Astrid", "Erik", "Ingrid", "Lars", "Freya", "Nils"),
     ("Lindqvist", "Johansson", "Berg", "Halvorsen", "Nyström", "Dahl")),
    (("João", "Beatriz", "Rafael", "Larissa", "Thiago", "Gabriela"),
     ("Silva", "Souza", "Oliveira", "Costa", "Ferreira", "Almeida")),
    (("Min-jun", "Seo-yeon", "Ji-ho", "Ha-eun", "Do-yun", "Su-bin"),
     ("Kim", "Park", "Lee", "Choi", "Jung", "Kang")),
)  # fmt: skip
_ORGS = (
    "Northwind Traders", "Contoso Health", "Fabrikam Robotics", "Lumen Analytics",
    "Bluebird Ventures", "Harbor & Finch", "Tidepool Labs", "Quillstone Press, Ltd.",
    "Greenleaf Energy", "Orbit Logistics", "Maplewood University", "Cobalt Bank",
    "Brightwater Studio", "Kestrel Security", "Juniper Foods", "Atlas Civic Tech",
)  # fmt: skip
_TITLES = (
    "Product Manager", "Staff Engineer", "Head of Design", "Data Scientist",
    "Founder & CEO", "VP Engineering", "Research Lead", "Partner", "Account Director",
    "Professor of Economics", "Engineering Manager", "Chief of Staff", "Journalist",
    "Operations Lead", "Investor", "UX Researcher",
)  # fmt: skip
_NOTES = (
    "Met at PyCon; interested in data tooling.",
    "Intro via a former colleague - follow up about hiring.",
    "Kids go to the same school.",
    "Prefers Signal over email.",
    "Ran the city marathon together; loves trail running.",
    "Advisor for the side project, happy to review decks.",
)
_LOOSE_CATEGORIES = ("family", "school", "neighbors", "", "", "")
_TOPICS = ("roadmap planning", "hiring loop", "pricing", "design critique", "data strategy")
# (summary template, durations in minutes, start times, locations)
_KINDS: tuple[tuple[str, tuple[int, ...], tuple[time, ...], tuple[str, ...]], ...] = (
    ("Coffee with {n}", (30,), (time(8, 30), time(9), time(15, 30)), ("Café Lumen", "Bean & Leaf")),
    ("Lunch with {n}", (60, 75), (time(12), time(12, 30)), ("Trattoria Sole", "Green Bowl")),
    ("Call: {n}", (30, 45), (time(10), time(11), time(14), time(16, 30)), ("Video call",)),
    ("Catch-up with {n}", (45,), (time(9, 30), time(17)), ("",)),
    ("Workshop: {t}", (120, 180), (time(9, 30), time(13, 30)), ("Room 4B", "Studio 2")),
)


@dataclass(frozen=True)
class DemoFiles:
    contacts_before: Path  # address-book snapshot 1 (.vcf)
    contacts_after: Path  # snapshot 2 (.vcf): same people, a few changed
    calendar: Path  # one .ics with a year of history + next 2 weeks


@dataclass
class _Person:
    uid: str
    first: str
    last: str
    personal: str | None
    work: str | None
    tel: str | None
    org: str
    title: str
    categories: str = ""
    bday: str | None = None
    note: str | None = None

    @property
    def fn(self) -> str:
        return f"{self.first} {self.last}"


@dataclass
class _Mtg:
    """One VEVENT to render; people are indices into the contact list."""

    day: date
    start: time
    minutes: int
    summary: str
    people: list[int]
    location: str = ""
    me_organizes: bool = True
    status: STATUS | None = None
    declined: int | None = None
    shouty: bool = False  # write the primary's address as MAILTO:First.Last@Example.org
    rrule: dict[str, object] | None = None
    exdates: list[date] = field(default_factory=list)
    recurrence_id: datetime | None = None  # naive local start of the replaced occurrence
    uid: str = ""


def _slug(text: str) -> str:
    """ASCII-fold a name for an email local part (Müller -> muller, Nguyễn -> nguyen)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum() or c == "-")


def _unique_email(local: str, domain: str, used: set[str]) -> str:
    email, n = f"{local}@{domain}", 2
    while email in used:
        email, n = f"{local}{n}@{domain}", n + 1
    used.add(email)
    return email


def _make_people(rng: random.Random, count: int) -> list[_Person]:
    """Draw unique names and attach emails, phones, jobs, notes and raw birthdays."""
    phones = [f"+1 {a} 555 01{n:02d}" for a in (202, 212, 312, 415, 617) for n in range(100)]
    phones += [f"+44 20 7946 0{n:03d}" for n in range(200)]  # Ofcom's range for drama
    rng.shuffle(phones)
    seen: set[tuple[str, str]] = set()
    used: set[str] = set()
    people: list[_Person] = []
    while len(people) < count:
        firsts, lasts = rng.choice(_CULTURES)
        first, last = rng.choice(firsts), rng.choice(lasts)
        if (first, last) in seen or first == last:
            continue
        seen.add((first, last))
        f, la = _slug(first), _slug(last)
        style = rng.random()
        personal = work = None
        if style < 0.7:
            personal = _unique_email(f"{f}.{la}", rng.choice(("example.org", "example.net")), used)
        if style > 0.4:
            work = _unique_email(f"{f[0]}{la}", "example.com", used)
        tel = phones.pop() if rng.random() < 0.85 else None
        org, title = rng.choice(_ORGS), rng.choice(_TITLES)
        person = _Person(f"demo-{len(people) + 1:03d}", first, last, personal, work, tel, org, title)
        if rng.random() < 0.45:
            month, day, year = rng.randint(1, 12), rng.randint(1, 28), rng.randint(1958, 2001)
            with_year = rng.random() < 0.6
            person.bday = f"{year}-{month:02d}-{day:02d}" if with_year else f"--{month:02d}-{day:02d}"
        if rng.random() < 0.05:
            person.note = rng.choice(_NOTES)
        people.append(person)
    return people


def _keep_birthdays_clear(people: list[_Person], today: date) -> None:
    """Push random birthdays out of the coming week so only the chosen ones are 'upcoming'."""
    soon = {(today + timedelta(days=k)).strftime("%m-%d") for k in range(9)}
    for p in people:
        if p.bday and p.bday[-5:] in soon:
            moved = date(2001, int(p.bday[-5:-3]), int(p.bday[-2:])) + timedelta(days=12)
            p.bday = p.bday[:-5] + moved.strftime("%m-%d")


def _past(today: date, days_ago: int) -> date:
    d = today - timedelta(days=days_ago)
    while d.weekday() >= 5:  # meetings happen on weekdays; step back to Friday
        d -= timedelta(days=1)
    return d


def _future(today: date, days_ahead: int) -> date:
    d = today + timedelta(days=days_ahead)
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


def _names(people: list[_Person], idx: list[int]) -> str:
    firsts = [people[i].first for i in idx]
    return firsts[0] if len(firsts) == 1 else ", ".join(firsts[:-1]) + " & " + firsts[-1]


def _one_off(rng: random.Random, people: list[_Person], day: date, idx: list[int]) -> _Mtg:
    template, lengths, starts, places = rng.choice(_KINDS)
    summary = template.format(n=_names(people, idx), t=rng.choice(_TOPICS))
    start, minutes, place = rng.choice(starts), rng.choice(lengths), rng.choice(places)
    return _Mtg(day, start, minutes, summary, idx, place, me_organizes=rng.random() < 0.75)


def _plan_meetings(
    rng: random.Random, people: list[_Person], g: dict[str, list[int]], today: date
) -> list[_Mtg]:
    """Build the meeting history whose shape the nudging logic is meant to discover."""
    cutoff: dict[int, int] = {}  # lapsed person -> days since last meeting (before weekend shift)
    plan: list[tuple[int, int]] = []
    for p in g["frequent"]:
        last = rng.randint(1, 21)
        plan += [(last, p)] + [(rng.randint(last + 7, 360), p) for _ in range(rng.randint(2, 3))]
    for p in g["lapsed"]:
        cutoff[p] = last = rng.randint(60, 180)
        plan += [(last, p)] + [(rng.randint(last + 14, 360), p) for _ in range(rng.randint(1, 3))]
    for p in g["occasional"]:
        plan += [(rng.randint(7, 360), p) for _ in range(rng.randint(1, 2))]
    for p in g["partners"]:
        plan += [(rng.randint(5, 360), p) for _ in range(rng.randint(1, 3))]
    plan += [(rng.randint(5, 360), p) for p in g["others"][1:13]]

    def pool(days_ago: int, exclude: list[int]) -> list[int]:
        """People who may appear at that date without spoiling their 'last met' story."""
        cands = g["frequent"] + g["lapsed"] + g["partners"]
        return [q for q in cands if q not in exclude and cutoff.get(q, 0) <= days_ago]

    mtgs: list[_Mtg] = []
    for days_ago, p in plan:
        extra = rng.choices((0, 1, 2), weights=(70, 22, 8))[0]
        idx = [p, *rng.sample(pool(days_ago, [p]), extra)]
        mtgs.append(_one_off(rng, people, _past(today, days_ago), idx))
    for i in rng.sample(range(len(mtgs)), 5):
        mtgs[i].shouty = True

    lapsed, freq, occ, part = g["lapsed"], g["frequent"], g["occasional"], g["partners"]
    dinner = [*rng.sample(pool(95, []), 11), _PEOPLE]  # _PEOPLE: index of new contact demo-161
    workshop = rng.sample(pool(210, []), 10)
    coffee, planning = f"Coffee with {people[lapsed[0]].first}", [freq[4], lapsed[1]]
    mtgs += [
        _Mtg(_past(today, 95), time(19), 180, "Conference dinner - Data Summit", dinner, "Hall 3"),
        _Mtg(_past(today, 210), time(9, 30), 420, "Founders workshop", workshop, "Studio 2"),
        _Mtg(_past(today, 10), time(9), 30, coffee, [lapsed[0]], status=STATUS.CANCELLED),
        _Mtg(_past(today, 20), time(14), 60, "Planning", planning, declined=lapsed[1]),
    ]
    future = [lapsed[-1], lapsed[-2], lapsed[-3], occ[-1], occ[-2], part[-1], part[-2], freq[-1]]
    for p in future:
        mtgs.append(_one_off(rng, people, _future(today, rng.randint(1, 11)), [p]))
        mtgs[-1].shouty = p == occ[-1]

    # Recurring series: an ongoing weekly 1:1 with an EXDATE, ongoing biweekly mentoring with
    # one moved occurrence, and a weekly sync that stopped at a lapsed contact's cutoff.
    s1, s2, end = _past(today, 280), _past(today, 300), _past(today, cutoff[lapsed[2]])
    moved, mentor = s2 + timedelta(weeks=16), f"Mentoring: {people[freq[1]].first}"
    mtgs.append(_Mtg(s1, time(10), 30, f"1:1 {people[freq[0]].first} / me", [freq[0]]))
    mtgs[-1].rrule, mtgs[-1].exdates = {"freq": "weekly"}, [s1 + timedelta(weeks=20)]
    mtgs.append(_Mtg(s2, time(16), 45, mentor, [freq[1]], me_organizes=False))
    mtgs[-1].rrule = {"freq": "weekly", "interval": 2}
    mtgs.append(_Mtg(moved, time(13), 45, f"{mentor} (moved)", [freq[1]], me_organizes=False))
    mtgs[-1].recurrence_id = datetime.combine(moved, time(16))
    sync_name = f"Project sync: {people[lapsed[2]].first}"
    sync = _Mtg(end - timedelta(weeks=15), time(14), 30, sync_name, [lapsed[2]])
    sync.rrule = {"freq": "weekly", "until": end}
    mtgs.append(sync)
    return mtgs


def _address(p: _Person, rng: random.Random, shouty: bool = False) -> str:
    """Mostly the work address when there is one, as in real invites."""
    options = [e for e in (p.work, p.personal) if e]
    email = options[0] if len(options) == 1 or rng.random() < 0.8 else options[1]
    if shouty:
        local, domain = email.split("@")
        return f"MAILTO:{'.'.join(x.capitalize() for x in local.split('.'))}@{domain.capitalize()}"
    return f"mailto:{email}"


def _cal_address(value: str, name: str, partstat: str | None = None) -> vCalAddress:
    addr = vCalAddress(value)
    addr.params["CN"] = name
    if partstat:
        addr.params["PARTSTAT"] = partstat
    return addr


def _render(m: _Mtg, people: list[_Person], tz: ZoneInfo, stamp: datetime, rng: random.Random) -> Event:
    start = datetime.combine(m.day, m.start, tz)
    guests = [(p, _address(p, rng, m.shouty and n == 0)) for n, p in enumerate(people[i] for i in m.people)]
    me, (host, host_addr) = f"mailto:{ME_EMAIL}", guests[0]
    organizer = _cal_address(me, _ME_NAME) if m.me_organizes else _cal_address(host_addr, host.fn)
    attendees = [_cal_address(me, _ME_NAME, "ACCEPTED")] + [
        _cal_address(addr, p.fn, "DECLINED" if i == m.declined else "ACCEPTED")
        for i, (p, addr) in zip(m.people, guests, strict=True)
    ]
    ev = Event.new(
        uid=m.uid,
        stamp=stamp,
        start=start,
        end=start + timedelta(minutes=m.minutes),
        summary=m.summary,
        location=m.location or None,
        status=m.status,
        organizer=organizer,
        attendees=attendees,
        recurrence_id=m.recurrence_id and m.recurrence_id.replace(tzinfo=tz),
    )
    if m.rrule is not None:
        rule = dict(m.rrule)
        if isinstance(until := rule.get("until"), date):  # RFC 5545: UNTIL in UTC when TZID'd
            rule["until"] = datetime.combine(until, m.start, tz).astimezone(_UTC)
        ev.add("rrule", rule)
    if m.exdates:
        ev.add("exdate", [datetime.combine(d, m.start, tz) for d in m.exdates])
    return ev


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Fold content lines at 75 octets without splitting UTF-8 sequences (RFC 2426/6350)."""
    parts, cur = [], ""
    for ch in line:
        if len((cur + ch).encode()) > 75:
            parts.append(cur)
            cur = " "
        cur += ch
    return "\r\n".join([*parts, cur])


def _vcard(p: _Person) -> str:
    props = {
        "UID": p.uid,
        "FN": _escape(p.fn),
        "N": f"{_escape(p.last)};{_escape(p.first)};;;",
        "EMAIL;TYPE=INTERNET": p.personal,
        "EMAIL;TYPE=INTERNET,WORK": p.work,
        "TEL;TYPE=CELL": p.tel,
        "ORG": _escape(p.org),
        "TITLE": _escape(p.title),
        "CATEGORIES": p.categories,
        "BDAY": p.bday,
        "NOTE": p.note and _escape(p.note),
    }
    lines = [f"{key}:{value}" for key, value in props.items() if value]
    return "".join(_fold(x) + "\r\n" for x in ["BEGIN:VCARD", "VERSION:3.0", *lines, "END:VCARD"])


def _write_vcf(path: Path, people: list[_Person]) -> None:
    path.write_bytes("".join(_vcard(p) for p in sorted(people, key=lambda p: p.uid)).encode())


def write_demo_data(target: Path, today: date, tz: ZoneInfo, seed: int = 7) -> DemoFiles:
    """Write the three files into target (created if missing) and return their paths."""
    rng = random.Random(seed)
    people = _make_people(rng, _PEOPLE + 2)  # the last two only exist in snapshot 2
    order = list(range(_PEOPLE))
    rng.shuffle(order)
    top = order[:100]
    ends = {"never": 15, "frequent": 40, "lapsed": 70, "occasional": 100, "partners": 108}
    groups, start = {"others": order[108:]}, 0
    for name, end in ends.items():  # never..occasional make up the top 100
        groups[name], start = order[start:end], end
    for i in top:
        people[i].categories = "top100"
    for i in groups["partners"]:
        people[i].categories = "partner"
    for i in groups["others"]:
        people[i].categories = rng.choice(_LOOSE_CATEGORIES)
    people[_PEOPLE].categories, people[_PEOPLE + 1].categories = "top100", "school"

    # Birthdays 2, 5 and 6 days out (one with a year), everyone else kept clear of the week.
    _keep_birthdays_clear(people, today)
    for offset, who in zip(
        (2, 5, 6), (groups["frequent"][5], groups["lapsed"][5], groups["never"][1]), strict=True
    ):
        when = today + timedelta(days=offset)
        age = rng.randint(30, 55)
        year = today.year - age - (today.year - age) % 4  # a leap year, so Feb 29 stays valid
        people[who].bday = f"{year}-{when:%m-%d}" if offset == 2 else f"--{when:%m-%d}"

    mtgs = _plan_meetings(rng, people, groups, today)
    for n, m in enumerate(mtgs):  # an override directly follows, and shares the UID of, its series
        m.uid = mtgs[n - 1].uid if m.recurrence_id else f"demo-evt-{n + 1:04d}@nudge.example"

    stamp = datetime.combine(today, time(6), _UTC)
    events = [_render(m, people, tz, stamp, rng) for m in mtgs]
    events.sort(key=lambda e: (e.decoded("dtstart"), str(e["uid"]), "recurrence-id" in e))
    # Calendar.new() would add a random UID (and Event.new() a wall-clock DTSTAMP) if not given.
    cal = Calendar.new(
        prodid="-//nudge//demo data//EN",
        calscale="GREGORIAN",
        name="Demo",
        uid="demo-calendar@nudge.example",
        subcomponents=events,
    )
    cal.add("x-wr-timezone", tz.key)
    cal.add_missing_timezones()

    # Snapshot 2: four job changes, one departure, two arrivals.
    after = [replace(p) for p in people]
    for n, i in enumerate(rng.sample(top, 4)):
        p = after[i]
        if n != 2:  # n == 2 is a promotion at the same org
            p.org = next(o for o in rng.sample(_ORGS, 3) if o != p.org)
        if n != 3:  # n == 3 moved org in the same role
            p.title = next(t for t in rng.sample(_TITLES, 3) if t != p.title)
    gone = groups["others"][0]
    after = [p for i, p in enumerate(after) if i != gone]

    target.mkdir(parents=True, exist_ok=True)
    files = DemoFiles(target / "contacts-before.vcf", target / "contacts-after.vcf", target / "calendar.ics")
    _write_vcf(files.contacts_before, people[:_PEOPLE])
    _write_vcf(files.contacts_after, after)
    files.calendar.write_bytes(cal.to_ical())
    return files
