"""Rendering the digest: every element, escaping, subject, template overrides."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from nudge.core import planner
from nudge.digest import render as digest

TZ = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)


def person(pid: int, name: str, **kw: object) -> planner.Person:
    base: dict[str, object] = {
        "id": pid,
        "name": name,
        "tier": "top100",
        "cadence_days": 30,
        "slot": "call",
        "joined_at": NOW - timedelta(days=400),
        "last_touch_at": NOW - timedelta(days=47),
        "warmth": 42.0,
    }
    base.update(kw)
    return planner.Person(**base)  # type: ignore[arg-type]


def plan_of(*people: planner.Person) -> planner.Plan:
    rules = planner.Rules(daily_size=5, partner_count=1)
    return planner.plan_day(list(people), TODAY, NOW, rules)


def test_subject_lines() -> None:
    assert digest.subject_for([]) == "Be curious today: nobody is due"
    assert digest.subject_for(["Ana Ruiz"]) == "Be curious today: Ana Ruiz"
    assert digest.subject_for(["Ana Ruiz", "Ben Ott"]) == "Be curious today: Ana Ruiz and Ben Ott"
    assert (
        digest.subject_for(["Ana Ruiz", "Ben Ott", "C", "D", "E"])
        == "Be curious today: Ana Ruiz, Ben Ott and 3 more"
    )


def test_every_element_is_rendered() -> None:
    ana = person(1, "Ana Ruiz", moments=("job_change",))
    ben = person(2, "Ben Ott", tier="partner", slot="partner", cadence_days=21, warmth=80.0)
    plan = plan_of(ana, ben, person(3, "Cy Doe", warmth=5.0))
    facts = {
        1: digest.Facts(
            email="ana@example.org",
            phone="+4930123456",
            last_touch_at=NOW - timedelta(days=47),
            last_touch_kind="meeting",
            last_touch_summary="coffee",
            last_note="wants intro to a CFO",
            last_note_at=NOW - timedelta(days=47),
            job_change="now CTO at Acme",
        ),
        2: digest.Facts(
            email="ben@example.net", given=1, received=3, ledger=("2 Nov: you received a client",)
        ),
    }
    strip = [("Ana Ruiz", 42.0), ("Cy Doe", 5.0), ("Hot Person", 90.0)]
    view = digest.build_view(plan, facts, strip, TZ, failing_sources=("Source x is failing: 503",))
    subject, text, html = digest.render(view)
    assert subject == "Be curious today: Ana Ruiz and Cy Doe"
    for part in (text, html):
        assert "changed jobs: now CTO at Acme" in part
        assert "47 days since coffee on 7 Oct" in part
        assert "On 7 Oct you noted: “wants intro to a CFO”" in part
        assert "Source x is failing: 503" in part
        assert "Ben Ott" in part
        assert "think of one introduction you can make for Ben today" in part
        assert "2 Nov: you received a client" in part
    assert 'href="tel:+4930123456"' in html
    assert 'href="mailto:ana@example.org"' in html
    assert html.count('title="') == 3  # one strip cell per person
    assert digest.COLOURS["hot"] in html and digest.COLOURS["cold"] in html
    assert "[████░░░░░░] 42 warm" in text
    assert "Top 100 at a glance (3): +.#" in text


def test_html_is_escaped_but_text_is_not() -> None:
    evil = person(1, "<script>alert(1)</script> & Co")
    facts = {1: digest.Facts(last_note="<b>loud</b>", last_note_at=NOW)}
    view = digest.build_view(plan_of(evil), facts, [(evil.name, 10.0)], TZ)
    _, text, html = digest.render(view)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>loud</b>" not in html and "&lt;b&gt;loud&lt;/b&gt;" in html
    assert "<script>alert(1)</script> & Co" in text


def test_last_note_is_quoted_with_its_date() -> None:
    noted = digest.Facts(last_note="moving to Berlin", last_note_at=NOW - timedelta(days=3))
    assert digest.quoted_note(noted, TZ) == "On 20 Nov you noted: “moving to Berlin”"
    assert digest.quoted_note(digest.Facts(), TZ) is None


def test_a_note_is_dated_by_the_users_day_not_utcs() -> None:
    late = datetime(2026, 11, 19, 23, 30, tzinfo=UTC)  # 00:30 on 20 Nov in Berlin
    noted = digest.Facts(last_note="new baby", last_note_at=late)
    assert digest.quoted_note(noted, ZoneInfo("Europe/Berlin")) == "On 20 Nov you noted: “new baby”"


def test_prompts_fit_the_situation_and_rotate() -> None:
    lib = digest.load_prompts()
    job = planner.Pick(person(1, "A", moments=("job_change",)), 1.6, 2.4, ("job_change", "overdue"))
    assert digest.prompt_for(job, digest.Facts(), TODAY, lib) in lib["job_change"]
    partner = planner.Pick(person(2, "B", slot="partner", tier="partner"), 1.2, 1.2, ("overdue",))
    noted = digest.Facts(last_note="x", last_note_at=NOW, last_touch_at=NOW - timedelta(days=20))
    assert digest.prompt_for(partner, noted, TODAY, lib) in lib["partner"]
    quiet = planner.Pick(person(3, "C"), 4.0, 4.0, ("overdue",))
    old = digest.Facts(last_note="x", last_note_at=NOW, last_touch_at=NOW - timedelta(days=120))
    assert digest.prompt_for(quiet, old, TODAY, lib) in lib["long_silence"]
    days = {digest.prompt_for(quiet, old, TODAY + timedelta(days=d), lib) for d in range(30)}
    assert len(days) > 1
    assert digest.prompt_for(quiet, old, TODAY, lib) == digest.prompt_for(quiet, old, TODAY, lib)


def test_why_now_lines() -> None:
    new = planner.Pick(person(1, "A", last_touch_at=None), 1.2, 1.2, ("new",))
    assert digest.why_now(new, digest.Facts(), TODAY, TZ) == ("new to your top 100, no contact yet",)
    bday = planner.Pick(person(2, "B"), 1.6, 2.6, ("birthday", "overdue"), birthday_in=4)
    lines = digest.why_now(bday, digest.Facts(last_touch_at=NOW - timedelta(days=48)), TODAY, TZ)
    assert lines == ("birthday Friday", "48 days since contact on 6 Oct, cadence 30")
    coffee = digest.Facts(
        last_touch_at=datetime(2026, 10, 14, 9, tzinfo=UTC),
        last_touch_kind="meeting",
        last_touch_summary="coffee",
    )
    early = planner.Pick(
        person(3, "C", tier="partner", slot="partner", cadence_days=60), 0.67, 0.67, ("early",)
    )
    assert digest.why_now(early, coffee, TODAY, TZ) == (
        "40 days since coffee on 14 Oct, cadence 60: due in 20 days, and there is room today",
    )
    birthday = planner.Pick(person(6, "F", cadence_days=60), 0.67, 1.17, ("birthday", "early"), birthday_in=2)
    assert digest.why_now(birthday, coffee, TODAY, TZ) == (
        "birthday Wednesday",
        "40 days since coffee on 14 Oct, cadence 60: due in 20 days",
    )
    joined = planner.Pick(
        person(4, "D", joined_at=datetime(2026, 11, 16, 9, tzinfo=UTC)), 1.3, 1.3, ("job_change", "joined")
    )
    assert digest.why_now(joined, coffee, TODAY, TZ) == (
        "changed jobs",
        "new to your top 100 since 16 Nov; 40 days since coffee on 14 Oct",
    )
    partner = planner.Pick(person(5, "E", tier="partner", last_touch_at=None), 1.0, 1.0, ("new",))
    assert digest.why_now(partner, digest.Facts(), TODAY, TZ) == (
        "new to your referral partners, no contact yet",
    )


def test_every_pick_says_why_it_is_picked_today_whatever_its_due() -> None:
    """Not only the very late: someone barely due, someone early, a newcomer, a partner."""
    people = [
        person(1, "Late", last_touch_at=NOW - timedelta(days=60)),
        person(2, "Barely", last_touch_at=NOW - timedelta(days=31)),
        person(3, "Early", last_touch_at=NOW - timedelta(days=20)),
        person(4, "Fresh", last_touch_at=None, joined_at=NOW - timedelta(days=2)),
        person(5, "Promoted", last_touch_at=NOW - timedelta(days=10), joined_at=NOW - timedelta(days=1)),
        person(
            6,
            "Partner",
            tier="partner",
            slot="partner",
            cadence_days=21,
            last_touch_at=NOW - timedelta(days=9),
        ),
    ]
    plan = plan_of(*people)
    assert {k.person.id for k in (*plan.calls, *plan.partners)} == {1, 2, 3, 4, 5, 6}
    view = digest.build_view(plan, {}, [], TZ)
    why = {e.name: e.why for e in (*view.entries, *view.partners)}
    assert why == {
        "Late": ("60 days since contact on 24 Sep, cadence 30",),
        "Barely": ("31 days since contact on 23 Oct, cadence 30",),
        "Early": ("20 days since contact on 3 Nov, cadence 30: due in 10 days, and there is room today",),
        "Fresh": ("new to your top 100, no contact yet",),
        "Promoted": ("new to your top 100 since 22 Nov; 10 days since contact on 13 Nov",),
        "Partner": ("9 days since contact on 14 Nov, cadence 21: due in 12 days, and there is room today",),
    }
    _, text, html = digest.render(view)
    for lines in why.values():
        assert lines[0] in text and lines[0] in html


def test_two_people_in_one_digest_never_get_the_same_prompt() -> None:
    # the same situation for everyone, and a library with few prompts for it
    lib = {"no_notes": ("Same?", "Other?"), "general": ("General?",), "partner": ("Partner?",)}
    crowd = [person(i, f"Person {i}", last_touch_at=NOW - timedelta(days=40 + i)) for i in range(1, 6)]
    partner = person(9, "Pat", tier="partner", slot="partner", cadence_days=21)
    view = digest.build_view(plan_of(*crowd, partner), {}, [], TZ, library=lib)
    asked = [e.prompt for e in (*view.entries, *view.partners)]
    assert len(asked) == 6
    assert len(set(asked)) == 6, asked
    assert set(asked) >= {"Same?", "Other?", "General?", "Partner?"}  # the library first, then by name
    # with the packaged library too, on many days
    packaged = digest.load_prompts()
    for offset in range(30):
        day = TODAY + timedelta(days=offset)
        people = [person(i, f"P{i}", last_touch_at=NOW - timedelta(days=40 + i)) for i in range(1, 6)]
        plan = planner.plan_day(
            people, day, NOW + timedelta(days=offset), planner.Rules(workdays=frozenset(range(7)))
        )
        view = digest.build_view(plan, {}, [], TZ, library=packaged)
        asked = [e.prompt for e in view.entries]
        assert len(set(asked)) == len(asked) == 5, (day, asked)


def test_empty_plans_explain_themselves() -> None:
    view = digest.build_view(plan_of(), {}, [], TZ)
    assert "Nobody is in a tier" in digest.render(view)[1]
    saturday = planner.plan_day([person(1, "A")], date(2026, 11, 28), NOW, planner.Rules())
    view = digest.build_view(saturday, {}, [("A", 1.0)], TZ)
    assert "not one of your digest workdays" in digest.render(view)[1]


def test_user_templates_override_packaged_ones(tmp_path: Path) -> None:
    (tmp_path / "digest.txt.j2").write_text("Hello {{ v.entries | length }} people\n")
    view = digest.build_view(plan_of(person(1, "A")), {}, [], TZ)
    _, text, html = digest.render(view, tmp_path)
    assert text == "Hello 1 people\n"
    assert "<html" in html  # the packaged HTML template is still used


def test_capacity_warning_shown() -> None:
    crowd = [person(i, f"P{i}", last_touch_at=NOW - timedelta(days=40)) for i in range(200)]
    view = digest.build_view(plan_of(*crowd), {}, [], TZ)
    text = digest.render(view)[1]
    assert "Can't keep up:" in text and "9.3 calls a workday" in text


def test_numbers_read_national_at_home_and_international_elsewhere() -> None:
    assert digest.phone_text("+4930123456", "DE") == "030 123456"
    assert digest.phone_text("+14155550134", "DE") == "+1 415-555-0134"
    assert digest.phone_text("+14155550134", "US") == "(415) 555-0134"
    assert digest.phone_text("+4930123456") == "+49 30 123456"  # no region known: international
    assert digest.phone_text("not a number", "DE") == "not a number"


def test_the_digest_shows_numbers_for_the_users_region_and_links_e164() -> None:
    ana = person(1, "Ana Ruiz")
    facts = {1: digest.Facts(phone="+4930123456", email="ana@example.org")}
    _, text, html = digest.render(digest.build_view(plan_of(ana), facts, [], TZ, region="DE"))
    assert "tel: 030 123456" in text
    assert 'href="tel:+4930123456"' in html and "030 123456" in html
    _, text, _ = digest.render(digest.build_view(plan_of(ana), facts, [], TZ, region="US"))
    assert "tel: +49 30 123456" in text


def test_dates_more_than_a_year_back_carry_their_year() -> None:
    assert digest.short_date(date(2025, 10, 6), TODAY) == "6 Oct 2025"
    assert digest.short_date(date(2025, 11, 23), TODAY) == "23 Nov"  # a year to the day: still clear
    assert digest.short_date(date(2025, 11, 22), TODAY) == "22 Nov 2025"
    assert digest.short_date(date(2025, 10, 6)) == "6 Oct"  # no today: as before
    long_ago = NOW - timedelta(days=413)
    old = planner.Pick(person(1, "A", last_touch_at=long_ago), 13.0, 13.0, ("overdue",))
    facts = digest.Facts(last_touch_at=long_ago, last_note="moving to Lisbon", last_note_at=long_ago)
    assert digest.why_now(old, facts, TODAY, TZ) == ("413 days since contact on 6 Oct 2025, cadence 30",)
    assert digest.quoted_note(facts, TZ, TODAY) == "On 6 Oct 2025 you noted: “moving to Lisbon”"
    _, text, html = digest.render(digest.build_view(plan_of(old.person), {1: facts}, [], TZ))
    for part in (text, html):
        assert "413 days since contact on 6 Oct 2025" in part and "On 6 Oct 2025 you noted" in part


def test_the_html_is_mail_safe_and_carries_its_light_look_inline() -> None:
    """No external resources; the dark variant in one <style>; tap targets sized by inline styles."""
    ana = person(1, "Ana Ruiz")
    facts = {1: digest.Facts(phone="+4930123456", email="ana@example.org")}
    html = digest.render(digest.build_view(plan_of(ana), facts, [("Ana Ruiz", 42.0)], TZ))[2]
    assert "src=" not in html and "<link" not in html and "url(" not in html
    assert html.count("<style") == 1 and "@media (prefers-color-scheme: dark)" in html
    links = re.findall(r'<a [^>]*href="(?:tel|mailto):[^"]*"[^>]*style="([^"]*)"', html)
    assert len(links) == 2
    assert all("min-height:44px" in s and "min-width:44px" in s for s in links)
