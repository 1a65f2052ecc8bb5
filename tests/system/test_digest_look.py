"""The digest as a reader sees it: rendered by a real browser (headless Chromium) at phone and desktop
widths, in light and dark colour schemes, from a store synced the way production fills it.

The store is realistic on purpose: long names and notes, non-ASCII, a job change, a birthday, the
referral-partner block, Monday's metrics, a failing source, and 100 people in the "at a glance" strip.
Each test renders the same digest and measures the page with JavaScript in the browser; every
screenshot it takes is kept under the test's tmp dir (`pytest --basetemp=DIR` to find them).
docs/digest-390.png and docs/digest-1200.png are DIR/digest-look0/digest-{390,1200}-light.png.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from nudge import actions, config, service
from nudge.config import Settings
from nudge.core import planner
from nudge.digest import render as digest
from nudge.sources.memory import MemorySource
from nudge.store.db import atomic, open_db
from nudge.store.models import Contact, DigestRun, Suggestion
from tests.builders import ME, vcalendar, vcard, vevent
from tests.servers import chromium
from tests.servers.chromium import Page, browser, require_chromium

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # a Monday, 07:00 in Berlin: the metrics are shown
DAY = date(2026, 11, 23)
WIDTHS = (390, 1200)  # an iPhone's CSS width, and a desktop mail client's reading pane

LONG_NOTE = (
    "Talked for an hour about the reorganisation: she is moving the whole data team to Lisbon "
    "next spring, wants an introduction to a CFO who has done a cross-border carve-out, and asked "
    "me to read the board memo at https://docs.google.com/document/d/1Xk9QzV7bR2mT4wP8nL6yH3jF5sA0cE1gD9uK2o"
    "I7qWe/edit?usp=sharing before we speak again"
)
OLD_NOTE = "Kids starting school in Zürich; ask how the move went — and whether Ölwerk closed its round"


@dataclass(frozen=True)
class Someone:
    uid: str
    name: str
    email: str
    phone: str
    tier: str = "top100"
    days_ago: int = 0  # the last call, logged by hand
    note: str = ""
    bday: str | None = None


SPECIAL = (
    Someone(
        "old",
        "Ottilie Oldenburg-Ostermann",
        "ottilie@example.de",
        "+49 30 1234567",
        days_ago=420,
        note=OLD_NOTE,
    ),
    Someone(
        "long",
        "Maximiliane Alexandra Konstanze von Hohenzollern-Sigmaringen-Wittelsbach",
        "maximiliane.alexandra.vonhohenzollern@hohenzollernsigmaringenholdings.example.com",
        "+1 415 555 0134",
        days_ago=60,
        note=LONG_NOTE,
    ),
    Someone("job", "Zoë Ångström-Łukasiewicz", "zoe@nordlicht.example", "+45 32 12 34 56", days_ago=35),
    Someone(
        "bday", "Đặng Thị Ngọc Hân", "han.dang@example.vn", "+84 28 3823 4567", days_ago=33, bday="--1126"
    ),
    Someone(
        "greek",
        "Αλέξανδρος Παπαδόπουλος",
        "alexandros@example.gr",
        "030 98765432",  # national: read in the user's region (DE)
        days_ago=45,
        note="Το νέο γραφείο στη Θεσσαλονίκη",
    ),
    Someone(
        "partner",
        "Pål Partnersen & Søn Rådgivning",
        "pal@partnersen.example.no",
        "+47 22 12 34 56",
        tier="partner",
        days_ago=25,
    ),
)
FILLER = 95  # with the five above: 100 people in the top 100
FIRST = ("Anna", "Ben", "Chloé", "Dmitri", "Emeka", "Fatima", "Gústav", "Hiroshi", "Inés", "Jonas")
LAST = ("Müller", "Okafor", "Lindqvist", "Dubois", "Kowalski", "Rossi", "Haddad", "Novák", "Silva", "Berg")


def filler_name(i: int) -> str:
    return f"{FIRST[i % 10]} {LAST[i // 10 % 10]}-{i:02d}"


def cards() -> dict[str, str]:
    out = {
        s.uid: vcard(
            s.uid,
            s.name,
            emails=(s.email,),
            phones=(s.phone,),
            categories=(s.tier,),
            bday=s.bday,
            org="Nordlicht GmbH" if s.uid == "job" else None,
            title="Head of Data" if s.uid == "job" else None,
        )
        for s in SPECIAL
    }
    for i in range(FILLER):
        out[f"f{i}"] = vcard(
            f"f{i}",
            filler_name(i),
            emails=(f"filler{i}@example.org",),
            phones=(f"+49 30 5550{i:03d}",),
            categories=("top100",),
        )
    return out


def meetings() -> str:
    """A coffee with each filler person 8 to 28 days ago: touched, not due."""
    events = [
        vevent(
            f"coffee-{i}",
            NOW - timedelta(days=8 + i % 21, hours=20),
            attendees=(f"filler{i}@example.org",),
            summary="Coffee",
        )
        for i in range(FILLER)
    ]
    today = (  # today's meetings open the digest; Friday's asks how it went
        vevent(
            "today-1", NOW + timedelta(hours=3), ("filler3@example.org", "filler4@example.org"), "Board prep"
        ),
        vevent("today-2", NOW + timedelta(hours=8), ("filler5@example.org",), "Dinner at Ølhallen, Bergen"),
        vevent("friday", NOW - timedelta(days=3), ("filler6@example.org",), "Walk"),
    )
    return vcalendar(*events, *today)


def build_digest(root: Path) -> tuple[str, str]:
    """This Monday's digest (text, HTML), from a store filled by real syncs and CLI actions."""
    MemorySource.reset()
    book = MemorySource.store("book")
    for uid, card in cards().items():
        book.put("contacts", "contacts", uid, card)
    book.put("calendar", "events", "coffees", meetings())
    MemorySource.store("work-calendar").fail = "HTTP 503 Service Unavailable from dav.example.com"
    settings = config.validate(
        {
            "timezone": "Europe/Berlin",
            "database_url": f"sqlite:///{root / 'nudge.db'}",
            "maildir": str(root / "Maildir"),
            "me": {"name": "Me", "emails": [ME], "region": "DE"},
            "sources": [{"type": "memory", "name": "book"}, {"type": "memory", "name": "work-calendar"}],
        }
    )
    engine = open_db(settings.database)
    first = NOW - timedelta(days=30)
    service.sync_all(engine, settings, first)
    job = (
        cards()["job"]
        .replace("Nordlicht GmbH", "Ærøskøbing Analytics ApS")
        .replace("Head of Data", "Chief Technology Officer")
    )
    book.put("contacts", "contacts", "job", job)
    with atomic(engine) as s:
        by_name = {c.name: c for c in s.exec(select(Contact))}
        for who in SPECIAL:
            at = NOW - timedelta(days=who.days_ago)
            actions.log_touch(s, settings, by_name[who.name], NOW, "call", who.note, at=at)
        partner = by_name[SPECIAL[-1].name]
        for days, direction, note, counterpart in (
            (400, "received", "a client: the Bergen ferry operator", "Ingrid Havnås"),
            (200, "received", "an intro to a CFO", "Ola Nordmann"),
            (90, "given", "an intro to our tax adviser", "Łucja Wiśniewska"),
            (40, "received", "a speaking slot at Oslo Business Forum", ""),
        ):
            actions.add_referral(s, partner, direction, note, counterpart, NOW - timedelta(days=days))
        _last_week(s, settings, by_name)
    service.sync_all(engine, settings, NOW - timedelta(hours=1))
    result = service.render_day(engine, settings, NOW, DAY)
    assert result.plan is not None  # the picks this file expects: each special person, no filler
    assert {k.person.name for k in (*result.plan.calls, *result.plan.partners)} == {
        who.name for who in SPECIAL
    }
    engine.dispose()
    MemorySource.reset()
    return result.text, result.html


