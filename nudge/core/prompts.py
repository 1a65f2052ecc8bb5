"""Curiosity prompts that fit the person: a packaged library tagged by situation.

The library is data (`data/prompts.toml`, loaded by the digest); a copy in the user's
config folder replaces it section by section. Reading its text and choosing are pure:
the situations that apply, minus what this person was asked in the last 90 days,
picked stably per day.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Collection, Iterable
from datetime import date

from nudge.errors import ConfigError

SITUATIONS = ("job_change", "birthday", "long_silence", "recent_meeting", "partner", "no_notes", "general")
REPEAT_DAYS = 90

Library = dict[str, tuple[str, ...]]


def read(text: str, where: str) -> Library:
    """A library from the text of a prompts TOML file; `where` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"not valid TOML: {e}"], where) from e
    problems, library = [], {}
    for name, section in data.items():
        prompts = section.get("prompts") if isinstance(section, dict) else None
        if name not in SITUATIONS:
            problems.append(f"{name}: unknown situation (use {', '.join(SITUATIONS)})")
        elif not isinstance(prompts, list) or not all(isinstance(p, str) and p.strip() for p in prompts):
            problems.append(f"{name}.prompts: must be a list of non-empty strings")
        else:
            library[name] = tuple(p.strip() for p in prompts)
    if problems:
        raise ConfigError(problems, where)
    return library


def choose(
    library: Library,
    situations: Iterable[str],
    used: Iterable[str],
    seed: str,
    taken: Collection[str] = (),
) -> str | None:
    """The first situation with a prompt not used lately; `general` last; stable for a seed.

    `taken` are the prompts other people got in the same digest: never given twice
    (None when the library holds nothing else).
    """
    recent = set(used)
    order = [s for s in dict.fromkeys([*situations, "general"]) if s in library]
    for situation in order:
        fresh = [p for p in library[situation] if p not in recent and p not in taken]
        if fresh:
            digest = hashlib.blake2b(f"{seed}:{situation}".encode(), digest_size=4).digest()
            return fresh[int.from_bytes(digest, "big") % len(fresh)]
    every = [p for s in order for p in library[s] if p not in taken]
    if not every:
        return None
    # Everything was asked lately: the one asked longest ago comes back first.
    ordered = list(used)
    return min(every, key=lambda p: ordered.index(p) if p in ordered else -1)


def situations_for(
    reasons: Iterable[str],
    slot: str,
    days_since_touch: float | None,
    last_kind: str | None,
    has_note: bool,
) -> list[str]:
    """Which situations describe this person today, most specific first."""
    found = []
    reasons = set(reasons)
    if "job_change" in reasons:
        found.append("job_change")
    if reasons & {"birthday", "birthday_soon"}:
        found.append("birthday")
    if slot == "partner":
        found.append("partner")
    if days_since_touch is not None and days_since_touch > 90:
        found.append("long_silence")
    if last_kind == "meeting" and days_since_touch is not None and days_since_touch <= 45:
        found.append("recent_meeting")
    if not has_note:
        found.append("no_notes")
    return found


def today_seed(contact_id: int, day: date) -> str:
    return f"{contact_id}:{day.isoformat()}"
