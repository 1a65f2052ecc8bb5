"""Address books and calendars shaped like real ones, for bench/sync.py (deterministic from a seed).

The plain generator in sync.py writes what nudge's fast paths accept: UTC one-off
events and bare vCards. Real collections are not like that (issue 17). This one
writes the mix the issue describes, in the habits of the clients that write
most CalDAV/CardDAV data (Google, Outlook/Exchange, Apple, Nextcloud/Sabre,
DAVx5/ez-vcard, Thunderbird), following RFC 5545 (iCalendar), RFC 2426 (vCard
3.0) and RFC 6350 (vCard 4.0) and the project's own exports in
tests/data/exports/:

- events: timed with TZID and a VTIMEZONE (IANA names, and Outlook's Windows
  names with their 1601 rules) in about half, UTC or floating otherwise; all-day
  events; about one object in ten a weekly/monthly/yearly/daily series with
  COUNT, UNTIL or no end, many with EXDATEs and moved or cancelled instances
  (RECURRENCE-ID), including weekday stand-ups running for years; VALARMs,
  long folded DESCRIPTIONs (Teams, Zoom, Meet blocks) with escapes, LOCATIONs,
  an ORGANIZER and 1-8 ATTENDEEs with PARTSTAT (some declined), rooms, some
  cancelled; the user is the organizer or an attendee;
- cards: vCard 3.0 and 4.0 with ADR, NOTE with escaped commas and newlines,
  several TEL in national, international and tel: URI form, BDAY with and
  without a year (each client's way), CATEGORIES, Apple's item groups, non-ASCII
  names, the odd PHOTO (inline or a URL), the user's own card, a few company
  cards;
- attendees are mostly people in the address book (under one of their card's
  addresses, Zipf-weighted: some people are met often), some are not.

Names are invented; addresses use example.com/.org/.net and their subdomains;
phone numbers come from the ranges kept free for fiction (see
tests/data/exports/README.md). Every line is folded at 75 octets on UTF-8
boundaries and ends in CRLF.

    .venv/bin/python bench/realistic.py --check 1000 3000   # the mix; icalendar + vobject read all
"""

from __future__ import annotations

import argparse
import base64
import bisect
import itertools
import random
import sys
import unicodedata
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil import rrule as du

VERSION = 2  # of the generator: a store seeded by another version is seeded again
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
HOME = ZoneInfo("Europe/Berlin")
ME_NAME = "Kai Bänsch"
ME_EMAILS = ("me@example.com", "kai.baensch@work.example.com")


# --- Content lines ---------------------------------------------------------------------------------


def fold(line: str) -> str:
    """RFC 5545 3.1 / RFC 6350 3.2: at most 75 octets a line, never inside a UTF-8 sequence."""
    if len(line) <= 75 and len(line.encode()) <= 75:
        return line
    parts, part, size = [], [], 0
    for ch in line:
        n = len(ch.encode())
        if size + n > 75:
            parts.append("".join(part))
            part, size = [ch], 1 + n  # the continuation's leading space counts
        else:
            part.append(ch)
            size += n
    parts.append("".join(part))
    return "\r\n ".join(parts)


def esc(text: str) -> str:
    """TEXT value escaping (RFC 5545 3.3.11, RFC 6350 3.4): backslash, semicolon, comma, newline."""
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def block(lines: list[str]) -> str:
    return "".join(fold(line) + "\r\n" for line in lines)


def quoted(value: str, always: bool = False) -> str:
    """A parameter value, quoted when it must be (or always, as Outlook does for CN)."""
    return f'"{value}"' if always or any(c in value for c in ",;:") else value


def ascii_fold(text: str) -> str:
    special = {"ß": "ss", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "æ": "ae", "Æ": "AE", "đ": "d", "ð": "d"}
    text = "".join(special.get(c, c) for c in text)
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii() and c.isalnum())


# --- Pools -----------------------------------------------------------------------------------------


def words(text: str, sep: str = "|") -> list[str]:
    return text.split(sep)