def _last_week(s: Session, settings: Settings, by_name: dict[str, Contact]) -> None:
    """Last week's digests went out; some of the people suggested were called: Monday's metrics."""
    for offset in range(5):
        day = DAY - timedelta(days=7 - offset)
        s.add(DigestRun(date=day, state="sent", sent_at=datetime.combine(day, datetime.min.time(), UTC)))
        for slot in range(5):
            i = offset * 5 + slot
            contact = by_name[filler_name(i)]
            assert contact.id is not None
            s.add(Suggestion(digest_date=day, contact_id=contact.id, slot="call", position=slot + 1))
            if slot < 3:
                at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=15)
                outcome = ("conversation", "meeting", None)[slot]
                actions.log_touch(s, settings, contact, NOW, "call", "", at=at, outcome=outcome)


def every_block() -> str:
    """The blocks a realistic Monday does not show: replies (applied and not), can't keep up."""
    crowd = [
        planner.Person(i, f"Person {i}", "top100", 30, "call", None, NOW - timedelta(days=40), 30.0)
        for i in range(200)
    ]
    plan = planner.plan_day(crowd, DAY, NOW, planner.Rules())
    assert not plan.capacity.ok
    replies = (
        digest.ReplyNote(
            1, DAY - timedelta(days=3), ("logged a call with Person 3",), ("? what is 'dne 4'",)
        ),
    )
    view = digest.build_view(plan, {}, [(p.name, p.warmth) for p in crowd], UTC, replies=replies)
    return digest.render(view)[2]