# Given and family names: mostly plain ASCII (about a third of a German user's book has an
# accent or another script somewhere in the name, as here).
GIVEN = words(
    "Anna|Ben|Dev|Eva|Farid|Greta|Hiro|Kofi|Omar|Paula|Quentin|Rosa|Sven|Uma|Lea|Max|Nora|Olaf|Pia|Rolf|Tina|"
    "Mia|Noah|Emma|Liam|Sofia|Lukas|Marie|Felix|Clara|Jonas|Lena|Elias|Hannah|Dagmar|Mehmet|Aylin|Priya|"
    "Arjun|Wei|Mei|Kenji|Yuki|Ngozi|Chinedu|Sipho|Thabo|Mateo|Valentina|Ximena|Niamh|Ioana|Mihai|Julia|Tom|"
    "Sarah|David|Laura|Jan|Katrin|Stefan|Sandra|Michael|Nina|Peter|Sabine|Thomas|Claudia|Markus|Anja|"
    "Jürgen|Chloé|José|Åsa|Łukasz|Tomáš|Zoë|Björn|Inês|Søren|Çağla|Amélie|François|Małgorzata|Ştefan|"
    "Joaquín|Guðrún|Ólafur|Siobhán|Pádraig|Réka|Zsófia|Jiří|Renée|Jörg|Gülşen|Anaïs"
)
FAMILY = words(
    "Schmidt|Schneider|Fischer|Weber|Meyer|Wagner|Becker|Schulz|Hoffmann|Koch|Bauer|Richter|Klein|Wolf|"
    "Neumann|Schwarz|Zimmermann|Braun|Hofmann|Hartmann|Lange|Schmitt|Werner|Krause|Lehmann|Martin|Bernard|"
    "Dubois|Moreau|Johansson|Nieminen|Kowalski|Nowak|Nagy|Rossi|Bianchi|Esposito|Silva|Costa|Duarte|Okafor|"
    "Mensah|Haddad|Said|Patel|Sharma|Tanaka|Suzuki|Kim|Nguyen|O'Brien|MacLeod|Van der Berg|De Vries|Smith|"
    "Jones|Taylor|Brown|Williams|Wilson|Peters|Jansen|Berg|Holm|Lind|Weiss|Roth|Frank|Kaiser|Vogel|"
    "Müller|Schäfer|Schröder|Krüger|Köhler|Lefèvre|García|Núñez|Fernández|López|Ødegård|Wójcik|Dvořák|Novák|"
    "Horváth|Öztürk|Yılmaz|Şahin|Ó Súilleabháin|Weiß|Groß|Jäger"
)
# Names in other scripts: given names and family names with their Latin spelling (for the
# e-mail address), and whether the family name comes first without a space (CJK).
SCRIPTS = (
    (
        "Дмитрий/Dmitry Ольга/Olga Сергей/Sergey Наталья/Natalya",
        "Иванов/Ivanov Смирнова/Smirnova Попова/Popova",
        False,
    ),
    (
        "Γιώργος/Giorgos Μαρία/Maria Νίκος/Nikos Ελένη/Eleni",
        "Παπαδόπουλος/Papadopoulos Οικονόμου/Oikonomou",
        False,
    ),
    (
        "太郎/Taro 花子/Hanako 健/Ken 由紀/Yuki 翔/Sho",
        "田中/Tanaka 佐藤/Sato 鈴木/Suzuki 高橋/Takahashi",
        True,
    ),
    ("芳/Fang 伟/Wei 静/Jing 磊/Lei", "王/Wang 李/Li 张/Zhang 刘/Liu 陈/Chen", True),
    ("민준/Minjun 서연/Seoyeon 지호/Jiho", "김/Kim 이/Lee 박/Park", True),
    ("नेहा/Neha राहुल/Rahul", "शर्मा/Sharma गुप्ता/Gupta", False),
    ("יעל/Yael נועם/Noam", "כהן/Cohen לוי/Levi", False),
)
COMPANIES = words(
    "Contoso Ltd.|Fabrikam|Northwind Traders|Tailspin Toys|Wingtip Toys|Adventure Works|Litware|Proseware|"
    "Woodgrove Bank|Fourth Coffee|Alpine Ski House|Blue Yonder Airlines|Coho Winery|Lamna Healthcare|"
    "Trey Research|Wide World Importers|Humongous Insurance|Relecloud|VanArsdel|Müller & Söhne GmbH|"
    "Schmidt, Weber & Partner|Café Größenwahn|Østergaard ApS|Łódź Logistics sp. z o.o.|Ateliers Lefèvre SARL|"
    "Société Générale d'Exemple|Núñez y Asociados|Bäckerei Schäfer"
)
DEPARTMENTS = words("|||Sales|Engineering|Finance|HR|Vertrieb|Einkauf|R&D|Legal")
TITLES = words(
    "CEO|CTO|CFO|Head of Partnerships|Managing Director|Geschäftsführerin|Senior Engineer|Product Manager|"
    "Account Executive|Steuerberater|Rechtsanwältin|Consultant|VP Engineering|Founder|Designer"
)
# (street, city, region, postcode, country name, ISO code)
PLACES = (
    ("Friedrichstraße {n}", "Berlin", "", "10117", "Deutschland", "de"),
    ("Schönhauser Allee {n}", "Berlin", "", "10435", "Germany", "de"),
    ("Königsallee {n}", "Düsseldorf", "", "40212", "Deutschland", "de"),
    ("Maximilianstraße {n}, Rückgebäude", "München", "Bayern", "80539", "Deutschland", "de"),
    ("Große Bleichen {n}", "Hamburg", "", "20354", "Germany", "de"),
    ("{n} Rue de Rivoli", "Paris", "", "75001", "France", "fr"),
    ("Calle de Alcalá {n}, 3º izq.", "Madrid", "", "28014", "España", "es"),
    ("{n} Baker Street", "London", "", "NW1 6XE", "United Kingdom", "gb"),
    ("{n} Main Street, Suite 400", "Springfield", "IL", "62701", "USA", "us"),
    ("{n} Market St", "San Francisco", "CA", "94105", "United States", "us"),
    ("Drottninggatan {n}", "Stockholm", "", "111 51", "Sverige", "se"),
    ("ul. Piotrkowska {n}", "Łódź", "", "90-001", "Polska", "pl"),
)
NOTES = words(
    "Met at the Lisbon offsite, 2023.\nPrefers calls after 4pm, not Mondays.|"
    "Wants an intro to a good tax adviser, Cologne area|Kinder: Lena (2015), Paul (2018)\nHund heißt Bruno|"
    "Assistant: Maria, ext. 204; book via her.|Alumni network; ask about the board seat, not the fund.|"
    "Allergic to nuts. Vegetarian.\nLikes: jazz, cycling, espresso|"
    "Referred by Chloé; owes me a call back re: the Q3 deal|Old flatmate from Leipzig"
)
LONG_NOTE = (
    "Background: ran the Nordics business until 2021, then moved to the holding; knows everyone at the "
    "Hamburg office, including the new CFO.\nLast time we spoke: budgets are frozen until March, but "
    "the pilot can start earlier if legal signs off; she asked for the reference list, the pricing sheet "
    "(v3, not v2) and a short note on data residency.\nFollow up in January, before the kick-off."
)
SUMMARIES_1 = words(
    "1:1 {a} / {me}|Coffee with {a}|Lunch with {a}|Call: {a}|Catch-up {a}|Mittagessen mit {a}|"
    "Déjeuner avec {a}|Intro call — {a}|{a} <> {me}|Abstimmung {a}"
)
SUMMARIES_N = words(
    "Quarterly review|Project Ölberg: kick-off|Steering committee|Budget 2027, draft 2|Hiring sync|"
    "Board prep|Jour fixe Vertrieb|Design review; API v2|Offsite planning|Customer workshop (Fabrikam)|"
    "All hands|Retro"
)
PERSONAL = words(
    "Dentist|Gym|Zahnarzt|Flight LH 1234 BER → LIS|Pick up the kids|Focus time|Elternabend|Car service|"
    "Train to Hamburg"
)
ALL_DAY = words("Out of office|Urlaub|Conference: re:publica|Public holiday|Home office|Offsite")
ROOMS = words("Spree (8)|Havel|Konferenzraum Süd|Board room|Salle Rivoli|Phone booth 3")
LOCATIONS = words(
    "Café Einstein, Unter den Linden 42, 10117 Berlin|Microsoft Teams Meeting|"
    "https://us02web.zoom.us/j/81234567890?pwd=ZXhhbXBsZQ|Room 4.12 (Berlin HQ)|Konferenzraum Süd|"
    "Their office; Maximilianstraße 35, München|Phone|Restaurant Lübecker Hof|"
)
GOOGLE_MEET = (
    "-::~:~::~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~::~:~::-\n"
    "Join with Google Meet: https://meet.google.com/{code}\nOr dial: (DE) +49 30 300195061 PIN: "
    "123456789#\nMore phone numbers: https://tel.meet/{code}?pin=1234567890123\n\nLearn more about Meet "
    "at: https://support.google.com/a/users/answer/9282720\n\nPlease do not edit this section.\n"
    "-::~:~::~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~:~::~:~::-"
)
TEAMS = (
    "{agenda}\n\n________________________________________________________________________________\n"
    "Microsoft Teams meeting\nJoin on your computer, mobile app or room device\nClick here to join the "
    "meeting<https://teams.microsoft.com/l/meetup-join/19%3ameeting_{code}%40thread.v2/0?context=%7b%22Tid"
    "%22%3a%22{code}%22%7d>\nMeeting ID: 312 456 789 012\nPasscode: aB3cD4\nDownload Teams<https://www.micro"
    "soft.com/en-us/microsoft-teams/download-app> | Join on the web<https://www.microsoft.com/microsoft-"
    "teams/join-a-meeting>\nOr call in (audio only)\n+49 69 365052925,,123456789# Germany, Frankfurt\n"
    "Phone Conference ID: 123 456 789#\nFind a local number<https://dialin.teams.microsoft.com/> | Reset "
    "PIN<https://mysettings.lync.com/pstnconferencing>\nLearn More<https://aka.ms/JoinTeamsMeeting> | "
    "Meeting options<https://teams.microsoft.com/meetingOptions/>\n"
    "________________________________________________________________________________"
)
ZOOM = (
    "{agenda}\n\nJoin Zoom Meeting\nhttps://us02web.zoom.us/j/81234567890?pwd=ZXhhbXBsZQ\n\nMeeting ID: "
    "812 3456 7890\nPasscode: 424242\n\n---\n\nOne tap mobile\n+496971049922,,81234567890#,,,,*424242# "
    "Germany\n+493056795800,,81234567890#,,,,*424242# Germany\n\nDial by your location\n• +49 69 7104 9922 "
    "Germany\n• +49 30 5679 5800 Germany\n\nFind your local number: https://us02web.zoom.us/u/abc"
)
AGENDAS = words(
    "Agenda:\n1. Numbers Q3, budget\n2. Hiring; next steps\n3. AOB|"
    "Bitte die Unterlagen vorab lesen: Angebot, Vertrag (Entwurf), Zeitplan.|"
    "Hi all,\n\nas discussed: let's go through the open points, decide on the vendor, and agree who "
    "owns the rollout.\n\nThanks, and see you there!|Follow-up from last week; see the doc for notes.|"
)
SHORT_DESCRIPTIONS = words("Bitte pünktlich.|Notes: https://docs.example.com/d/1a2b3c|Re: your mail|ok")


# --- Phones ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phone:
    """A number from a fiction range, written out the ways people and clients do."""

    cc: str  # 49, 44, 1
    area: str  # national significant prefix: 30, 7700, 202
    local: str

    def national(self) -> str:
        if self.cc == "1":
            return f"({self.area}) {self.local[:3]}-{self.local[3:]}"
        if self.cc == "44":
            return (
                f"0{self.area} {self.local}"
                if len(self.area) == 4
                else (f"0{self.area} {self.local[:4]} {self.local[4:]}")
            )
        return f"0{self.area} {self.local}"

    def international(self, style: int) -> str:
        if self.cc == "1":
            return (
                f"+1 {self.area}-{self.local[:3]}-{self.local[3:]}",
                f"+1 ({self.area}) {self.local[:3]}-{self.local[3:]}",
                f"+1{self.area}{self.local}",
            )[style % 3]
        return (
            f"+{self.cc} {self.area} {self.local}",
            f"+{self.cc} (0){self.area} {self.local}",
            f"00{self.cc} {self.area} {self.local}",
            f"+{self.cc}{self.area}{self.local}",
        )[style % 4]

    def uri(self) -> str:
        if self.cc == "1":
            return f"tel:+1-{self.area}-{self.local[:3]}-{self.local[3:]}"
        return f"tel:+{self.cc}-{self.area}-{self.local}"


def phone_pool(rng: random.Random) -> list[Phone]:
    """About 10,000 distinct numbers from the ranges set aside for drama and examples."""
    pool = [
        Phone("49", area, f"{prefix}{n:03d}")
        for area, prefix in (
            ("30", "23125"),
            ("69", "90009"),
            ("40", "66969"),
            ("221", "4710"),
            ("89", "99998"),
        )
        for n in range(1000)
    ]
    pool += [Phone("44", "20", f"79460{n:03d}") for n in range(1000)]
    pool += [Phone("44", "7700", f"900{n:03d}") for n in range(1000)]
    areas = ("202", "212", "213", "305", "312", "415", "503", "512", "617", "646", "702", "718", "206", "303")
    pool += [Phone("1", a, f"55501{n:02d}") for a in areas for n in range(100)]
    rng.shuffle(pool)
    return pool


# --- People and cards ------------------------------------------------------------------------------

CARD_STYLES = (
    ("google", 25),
    ("apple", 20),
    ("nextcloud", 20),
    ("davx5", 15),
    ("thunderbird", 10),
    ("sabre4", 10),
)


@dataclass
class Person:
    uid: str
    given: str
    family: str
    latin: tuple[str, str]
    family_first: bool
    emails: list[str]
    phones: list[Phone]
    style: str
    org: str = ""
    department: str = ""
    title: str = ""
    company_card: bool = False
    categories: list[str] = field(default_factory=list)

    @property
    def fn(self) -> str:
        if self.company_card:
            return self.org
        return (
            f"{self.family}{self.given}"
            if self.family_first and not self.given.isascii()
            else (f"{self.given} {self.family}")
        )


def pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


def new_uid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def make_people(rng: random.Random, n: int) -> list[Person]:
    phones = iter(phone_pool(rng))
    names = list(itertools.product(GIVEN, FAMILY))
    rng.shuffle(names)
    plain = [n for n in names if (n[0] + n[1]).isascii()]
    accented = [n for n in names if not (n[0] + n[1]).isascii()]
    drawn = Counter[bool]()
    used: set[str] = set(ME_EMAILS)
    people = []
    for i in range(n):
        style = pick(rng, CARD_STYLES)
        if rng.random() < 0.05:
            givens, families, first = rng.choice(SCRIPTS)
            given, lg = rng.choice(givens.split()).split("/")
            family, lf = rng.choice(families.split()).split("/")
        else:
            accent = rng.random() < 0.3
            pool = accented if accent else plain
            given, family = pool[drawn[accent] % len(pool)]
            if drawn[accent] >= len(pool):
                given = f"{given} {chr(65 + (drawn[accent] // len(pool)) % 26)}."
            drawn[accent] += 1
            lg, lf, first = ascii_fold(given), ascii_fold(family), False
        uid = new_uid(rng)
        person = Person(
            uid=str(uid).upper() if style == "apple" else str(uid),
            given=given,
            family=family,
            latin=(lg or "x", lf or "y"),
            family_first=first,
            emails=[],
            phones=[],
            style=style,
        )
        if rng.random() < 0.7:
            person.org = rng.choice(COMPANIES)
            person.department = rng.choice(DEPARTMENTS)
            person.title = rng.choice(TITLES) if rng.random() < 0.8 else ""
        person.company_card = person.org != "" and rng.random() < 0.015
        if person.company_card:  # a company's card: its general address, no person's title
            person.title = person.department = ""
        k = 1 if person.company_card else rng.choices((0, 1, 2, 3), (12, 52, 28, 8))[0]
        for j in range(k):
            work = person.company_card or (j == 0 and person.org and rng.random() < 0.8)
            base = (
                "info"
                if person.company_card
                else f"{person.latin[0]}.{person.latin[1]}".lower()
                if work or rng.random() < 0.5
                else (f"{person.latin[0][0]}{person.latin[1]}".lower())
            )
            domain = (
                f"{ascii_fold(person.org).lower()[:16]}.example.com"
                if work
                else rng.choice(
                    ("example.com", "example.net", "example.org", "mail.example.com", "web.example.net")
                )
            )
            email = f"{base}@{domain}"
            suffix = 2
            while email in used:
                email = f"{base}{suffix}@{domain}"
                suffix += 1
            used.add(email)
            person.emails.append(email)
        for _ in range(rng.choices((0, 1, 2, 3), (30 if person.emails else 0, 45, 20, 5))[0]):
            number = next(phones, None)
            if number is not None:
                person.phones.append(number)
        if not person.emails and not person.phones:
            person.emails.append(f"{person.latin[0].lower()}.{person.latin[1].lower()}.{i}@example.org")
        people.append(person)
    return people


def bday(rng: random.Random, style: str) -> str:
    day = date(rng.randrange(1950, 2004), rng.randrange(1, 13), rng.randrange(1, 29))
    if rng.random() < 0.04:
        day = date(rng.choice((1984, 1988, 1992, 1996)), 2, 29)
    no_year = rng.random() < 0.25
    if style == "google":
        return f"BDAY:--{day:%m%d}" if no_year else f"BDAY:{day:%Y%m%d}"
    if style == "apple":
        return f"BDAY;X-APPLE-OMIT-YEAR=1604:1604-{day:%m-%d}" if no_year else f"BDAY:{day:%Y-%m-%d}"
    if style == "nextcloud":
        return (
            f"BDAY;X-APPLE-OMIT-YEAR=1604;VALUE=DATE:1604{day:%m%d}"
            if no_year
            else f"BDAY;VALUE=DATE:{day:%Y%m%d}"
        )
    if style == "thunderbird":
        return f"BDAY;VALUE=DATE:--{day:%m%d}" if no_year else f"BDAY;VALUE=DATE:{day:%Y%m%d}"
    return f"BDAY:--{day:%m%d}" if no_year else f"BDAY:{day:%Y%m%d}"


def photo(rng: random.Random, style: str) -> str:
    if style == "google" or rng.random() < 0.25:
        return f"PHOTO:https://lh3.googleusercontent.com/contacts/AG6tpz{rng.getrandbits(160):040x}"
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + rng.randbytes(
        rng.randrange(3000, 12000)
    )
    data = base64.b64encode(jpeg).decode()
    if style in ("davx5", "sabre4", "thunderbird"):
        return f"PHOTO:data:image/jpeg;base64,{data}"
    return f"PHOTO;ENCODING=b;TYPE=JPEG:{data}"


def tel_lines(rng: random.Random, p: Person) -> list[str]:
    out = []
    for j, number in enumerate(p.phones):
        kind = ("CELL", "WORK", "HOME")[min(j, 2)] if rng.random() < 0.85 else "VOICE"
        home = number.cc == "49"
        form = rng.random()
        if p.style in ("davx5", "sabre4") and form < 0.5:
            value_type = "VALUE=uri;" if p.style == "davx5" else ""
            out.append(f"TEL;{value_type}TYPE={kind.lower()}:{number.uri()}")
            continue
        typed = number.national() if home and form < 0.75 else number.international(rng.randrange(4))
        if p.style == "apple":
            item = f"item{10 + j}"
            out.append(f"{item}.TEL;type={kind};type=VOICE{';type=pref' if j == 0 else ''}:{typed}")
            label = {"CELL": "Mobile", "WORK": "Work"}.get(kind, "Home")
            out.append(f"{item}.X-ABLabel:_$!<{label}>!$_")
        elif p.style == "nextcloud":
            out.append(f'TEL;TYPE="{kind},VOICE":{typed}')
        elif p.style == "thunderbird":
            out.append(f"TEL;VALUE=TEXT;TYPE={kind.lower()}:{typed}")
        elif p.style in ("davx5", "sabre4"):
            out.append(f"TEL;TYPE={kind.lower()}:{typed}")
        else:
            out.append(f"TEL;TYPE={kind}:{typed}")
    return out


def email_lines(rng: random.Random, p: Person) -> list[str]:
    out = []
    for j, email in enumerate(p.emails):
        kind = "WORK" if j == 0 and p.org else "HOME"
        if p.style == "google":
            if j == 1 and rng.random() < 0.5:
                out += [f"item1.EMAIL;TYPE=INTERNET:{email}", "item1.X-ABLabel:Consulting"]
            else:
                out.append(f"EMAIL;TYPE=INTERNET;TYPE={kind}:{email}")
        elif p.style == "apple":
            out.append(f"EMAIL;type=INTERNET;type={kind}{';type=pref' if j == 0 else ''}:{email}")
        elif p.style == "nextcloud":
            out.append(f"EMAIL;TYPE={kind}:{email}")
        elif p.style == "thunderbird":
            out.append(f"EMAIL;PREF=1:{email}" if j == 0 else f"EMAIL:{email}")
        else:
            out.append(f"EMAIL;TYPE={kind.lower()}{';PREF=1' if j == 0 else ''}:{email}")
    return out