# --- In the browser ---------------------------------------------------------------------------------

MEASURE = r"""
(() => {
  const rgba = (c) => {
    const m = c.match(/rgba?\(([^)]*)\)/);
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) => {
    const a = top[3];
    return [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a)).concat([1]);
  };
  const probe = document.createElement("div");
  probe.style.backgroundColor = "Canvas";  // what shows where nothing paints: the scheme's canvas
  document.documentElement.appendChild(probe);
  const canvas = rgba(getComputedStyle(probe).backgroundColor);
  probe.remove();
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    return layers.reverse().reduce((under, top) => over(top, under), canvas);
  };
  const lum = (c) => {
    const lin = c.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  };
  const texts = [];
  for (const el of document.body.querySelectorAll("*")) {
    const own = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    const r = el.getBoundingClientRect();
    if (!own || r.width === 0 || r.height === 0 || getComputedStyle(el).visibility !== "visible") continue;
    const bg = background(el);
    const fg = over(rgba(getComputedStyle(el).color), bg);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    texts.push({text: el.textContent.trim().slice(0, 70), ratio: (hi + 0.05) / (lo + 0.05)});
  }
  const box = (a) => {
    const r = a.getBoundingClientRect();
    return {href: a.getAttribute("href"), text: a.textContent.trim(), left: r.left, top: r.top,
            right: r.right, bottom: r.bottom, width: r.width, height: r.height};
  };
  const glance = [...document.querySelectorAll("td[title]")].map((td) => {
    const r = td.getBoundingClientRect();
    return {title: td.title, width: r.width, height: r.height, right: r.right};
  });
  return {
    scrollWidth: Math.max(document.documentElement.scrollWidth, document.body.scrollWidth),
    innerWidth: innerWidth,
    pageLuminance: lum(background(document.body)),
    texts: texts,
    links: [...document.querySelectorAll('a[href^="tel:"], a[href^="mailto:"]')].map(box),
    glance: glance,
    bodyText: document.body.innerText,
    external: [...document.querySelectorAll("[src], link[href], [background]")].map((e) => e.outerHTML),
  };
})()
"""