def adr_line(rng: random.Random, p: Person, item: int) -> list[str]:
    street, city, region, code, country, iso = rng.choice(PLACES)
    street = street.format(n=rng.randrange(1, 200))
    fields = ";".join(esc(f) for f in ("", "", street, city, region, code, country))
    kind = "WORK" if p.org and rng.random() < 0.6 else "HOME"
    if p.style == "apple":
        return [f"item{item}.ADR;type={kind};type=pref:{fields}", f"item{item}.X-ABADR:{iso}"]
    if p.style == "davx5":
        label = f"{street}\\n{code} {city}\\n{country}".replace('"', "")
        return [f'ADR;TYPE={kind.lower()};LABEL="{label}":{fields}']
    if p.style in ("sabre4", "thunderbird"):
        return [f"ADR;TYPE={kind.lower()}:{fields}"]
    return [f"ADR;TYPE={kind}:{fields}"]


def card(rng: random.Random, p: Person, now: datetime) -> str:
    v4 = p.style in ("davx5", "thunderbird", "sabre4")
    prodid = {
        "google": "",
        "apple": "-//Apple Inc.//iPhone OS 17.5//EN",
        "nextcloud": "-//Sabre//Sabre VObject 4.5.6//EN",
        "sabre4": "-//Sabre//Sabre VObject 4.5.6//EN",
        "davx5": "DAVx5/4.4.2-ose ez-vcard/0.12.1",
        "thunderbird": "",
    }[p.style]
    lines = ["BEGIN:VCARD", f"VERSION:{'4.0' if v4 else '3.0'}"]
    if prodid:
        lines.append(f"PRODID:{prodid}")
    lines.append(f"UID:{p.uid}")
    if p.company_card:
        lines += [f"FN:{esc(p.org)}", "N:;;;;"]
        lines.append("KIND:org" if v4 else "X-ABShowAs:COMPANY")
    else:
        prefix = "Dr." if rng.random() < 0.04 else ""
        lines.append(f"FN:{esc((prefix + ' ' if prefix else '') + p.fn)}")
        lines.append(f"N:{esc(p.family)};{esc(p.given)};;{prefix};")
        if p.family_first and p.style == "apple":
            lines += [f"X-PHONETIC-FIRST-NAME:{p.latin[0]}", f"X-PHONETIC-LAST-NAME:{p.latin[1]}"]
    if p.org:
        org = esc(p.org) + (f";{esc(p.department)}" if p.department else (";" if p.style == "apple" else ""))
        lines.append(f"ORG:{org}")
    if p.title:
        lines.append(f"TITLE:{esc(p.title)}")
    lines += email_lines(rng, p)
    lines += tel_lines(rng, p)
    for item in range(1, 1 + rng.choices((0, 1, 2), (55, 38, 7))[0]):
        lines += adr_line(rng, p, item)
    if rng.random() < 0.35 and not p.company_card:
        lines.append(bday(rng, p.style))
    if rng.random() < 0.3:
        lines.append(f"NOTE:{esc(LONG_NOTE if rng.random() < 0.25 else rng.choice(NOTES))}")
    if rng.random() < 0.12:
        lines.append(f"URL:https://www.{ascii_fold(p.org or p.latin[1]).lower()}.example.com/")
    if rng.random() < 0.04:
        lines.append(f"NICKNAME:{esc(p.given[:3])}")
    if p.style == "apple" and rng.random() < 0.05:
        lines.append(f"X-SOCIALPROFILE;type=linkedin:https://www.linkedin.com/in/{p.latin[0].lower()}-x")
    cats = list(p.categories)
    if p.style == "google":
        cats = ["myContacts", *cats] + (["starred"] if rng.random() < 0.05 else [])
    if cats:
        lines.append(f"CATEGORIES:{','.join(esc(c) for c in cats)}")
    if rng.random() < 0.04:
        lines.append(photo(rng, p.style))
    if p.style != "google":
        rev = now - timedelta(days=rng.randrange(1, 2000), seconds=rng.randrange(86400))
        lines.append(f"REV:{rev:%Y%m%dT%H%M%SZ}" if p.style != "apple" else f"REV:{rev:%Y-%m-%dT%H:%M:%SZ}")
    lines.append("END:VCARD")
    return block(lines)


def my_card() -> str:
    return block(
        [
            "BEGIN:VCARD",
            "VERSION:3.0",
            "PRODID:-//Sabre//Sabre VObject 4.5.6//EN",
            "UID:8d0d4a8e-4b5e-4d1f-9f43-6b0c5c1e7a01",
            f"FN:{ME_NAME}",
            "N:Bänsch;Kai;;;",
            f"EMAIL;TYPE=HOME:{ME_EMAILS[0]}",
            f"EMAIL;TYPE=WORK:{ME_EMAILS[1]}",
            "TEL;TYPE=CELL:+49 30 23125999",
            "END:VCARD",
        ]
    )


# --- Time zones ------------------------------------------------------------------------------------


def _vtimezone(
    tzid: str, parts: list[tuple[str, str, str, str, str, str]], extra: tuple[str, ...] = ()
) -> list[str]:
    lines = ["BEGIN:VTIMEZONE", f"TZID:{tzid}", *extra]
    for kind, start, rule, frm, to, name in parts:
        lines += [f"BEGIN:{kind}", f"TZOFFSETFROM:{frm}", f"TZOFFSETTO:{to}"]
        lines += [f"TZNAME:{name}"] if name else []
        lines += [f"DTSTART:{start}"] + ([f"RRULE:{rule}"] if rule else []) + [f"END:{kind}"]
    return [*lines, "END:VTIMEZONE"]


def _outlook(tzid: str, std: tuple[str, str], dst: tuple[str, str], off: tuple[str, str]) -> list[str]:
    """Outlook's VTIMEZONE: rules from 1601, no TZNAME (as in tests/data/exports/outlook)."""
    return [
        "BEGIN:VTIMEZONE",
        f"TZID:{tzid}",
        "BEGIN:STANDARD",
        f"DTSTART:{std[0]}",
        f"RRULE:{std[1]}",
        f"TZOFFSETFROM:{off[1]}",
        f"TZOFFSETTO:{off[0]}",
        "END:STANDARD",
        "BEGIN:DAYLIGHT",
        f"DTSTART:{dst[0]}",
        f"RRULE:{dst[1]}",
        f"TZOFFSETFROM:{off[0]}",
        f"TZOFFSETTO:{off[1]}",
        "END:DAYLIGHT",
        "END:VTIMEZONE",
    ]


EU_DST = "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"
EU_STD = "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU"
US_DST = "FREQ=YEARLY;BYMONTH=3;BYDAY=2SU"
US_STD = "FREQ=YEARLY;BYMONTH=11;BYDAY=1SU"
VTIMEZONES: dict[str, list[str]] = {
    "Europe/Berlin": _vtimezone(
        "Europe/Berlin",
        [
            ("DAYLIGHT", "19700329T020000", EU_DST, "+0100", "+0200", "CEST"),
            ("STANDARD", "19701025T030000", EU_STD, "+0200", "+0100", "CET"),
        ],
        ("X-LIC-LOCATION:Europe/Berlin",),
    ),
    "America/New_York": _vtimezone(
        "America/New_York",
        [
            ("DAYLIGHT", "19700308T020000", US_DST, "-0500", "-0400", "EDT"),
            ("STANDARD", "19701101T020000", US_STD, "-0400", "-0500", "EST"),
        ],
        ("X-LIC-LOCATION:America/New_York",),
    ),
    "Europe/London": _vtimezone(
        "Europe/London",
        [
            ("DAYLIGHT", "19810329T010000", EU_DST, "+0000", "+0100", "BST"),
            ("STANDARD", "19961027T020000", EU_STD, "+0100", "+0000", "GMT"),
        ],
    ),
    "Asia/Tokyo": _vtimezone("Asia/Tokyo", [("STANDARD", "19700101T000000", "", "+0900", "+0900", "JST")]),
    "W. Europe Standard Time": _outlook(
        "W. Europe Standard Time",
        ("16011028T030000", "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10"),
        ("16010325T020000", "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3"),
        ("+0100", "+0200"),
    ),
    "Eastern Standard Time": _outlook(
        "Eastern Standard Time",
        ("16011104T020000", "FREQ=YEARLY;BYDAY=1SU;BYMONTH=11"),
        ("16010311T020000", "FREQ=YEARLY;BYDAY=2SU;BYMONTH=3"),
        ("-0500", "-0400"),
    ),
    "Pacific Standard Time": _outlook(
        "Pacific Standard Time",
        ("16011104T020000", "FREQ=YEARLY;BYDAY=1SU;BYMONTH=11"),
        ("16010311T020000", "FREQ=YEARLY;BYDAY=2SU;BYMONTH=3"),
        ("-0800", "-0700"),
    ),
    "GMT Standard Time": _outlook(
        "GMT Standard Time",
        ("16011028T020000", "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10"),
        ("16010325T010000", "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3"),
        ("+0000", "+0100"),
    ),
}
IANA = {
    "W. Europe Standard Time": "Europe/Berlin",
    "Eastern Standard Time": "America/New_York",
    "Pacific Standard Time": "America/Los_Angeles",
    "GMT Standard Time": "Europe/London",
}
ZONES_IANA = (("Europe/Berlin", 70), ("America/New_York", 16), ("Europe/London", 9), ("Asia/Tokyo", 5))
ZONES_OUTLOOK = (
    ("W. Europe Standard Time", 70),
    ("Eastern Standard Time", 15),
    ("Pacific Standard Time", 7),
    ("GMT Standard Time", 8),
)