@dataclass(frozen=True)
class Rendered:
    """What the browser measured on one rendering, and where its screenshot is."""

    width: int
    dark: bool
    facts: dict[str, Any]
    screenshot: Path


@pytest.fixture(scope="module")
def look(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Rendered]]:
    """Render the digest once, then open it in one Chromium at any width, light or dark."""
    binary = require_chromium()
    root = tmp_path_factory.mktemp("digest-look")
    with pytest.MonkeyPatch.context() as mp:  # never the real user's templates or prompts
        mp.setenv("XDG_CONFIG_HOME", str(root / "xdg-config"))
        mp.setenv("XDG_DATA_HOME", str(root / "xdg-data"))
        mp.delenv("NUDGE_CONFIG", raising=False)
        text, html = build_digest(root)
    (root / "digest.txt").write_text(text)
    files = {
        "full": root / "digest.html",
        "no-style": root / "digest-no-style.html",
        "every-block": root / "digest-every-block.html",
    }
    files["full"].write_text(html)
    files["no-style"].write_text(re.sub(r"<style\b.*?</style>", "", html, flags=re.DOTALL))
    files["every-block"].write_text(every_block())
    seen: dict[tuple[str, int, bool], Rendered] = {}
    with browser(binary, root / "chromium") as page:

        def render(width: int, dark: bool = False, variant: str = "full") -> Rendered:
            key = (variant, width, dark)
            if key not in seen:
                seen[key] = _measure(page, files[variant], width, dark, root)
            return seen[key]

        yield render


def _measure(page: Page, path: Path, width: int, dark: bool, root: Path) -> Rendered:
    page.open(path, width, dark)
    facts = page.evaluate(MEASURE)
    facts["requests"] = list(page.requests)
    page.requests.clear()
    name = f"{path.stem}-{width}-{'dark' if dark else 'light'}.png"
    return Rendered(width, dark, facts, page.screenshot(root / name))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_nothing_is_wider_than_the_screen(look: Callable[..., Rendered], width: int, dark: bool) -> None:
    seen = look(width, dark)
    assert seen.facts["scrollWidth"] <= seen.facts["innerWidth"] == width, seen.screenshot
    assert seen.screenshot.stat().st_size > 0
    # and email-safe: nothing loaded but the document itself (no images, fonts or stylesheets),
    # and well under the 102 kB past which Gmail clips a message
    page = seen.screenshot.parent / "digest.html"
    assert seen.facts["external"] == []
    assert seen.facts["requests"] == [page.as_uri()]
    assert page.stat().st_size < 60_000


@pytest.mark.parametrize("width", WIDTHS)
def test_call_and_email_links_are_big_enough_to_tap(look: Callable[..., Rendered], width: int) -> None:
    links = look(width).facts["links"]
    assert len(links) == 2 * len(SPECIAL)  # everyone picked has a number and an address
    small = [
        (a["text"], round(a["width"]), round(a["height"])) for a in links if min(a["width"], a["height"]) < 44
    ]
    assert small == [], small
    assert all(a["right"] <= width for a in links)
    for i, a in enumerate(links):  # two targets never overlap, so a thumb hits the one it meant
        for b in links[i + 1 :]:
            apart = a["right"] <= b["left"] or b["right"] <= a["left"] or a["bottom"] <= b["top"]
            assert apart or b["bottom"] <= a["top"], (a["text"], b["text"])