def zone(tzid: str) -> ZoneInfo:
    return ZoneInfo(IANA.get(tzid, tzid))


# --- Events ----------------------------------------------------------------------------------------

CAL_STYLES = (
    ("google", 33),
    ("outlook", 25),
    ("apple", 15),
    ("nextcloud", 12),
    ("thunderbird", 5),
    ("server", 10),
)
PRODIDS = {
    "google": "-//Google Inc//Google Calendar 70.9054//EN",
    "outlook": "-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN",
    "apple": "-//Apple Inc.//macOS 14.5//EN",
    "nextcloud": "-//IDN nextcloud.com//Calendar app 4.7.4//EN",
    "thunderbird": "-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN",
    "server": "-//Booking Co//Scheduler 2.3//EN",
}


@dataclass(frozen=True)
class Who:
    name: str
    email: str
    partstat: str = "ACCEPTED"
    cutype: str = "INDIVIDUAL"
    role: str = "REQ-PARTICIPANT"


@dataclass
class Ev:
    """One VEVENT before it is written in a client's style."""

    uid: str
    summary: str
    start: datetime | date  # aware, or a date for all-day
    end: datetime | date
    form: str  # tzid | utc | floating | date
    tzid: str = ""
    organizer: Who | None = None
    attendees: list[Who] = field(default_factory=list)
    location: str = ""
    description: str | None = None
    status: str = ""
    alarm: bool = False
    rrule: str = ""
    exdates: list[datetime | date] = field(default_factory=list)
    recurrence_id: datetime | date | None = None
    sequence: int = 0
    created: datetime = NOW


@dataclass(frozen=True)
class CalendarObject:
    """One calendar object resource: all VEVENTs of one UID, as a client PUTs it."""

    uid: str
    style: str
    tzids: tuple[str, ...]
    vevents: tuple[str, ...]

    def text(self) -> str:
        head = ["BEGIN:VCALENDAR", f"PRODID:{PRODIDS[self.style]}", "VERSION:2.0"]
        if self.style in ("google", "apple", "nextcloud"):
            head.append("CALSCALE:GREGORIAN")
        if self.style == "outlook":
            head.append("METHOD:PUBLISH")
        zones = "".join(block(VTIMEZONES[t]) for t in self.tzids)
        return block(head) + zones + "".join(self.vevents) + "END:VCALENDAR\r\n"


def stamp(value: datetime | date, form: str, tzid: str) -> tuple[str, str]:
    """(parameters, value) of a DATE-TIME or DATE in the event's form."""
    if form == "date" or not isinstance(value, datetime):
        return ";VALUE=DATE", f"{value:%Y%m%d}"
    if form == "utc":
        return "", f"{value.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    if form == "floating":
        return "", f"{value.astimezone(HOME):%Y%m%dT%H%M%S}"
    return f";TZID={tzid}", f"{value.astimezone(zone(tzid)):%Y%m%dT%H%M%S}"


def address(who: Who, style: str, rng: random.Random) -> str:
    """The calendar user address: Outlook sometimes keeps the case people typed."""
    email = who.email
    if style == "outlook" and rng.random() < 0.15:
        local, _, domain = email.partition("@")
        email = ".".join(p.capitalize() for p in local.split(".")) + "@" + domain.capitalize()
    return f"mailto:{email}"


def attendee_line(who: Who, style: str, rng: random.Random) -> str:
    cn = who.name or who.email
    if style == "google":
        params = (
            f"CUTYPE={who.cutype};ROLE={who.role};PARTSTAT={who.partstat};RSVP=TRUE;CN={quoted(cn)}"
            ";X-NUM-GUESTS=0"
        )
    elif style == "outlook":
        params = f"CN={quoted(cn, True)};ROLE={who.role};PARTSTAT={who.partstat};RSVP=TRUE"
        if who.cutype == "RESOURCE":
            params = f"CN={quoted(cn, True)};CUTYPE=RESOURCE;ROLE=NON-PARTICIPANT;RSVP=TRUE"
    elif style == "apple":
        params = (
            f"CN={quoted(cn)};CUTYPE={who.cutype};EMAIL={quoted(who.email, True)};PARTSTAT={who.partstat};"
            f"ROLE={who.role}" + (";SCHEDULE-STATUS=1.2" if rng.random() < 0.5 else "")
        )
    elif style in ("nextcloud", "thunderbird"):
        params = (
            f"CN={quoted(cn)};CUTYPE={who.cutype};PARTSTAT={who.partstat};ROLE={who.role};RSVP=TRUE"
            ";LANGUAGE=en"
        )
    else:
        params = f"CN={quoted(cn)};PARTSTAT={who.partstat}"
    return f"ATTENDEE;{params}:{address(who, style, rng)}"


def organizer_line(who: Who, style: str, rng: random.Random) -> str:
    if style == "outlook":
        return f"ORGANIZER;CN={quoted(who.name, True)}:{address(who, style, rng)}"
    if style == "apple":
        return f"ORGANIZER;CN={quoted(who.name)};EMAIL={quoted(who.email, True)}:mailto:{who.email}"
    if style == "google":
        return f"ORGANIZER;CN={quoted(who.name or who.email)}:mailto:{who.email}"
    return f"ORGANIZER;CN={quoted(who.name)}:mailto:{who.email}"


def alarm(style: str, rng: random.Random) -> list[str]:
    if style == "google":
        return [
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            "DESCRIPTION:This is an event reminder",
            f"TRIGGER:-P0DT0H{rng.choice((10, 15, 30))}M0S",
            "END:VALARM",
        ]
    if style == "apple":
        u = str(new_uid(rng)).upper()
        return [
            "BEGIN:VALARM",
            f"X-WR-ALARMUID:{u}",
            f"UID:{u}",
            "TRIGGER:-PT15M",
            "ATTACH;VALUE=URI:Chord",
            "ACTION:AUDIO",
            "X-APPLE-DEFAULT-ALARM:TRUE",
            "ACKNOWLEDGED:20260101T090000Z",
            "END:VALARM",
        ]
    return [
        "BEGIN:VALARM",
        f"TRIGGER:-PT{rng.choice((5, 15, 30))}M",
        "ACTION:DISPLAY",
        "DESCRIPTION:Reminder",
        "END:VALARM",
    ]


def vevent(ev: Ev, style: str, rng: random.Random) -> str:
    sp, sv = stamp(ev.start, ev.form, ev.tzid)
    ep, evv = stamp(ev.end, ev.form, ev.tzid)
    dtstart, dtend = f"DTSTART{sp}:{sv}", f"DTEND{ep}:{evv}"
    modified = ev.created + timedelta(days=rng.randrange(0, 30))
    recur = [f"RRULE:{ev.rrule}"] if ev.rrule else []
    if ev.exdates:
        if style == "outlook":
            params, _ = stamp(ev.exdates[0], ev.form, ev.tzid)
            recur.append(f"EXDATE{params}:" + ",".join(stamp(d, ev.form, ev.tzid)[1] for d in ev.exdates))
        else:
            recur += [f"EXDATE{p}:{v}" for p, v in (stamp(d, ev.form, ev.tzid) for d in ev.exdates)]
    rid = []
    if ev.recurrence_id is not None:
        p, v = stamp(ev.recurrence_id, ev.form, ev.tzid)
        rid = [f"RECURRENCE-ID{p}:{v}"]
    people = ([organizer_line(ev.organizer, style, rng)] if ev.organizer else []) + [
        attendee_line(a, style, rng) for a in ev.attendees
    ]
    desc = [] if ev.description is None else [f"DESCRIPTION:{esc(ev.description)}"]
    loc = [f"LOCATION:{esc(ev.location)}"] if ev.location or style in ("google", "outlook") else []
    status = [f"STATUS:{ev.status}"] if ev.status else []
    alarms = alarm(style, rng) if ev.alarm else []
    created, dtstamp = f"CREATED:{ev.created:%Y%m%dT%H%M%SZ}", f"DTSTAMP:{NOW:%Y%m%dT%H%M%SZ}"
    last = f"LAST-MODIFIED:{modified:%Y%m%dT%H%M%SZ}"
    if style == "google":
        lines = [dtstart, dtend, *recur, dtstamp, *people[:1], f"UID:{ev.uid}", *rid, *people[1:]]
        if rng.random() < 0.3:
            lines.append(
                f"X-GOOGLE-CONFERENCE:https://meet.google.com/{ev.uid[:3]}-{ev.uid[3:7]}-{ev.uid[7:10]}"
            )
        lines += [created, *(desc or ["DESCRIPTION:"]), last, *loc, f"SEQUENCE:{ev.sequence}"]
        lines += [
            f"STATUS:{ev.status or 'CONFIRMED'}",
            f"SUMMARY:{esc(ev.summary)}",
            "TRANSP:OPAQUE",
            *alarms,
        ]
    elif style == "outlook":
        busy = "FREE" if ev.status == "CANCELLED" else "BUSY"
        lines = [
            *people[1:],
            "CLASS:PUBLIC",
            created,
            *(desc or ["DESCRIPTION:\\n"]),
            *recur[1:],
            last,
            *loc,
            "PRIORITY:5",
            *recur[:1],
            f"SEQUENCE:{ev.sequence}",
            *status,
            f"SUMMARY;LANGUAGE={rng.choice(('en-us', 'de-de'))}:{esc(ev.summary)}",
            "TRANSP:OPAQUE",
            f"X-MICROSOFT-CDO-BUSYSTATUS:{busy}",
            "X-MICROSOFT-CDO-IMPORTANCE:1",
            f"X-MICROSOFT-CDO-INTENDEDSTATUS:{busy}",
            "X-MICROSOFT-DISALLOW-COUNTER:FALSE",
            "X-MS-OLK-AUTOFILLLOCATION:FALSE",
            "X-MS-OLK-CONFTYPE:0",
        ]
        if ev.form == "date":
            lines.append("X-MICROSOFT-CDO-ALLDAYEVENT:TRUE")
        lines += [dtend, dtstamp, dtstart, *rid, *people[:1], f"UID:{ev.uid}", *alarms]
    elif style == "apple":
        lines = [
            created,
            dtend,
            f"UID:{ev.uid}",
            dtstamp,
            *loc,
            *recur,
            *rid,
            *desc,
            f"SEQUENCE:{ev.sequence}",
            *status,
            "X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC",
            f"SUMMARY:{esc(ev.summary)}",
            last,
            dtstart,
            *people,
        ]
        if ev.location and rng.random() < 0.3:
            title = esc(ev.location.split(",")[0]).replace('"', "'")
            lines.append(
                "X-APPLE-STRUCTURED-LOCATION;VALUE=URI;X-ADDRESS="
                '"Unter den Linden 42\\n10117 Berlin\\nGermany"'
                f';X-APPLE-RADIUS=70.58;X-TITLE="{title}":geo:52.517,13.389'
            )
        lines += alarms
    elif style in ("nextcloud", "thunderbird"):
        lines = [
            created,
            dtstamp,
            last,
            f"SEQUENCE:{ev.sequence}",
            f"UID:{ev.uid}",
            dtstart,
            dtend,
            *recur,
            *rid,
            f"STATUS:{ev.status or 'CONFIRMED'}",
            f"SUMMARY:{esc(ev.summary)}",
            *loc,
            *desc,
            *people,
        ]
        if style == "thunderbird":
            lines += ["X-MOZ-GENERATION:2", f"X-MOZ-LASTACK:{NOW:%Y%m%dT%H%M%SZ}"]
        lines += alarms
    else:
        lines = [
            f"UID:{ev.uid}",
            dtstamp,
            dtstart,
            dtend,
            *recur,
            *rid,
            f"SUMMARY:{esc(ev.summary)}",
            *loc,
            *desc,
            *status,
            *people,
        ]
    return block(["BEGIN:VEVENT", *lines, "END:VEVENT"])