@pytest.mark.parametrize("width", WIDTHS)
def test_dark_mode_is_dark_and_every_text_keeps_its_contrast(
    look: Callable[..., Rendered], width: int
) -> None:
    light, dark = look(width), look(width, dark=True)
    assert light.facts["pageLuminance"] > 0.8
    assert dark.facts["pageLuminance"] < 0.05, "no dark variant: the page stays light"
    for seen in (light, dark):
        assert len(seen.facts["texts"]) > 50
        low = [(t["text"], round(t["ratio"], 2)) for t in seen.facts["texts"] if t["ratio"] < 4.5]
        assert low == [], (seen.screenshot, low)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_replies_and_warnings_keep_their_contrast_too(look: Callable[..., Rendered], dark: bool) -> None:
    seen = look(390, dark, variant="every-block")
    assert (seen.facts["pageLuminance"] < 0.05) is dark
    text = seen.facts["bodyText"]
    assert "From your reply of" in text and "Can't keep up:" in text and "dne 4" in text
    assert seen.facts["scrollWidth"] <= 390
    assert [(t["text"], round(t["ratio"], 2)) for t in seen.facts["texts"] if t["ratio"] < 4.5] == []


def test_without_the_style_block_the_light_digest_still_reads_well(look: Callable[..., Rendered]) -> None:
    """Gmail drops <style> in some views: the inline styles alone must carry the light rendering."""
    seen = look(390, variant="no-style")
    assert seen.facts["scrollWidth"] <= 390
    assert all(min(a["width"], a["height"]) >= 44 for a in seen.facts["links"])
    assert [t["text"] for t in seen.facts["texts"] if t["ratio"] < 4.5] == []


def test_phone_numbers_read_as_the_user_dials_them_and_links_stay_e164(look: Callable[..., Rendered]) -> None:
    calls = {a["href"]: a["text"] for a in look(390).facts["links"] if a["href"].startswith("tel:")}
    assert calls == {
        "tel:+49301234567": "Call 030 1234567",  # the user's region (DE): national
        "tel:+493098765432": "Call 030 98765432",
        "tel:+14155550134": "Call +1 415-555-0134",  # elsewhere: international
        "tel:+4532123456": "Call +45 32 12 34 56",
        "tel:+842838234567": "Call +84 28 3823 4567",
        "tel:+4722123456": "Call +47 22 12 34 56",
    }


def test_dates_older_than_a_year_carry_the_year(look: Callable[..., Rendered]) -> None:
    text = look(1200).facts["bodyText"]
    assert "420 days since call on 29 Sep 2025, cadence 30" in text
    assert "On 29 Sep 2025 you noted:" in text
    assert "35 days since call on 19 Oct, cadence 30" in text  # this year's stay short
    assert "7 May: you received an intro to a CFO" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_the_glance_strip_has_one_visible_cell_per_person(look: Callable[..., Rendered], width: int) -> None:
    cells = look(width).facts["glance"]
    assert len(cells) == len(SPECIAL) - 1 + FILLER == 100  # the top 100; the partner has its own block
    assert len({c["title"].rsplit(":", 1)[0] for c in cells}) == 100
    assert all(c["width"] >= 4 and c["height"] >= 12 and c["right"] <= width for c in cells)


@pytest.mark.parametrize("width", WIDTHS)
def test_todays_meetings_open_the_digest_and_the_questions_follow(
    look: Callable[..., Rendered], width: int
) -> None:
    seen = look(width)
    text = seen.facts["bodyText"]
    assert text.index("Today's meetings") < text.index("10:00 · Board prep") < text.index("1. Zoë")
    assert text.index("10:00 · Board prep") < text.index("15:00 · Dinner at Ølhallen, Bergen")
    assert "Dmitri Müller-03 · last: Coffee on 11 Nov (12 days ago)" in text
    assert "How did Walk with Gústav Müller-06 on Fri 20 Nov go?" in text
    assert text.index("How did Walk") < text.index("1. Zoë")
    assert seen.facts["scrollWidth"] <= width


def test_without_chromium_the_tests_skip_but_fail_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chromium, "chromium_binary", lambda: None)
    monkeypatch.delenv(chromium.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium is not installed"):
        chromium.require_chromium()
    monkeypatch.setenv(chromium.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="NUDGE_REQUIRE_CHROMIUM is set"):
        chromium.require_chromium()