class Calendar:
    """Draws the events of one user's calendar (one generator, one order of draws: deterministic)."""

    def __init__(self, rng: random.Random, people: list[Person], now: datetime) -> None:
        self.rng, self.now = rng, now
        reachable = [p for p in people if p.emails and not p.company_card]
        rng.shuffle(reachable)
        self.known = reachable  # Zipf by position: a few people are met every week, most rarely
        self.known_cum = list(itertools.accumulate(1 / (r + 1) ** 0.9 for r in range(len(reachable))))
        self.strangers = [self._stranger(i) for i in range(max(50, len(people) // 2))]
        self.stranger_cum = list(itertools.accumulate(1 / (r + 1) ** 0.7 for r in range(len(self.strangers))))
        self.me = Who(ME_NAME, ME_EMAILS[0])
        self.stats: Counter[str] = Counter()

    def _stranger(self, i: int) -> Who:
        given, family = self.rng.choice(GIVEN), self.rng.choice(FAMILY)
        domain = self.rng.choice(
            ("partner.example.net", "client.example.org", "agency.example.com", "example.net")
        )
        return Who(
            f"{given} {family}", f"{ascii_fold(given).lower()}.{ascii_fold(family).lower()}.{i}@{domain}"
        )

    def person(self) -> Who:
        """Someone to meet: in the address book four times in five."""
        rng = self.rng
        self.stats["attendees"] += 1
        if rng.random() < 0.8 and self.known:
            self.stats["attendees in the address book"] += 1
            r = bisect.bisect_left(self.known_cum, rng.random() * self.known_cum[-1])
            p = self.known[min(r, len(self.known) - 1)]
            email = p.emails[0] if rng.random() < 0.8 else rng.choice(p.emails)
            name = p.fn if rng.random() < 0.9 else ""
            if name and rng.random() < 0.1:
                name = f"{p.family}, {p.given}"  # Exchange's "Last, First" display names
            return Who(name, email)
        r = bisect.bisect_left(self.stranger_cum, rng.random() * self.stranger_cum[-1])
        return self.strangers[min(r, len(self.strangers) - 1)]

    def party(self, k: int, style: str, organizer_is_me: bool) -> tuple[Who, list[Who]]:
        rng = self.rng
        # Google calendars carry the private address, Exchange the work one, others either
        work = style == "outlook" or (style != "google" and rng.random() < 0.4)
        self.me = Who(ME_NAME, ME_EMAILS[1] if work else ME_EMAILS[0])
        others: list[Who] = []
        while len(others) < k:
            who = self.person()
            if all(o.email != who.email for o in others):
                others.append(who)
        stats = rng.choices(("ACCEPTED", "TENTATIVE", "NEEDS-ACTION", "DECLINED"), (70, 8, 12, 10), k=k)
        others = [Who(o.name, o.email, s) for o, s in zip(others, stats, strict=True)]
        self.stats["attendees declined"] += stats.count("DECLINED")
        if organizer_is_me:
            organizer = self.me
            me = Who(self.me.name, self.me.email, "ACCEPTED", role="CHAIR")
            listed = [me, *others] if style in ("google", "apple", "nextcloud") else others
        else:
            organizer = Who(others[0].name or others[0].email, others[0].email)
            mine = rng.choices(("ACCEPTED", "TENTATIVE", "NEEDS-ACTION", "DECLINED"), (72, 8, 8, 12))[0]
            self.stats[f"I am an attendee, {mine}"] += 1
            listed = [Who(others[0].name, others[0].email, "ACCEPTED", role="CHAIR"), *others[1:]]
            listed.insert(rng.randrange(1, len(listed) + 1), Who(self.me.name, self.me.email, mine))
        if k >= 4 and rng.random() < 0.25:
            room = rng.choice(ROOMS)
            host = "resource.calendar.google.com" if style == "google" else "rooms.work.example.com"
            slug = ascii_fold(room).lower() or "room"
            listed.append(
                Who(f"Berlin-4-{room}", f"{slug}@{host}", "ACCEPTED", "RESOURCE", "NON-PARTICIPANT")
            )
        return organizer, listed

    def day(self) -> date:
        rng, today = self.rng, self.now.astimezone(HOME).date()
        x = rng.random()
        offset = (
            -rng.randrange(0, 731)
            if x < 0.75
            else -rng.randrange(731, 1500)
            if x < 0.88
            else rng.randrange(0, 150)
        )
        d = today + timedelta(days=offset)
        if d.weekday() >= 5 and rng.random() < 0.85:
            d -= timedelta(days=d.weekday() - 4)
        return d

    def form(self, style: str) -> tuple[str, str]:
        rng = self.rng
        if style == "outlook":
            return "tzid", pick(rng, ZONES_OUTLOOK)
        if style in ("apple", "nextcloud"):
            return ("tzid", pick(rng, ZONES_IANA)) if rng.random() < 0.93 else ("utc", "")
        if style == "thunderbird":
            return ("tzid", pick(rng, ZONES_IANA)) if rng.random() < 0.8 else ("floating", "")
        return "utc", ""  # Google writes one-off events in UTC; servers and booking pages too

    def at(self, d: date, tzid: str, hour: float) -> datetime:
        tz = zone(tzid) if tzid else HOME
        return datetime.combine(d, time(int(hour), int(hour % 1 * 60)), tz)

    def text(self, style: str) -> str | None:
        rng, x = self.rng, self.rng.random()
        code = f"{rng.getrandbits(48):012x}"
        if x < 0.25:
            template = TEAMS if style == "outlook" else GOOGLE_MEET if style == "google" else ZOOM
            return template.format(agenda=rng.choice(AGENDAS), code=code)
        if x < 0.4:
            return rng.choice(AGENDAS) or None
        if x < 0.55:
            return rng.choice(SHORT_DESCRIPTIONS)
        return None

    def uid(self, style: str, i: int) -> str:
        rng = self.rng
        if style == "google":
            return f"{rng.getrandbits(104):026x}@google.com"
        if style == "outlook":
            return (
                f"040000008200E00074C5B7101A82E00800000000{rng.getrandbits(64):016X}"
                f"000000000000000010000000{rng.getrandbits(128):032X}"
            )
        if style == "apple":
            return str(new_uid(rng)).upper()
        if style == "server":
            return f"booking-{i}-{rng.getrandbits(32):08x}@scheduler.example.com"
        return str(new_uid(rng))

    def meeting(
        self,
        style: str,
        uid: str,
        start: datetime | date,
        end: datetime | date,
        form: str,
        tzid: str,
        series: bool = False,
        k: int = 0,
    ) -> Ev:
        rng = self.rng
        k = k or rng.choices((1, 2, 3, 4, 5, 6, 7, 8), (36, 20, 14, 9, 7, 6, 4, 4))[0]
        mine = rng.random() < 0.5
        organizer, attendees = self.party(k, style, mine)
        names = [a.name.split(",")[-1].strip().split(" ")[0] for a in attendees if a.email != self.me.email]
        summary = (
            rng.choice(SUMMARIES_1).format(a=names[0] or "them", me=ME_NAME.split(maxsplit=1)[0])
            if k == 1 and names
            else rng.choice(SUMMARIES_N)
        )
        created = (start if isinstance(start, datetime) else self.at(start, "", 9)) - timedelta(
            days=rng.randrange(1, 60)
        )
        ev = Ev(
            uid,
            summary,
            start,
            end,
            form,
            tzid,
            organizer,
            attendees,
            rng.choice(LOCATIONS),
            self.text(style),
            alarm=rng.random() < 0.5,
            created=created.astimezone(UTC),
        )
        if not series and rng.random() < 0.04:
            self.stats["cancelled"] += 1
            ev.status, ev.sequence = "CANCELLED", 1
            ev.summary = (
                "Canceled: " if style == "outlook" else "Abgesagt: " if rng.random() < 0.3 else ""
            ) + (ev.summary)
        return ev

    def one_off(self, style: str, i: int) -> CalendarObject:
        rng = self.rng
        uid = self.uid(style, i)
        d = self.day()
        if rng.random() < 0.11:
            self.stats["all-day"] += 1
            end = d + timedelta(days=rng.choices((1, 2, 3, 5), (80, 8, 7, 5))[0])
            ev = Ev(
                uid,
                rng.choice(ALL_DAY),
                d,
                end,
                "date",
                alarm=rng.random() < 0.2,
                created=self.at(d, "", 9).astimezone(UTC) - timedelta(days=20),
            )
            ev.description = self.text(style) if rng.random() < 0.2 else None
            return self.obj(uid, style, [vevent(ev, style, rng)], "")
        form, tzid = self.form(style)
        local_zone = tzid if form == "tzid" else ""
        hour = rng.randrange(16, 37) / 2  # 8:00 .. 18:00 in the event's zone (or Berlin)
        start = self.at(d, local_zone, hour)
        end = start + timedelta(minutes=rng.choice((15, 30, 30, 45, 60, 60, 60, 90, 120)))
        if rng.random() < 0.22:
            self.stats["without attendees"] += 1
            ev = Ev(
                uid,
                rng.choice(PERSONAL),
                start,
                end,
                form,
                tzid,
                location=rng.choice(LOCATIONS),
                description=self.text(style) if rng.random() < 0.3 else None,
                alarm=rng.random() < 0.6,
                created=(start - timedelta(days=rng.randrange(1, 40))).astimezone(UTC),
            )
        else:
            ev = self.meeting(style, uid, start, end, form, tzid)
        return self.obj(uid, style, [vevent(ev, style, rng)], tzid if form == "tzid" else "")

    def obj(self, uid: str, style: str, vevents: list[str], tzid: str) -> CalendarObject:
        self.stats[f"style {style}"] += 1
        self.stats["VALARM"] += any("BEGIN:VALARM" in v for v in vevents)
        if tzid:
            self.stats["TZID"] += 1
            self.stats[f"TZID {tzid}"] += 1
        return CalendarObject(uid, style, (tzid,) if tzid else (), tuple(vevents))

    def series(self, style: str, i: int) -> CalendarObject:
        rng = self.rng
        uid = self.uid(style, i)
        kind = pick(
            rng,
            (
                ("weekly", 40),
                ("team", 15),
                ("biweekly", 12),
                ("monthly", 12),
                ("standup", 7),
                ("yearly", 8),
                ("personal", 6),
            ),
        )
        self.stats[f"series {kind}"] += 1
        today = self.now.astimezone(HOME).date()
        if kind == "yearly":
            form, tzid = "date", ""
        else:
            form, tzid = self.form(style)
            if style == "google":  # Google writes series in the calendar's zone
                form, tzid = "tzid", pick(rng, ZONES_IANA)
        years = 8 if kind in ("standup", "yearly") else 4
        first = today - timedelta(days=rng.randrange(14, 365 * years))
        if kind != "yearly" and first.weekday() >= 5:
            first -= timedelta(days=first.weekday() - 4)
        if kind == "yearly":
            start: datetime | date = first
            end: datetime | date = first + timedelta(days=1)
            freq = "FREQ=YEARLY"
        else:
            hour = 9.5 if kind == "standup" else rng.randrange(16, 36) / 2
            start = self.at(first, tzid if form == "tzid" else "", hour)
            minutes = 15 if kind == "standup" else rng.choice((30, 30, 45, 60, 60, 90))
            end = start + timedelta(minutes=minutes)
        wd = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
        if kind == "standup":
            freq = rng.choice(
                ("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "FREQ=DAILY")
            )
        elif kind == "monthly":
            if rng.random() < 0.5:
                freq = f"FREQ=MONTHLY;BYDAY={(first.day - 1) // 7 + 1}{wd[first.weekday()]}"
            else:
                freq = f"FREQ=MONTHLY;BYMONTHDAY={first.day}"
        elif kind == "biweekly":
            freq = f"FREQ=WEEKLY;INTERVAL=2;BYDAY={wd[first.weekday()]}"
        elif kind != "yearly":
            freq = f"FREQ=WEEKLY;BYDAY={wd[first.weekday()]}"
        if style == "google" and "WEEKLY" in freq:
            freq = freq.replace("FREQ=WEEKLY", "FREQ=WEEKLY;WKST=MO")
        # the end of the series: a count, a date, or none
        end_kind = pick(rng, (("open", 45), ("until", 30), ("count", 25)))
        if kind == "yearly":
            end_kind = "open"
        self.stats[f"series ending: {end_kind}"] += 1
        # the rule repeats in the zone's wall time, in UTC, or (floating) in the user's wall time
        base = zone(tzid) if form == "tzid" else UTC if form == "utc" else HOME
        naive = (
            start.astimezone(base).replace(tzinfo=None)
            if isinstance(start, datetime)
            else (datetime.combine(start, time()))
        )
        rule_text = freq
        until_naive = None
        if end_kind == "count":
            count = rng.choice((5, 8, 10, 12, 20, 26, 52)) if kind != "standup" else rng.choice((250, 500))
            rule_text += f";COUNT={count}"
        elif end_kind == "until":
            span = rng.randrange(30, 365 * (3 if kind == "standup" else 1))
            until_naive = naive + timedelta(days=span)
            if form == "date":
                rule_text += f";UNTIL={until_naive:%Y%m%d}"
            elif form == "floating":
                rule_text += f";UNTIL={until_naive:%Y%m%dT%H%M%S}"
            else:  # RFC 5545 3.3.10: UTC when DTSTART has a zone
                rule_text += f";UNTIL={until_naive.replace(tzinfo=base).astimezone(UTC):%Y%m%dT%H%M%SZ}"
        # the occurrences near "now", to take EXDATEs and moved instances from
        rule = du.rrulestr(rule_text.split(";UNTIL=")[0] if until_naive else rule_text, dtstart=naive)
        lo = max(naive, datetime.combine(today, time()) - timedelta(days=400))
        hi = datetime.combine(today, time()) + timedelta(days=60)
        if until_naive:
            hi = min(hi, until_naive)
        near = list(itertools.islice(rule.xafter(lo, inc=True), 0, 120)) if lo < hi else []
        near = [n for n in near if n <= hi]
        rng.shuffle(near)
        exdates: list[datetime | date] = []
        moved: list[datetime] = []
        if near and rng.random() < 0.45:
            exdates = sorted(near[: rng.randrange(1, 5)])
        if len(near) > len(exdates) and rng.random() < 0.4:
            moved = sorted(near[len(exdates) : len(exdates) + rng.randrange(1, 4)])
        self.stats["series with EXDATE"] += bool(exdates)
        self.stats["series with moved/cancelled instances"] += bool(moved)

        def aware(n: datetime) -> datetime | date:
            if form == "date":
                return n.date()
            return n.replace(tzinfo=base)

        if kind in ("yearly", "personal"):
            ev = Ev(
                uid,
                rng.choice(("Geburtstag Mama", "Anniversary", "Gym", "Choir rehearsal", "Yoga")),
                start,
                end,
                form,
                tzid,
                alarm=rng.random() < 0.5,
                created=(naive - timedelta(days=3)).replace(tzinfo=UTC),
            )
        else:
            k = rng.randrange(4, 9) if kind in ("team", "standup") else 0
            ev = self.meeting(style, uid, start, end, form, tzid, series=True, k=k)
            if kind == "standup":
                ev.summary = rng.choice(("Daily stand-up", "Daily", "Stand-up Team Nord", "Daily Scrum"))
        ev.rrule, ev.exdates = rule_text, [aware(n) for n in exdates]
        vevents = [vevent(ev, style, rng)]
        for n in moved:
            rid = aware(n)
            shift = timedelta(hours=rng.choice((1, 2, -1, 24, 48)))
            o_start, o_end = (
                (rid + shift, rid + shift + (end - start))
                if isinstance(rid, datetime)
                else (rid + timedelta(days=1), rid + timedelta(days=2))
            )
            override = Ev(
                uid,
                ev.summary,
                o_start,
                o_end,
                form,
                tzid,
                ev.organizer,
                list(ev.attendees),
                ev.location,
                ev.description,
                alarm=ev.alarm,
                recurrence_id=rid,
                sequence=ev.sequence + 1,
                created=ev.created,
            )
            if rng.random() < 0.2:
                override.status = "CANCELLED"
                self.stats["cancelled instances"] += 1
            elif override.attendees and rng.random() < 0.3:
                j = rng.randrange(len(override.attendees))
                a = override.attendees[j]
                override.attendees[j] = Who(a.name, a.email, "DECLINED", a.cutype, a.role)
            vevents.append(vevent(override, style, rng))
        return self.obj(uid, style, vevents, tzid if form == "tzid" else "")


# --- The data set ----------------------------------------------------------------------------------


@dataclass
class Dataset:
    cards: list[str]
    events: list[CalendarObject]
    stats: Counter[str]

    def vcf(self) -> str:
        """The address book as one .vcf (for one PUT to the collection)."""
        return "".join(self.cards)

    def ics(self) -> str:
        """The calendar as one .ics (for one PUT to the collection): each VTIMEZONE once."""
        zones = sorted({t for e in self.events for t in e.tzids})
        head = block(
            ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//nudge bench//realistic//EN", "CALSCALE:GREGORIAN"]
        )
        body = "".join(v for e in self.events for v in e.vevents)
        return head + "".join(block(VTIMEZONES[t]) for t in zones) + body + "END:VCALENDAR\r\n"


def generate(contacts: int, events: int, seed: int = 17, now: datetime = NOW) -> Dataset:
    """`contacts` cards (the user's own among them) and `events` calendar objects; same seed, same data."""
    rng = random.Random(seed)
    people = make_people(rng, max(contacts - 1, 0))
    cal = Calendar(rng, people, now)
    # The people met most are the ones in the Top 100 (and a few partners), as their cards say.
    top = cal.known[: min(100, len(people) // 10)]
    for p in top:
        p.categories.append("Top 100" if p.style in ("google", "apple", "davx5") else "top100")
    for p in people:
        if rng.random() < 0.25:
            p.categories.append(rng.choice(("Work", "Family", "Friends", "Kunden", "Golf club", "Alumni")))
    cards = [my_card()] + [card(rng, p, now) for p in people] if contacts else []
    objects = []
    for i in range(events):
        style = pick(rng, CAL_STYLES)
        objects.append(cal.series(style, i) if rng.random() < 0.1 else cal.one_off(style, i))
    stats = cal.stats
    stats["cards"] = len(cards)
    stats["events"] = len(objects)
    return Dataset(cards, objects, stats)


# --- Check: what the mix holds, and that the libraries read every object --------------------------


def check(contacts: int, events: int, seed: int) -> None:
    """Counts of the mix; icalendar and vobject parse every object (a failure is printed with its UID)."""
    import icalendar
    import vobject

    data = generate(contacts, events, seed)
    bad = 0
    for text in data.cards:
        try:
            vobject.readOne(text)
        except Exception as e:
            bad += 1
            print(f"vobject refused a card: {e}\n{text[:400]}", file=sys.stderr)
    for obj in data.events:
        text = obj.text()
        for name, parse in (("icalendar", icalendar.Calendar.from_ical), ("vobject", vobject.readOne)):
            try:
                parsed = parse(text)
                if name == "icalendar" and not parsed.walk("VEVENT"):
                    raise ValueError("no VEVENT")
            except Exception as e:
                bad += 1
                print(f"{name} refused {obj.uid}: {e}\n{text[:600]}", file=sys.stderr)
    too_long = sum(
        len(line.encode()) > 75
        for text in itertools.chain(data.cards, (o.text() for o in data.events))
        for line in text.split("\r\n")
    )
    cards = data.cards
    share = {
        "vCard 4.0": sum("VERSION:4.0" in c for c in cards),
        "ADR": sum("ADR" in c for c in cards),
        "NOTE with escapes": sum(
            "\r\nNOTE:" in c and "\\" in c.split("\r\nNOTE:")[1].split("\r\n")[0] for c in cards
        ),
        "tel: URI": sum(":tel:" in c for c in cards),
        "BDAY": sum("BDAY" in c for c in cards),
        "PHOTO": sum("PHOTO" in c for c in cards),
        "CATEGORIES": sum("CATEGORIES" in c for c in cards),
        "non-ASCII FN": sum(
            not c.split("\r\nFN:")[1].split("\r\n")[0].isascii() for c in cards if "\r\nFN:" in c
        ),
        "folded": sum("\r\n " in c for c in cards),
    }
    print(f"{len(cards)} cards: " + ", ".join(f"{k} {v}" for k, v in share.items()))
    series = sum(v for k, v in data.stats.items() if k.startswith("series ending"))
    print(
        f"{len(data.events)} events, {series} series; "
        + ", ".join(f"{k} {v}" for k, v in sorted(data.stats.items()) if k not in ("cards", "events"))
    )
    print(
        f"ics {len(data.ics()) / 1e6:.1f} MB, vcf {len(data.vcf()) / 1e6:.1f} MB; lines over 75 octets: "
        f"{too_long}; objects icalendar/vobject refused: {bad}"
    )
    if bad or too_long:
        raise SystemExit(1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", nargs=2, type=int, metavar=("CONTACTS", "EVENTS"), default=(1000, 3000))
    p.add_argument("--seed", type=int, default=17)
    args = p.parse_args()
    check(*args.check, args.seed)


if __name__ == "__main__":
    main()
