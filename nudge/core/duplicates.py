"""Contacts that may be one person, with the evidence, for the user to decide (pure).

Never acted on by itself: a shared name alone is a hint, not a proof, so `nudge
duplicates` lists and `nudge merge` is the user's. Each kind of evidence is found
through a key (the folded name, a phone's last digits, an address's local part,
the initials), so the work grows with the contacts, not with their pairs.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from nudge.core.identity import fold

SUFFIX = 7  # digits a phone number's end must share: a number, not an area code
# Local parts that name a mailbox, not a person: the same one at two firms says nothing.
ROLE_MAILBOXES = frozenset(
    [
        "admin",
        "contact",
        "hello",
        "hi",
        "info",
        "mail",
        "office",
        "post",
        "sales",
        "service",
        "support",
        "team",
        "kontakt",
        "noreply",
        "no-reply",
    ]
)


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()


@dataclass
class Pair:
    a: Person
    b: Person
    evidence: list[str] = field(default_factory=list)


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


def _words(name: str) -> list[str]:
    return [w.strip(".") for w in fold(name).replace(",", " ").split() if w.strip(".")]


def _initials_match(x: list[str], y: list[str]) -> bool:
    """First and last words agree, at least one of them only by its initial ('A. Ruiz', 'Ana R.')."""
    if len(x) < 2 or len(y) < 2:
        return False
    ends = ((x[0], y[0]), (x[-1], y[-1]))

    def agree(p: str, q: str) -> bool:
        return p == q or (min(len(p), len(q)) == 1 and p[0] == q[0])

    return all(agree(p, q) for p, q in ends) and any(p != q for p, q in ends)


def likely_pairs(people: Sequence[Person]) -> list[Pair]:
    """Pairs of people that may be one, strongest evidence first; each with every reason found."""
    found: dict[tuple[int, int], Pair] = {}
    by_id = {p.id: p for p in people}

    def note(group: Iterable[int], why: str) -> None:
        for i, j in combinations(sorted(set(group)), 2):
            pair = found.setdefault((i, j), Pair(by_id[i], by_id[j]))
            if why not in pair.evidence:
                pair.evidence.append(why)

    names: dict[str, list[int]] = defaultdict(list)
    initials: dict[tuple[str, str], list[int]] = defaultdict(list)
    suffixes: dict[str, list[int]] = defaultdict(list)
    locals_: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for p in people:
        words = _words(p.name)
        if words:
            names[" ".join(words)].append(p.id)
        if len(words) >= 2:
            initials[words[0][0], words[-1][0]].append(p.id)
        for phone in p.phones:
            digits = _digits(phone)
            if len(digits) >= SUFFIX:
                suffixes[digits[-SUFFIX:]].append(p.id)
        for email in p.emails:
            local, _, domain = email.lower().rpartition("@")
            if len(local) >= 3 and local not in ROLE_MAILBOXES:
                locals_[local].append((p.id, domain))
    for ids in names.values():
        note(ids, f"same name: {by_id[ids[0]].name}")
    for ids in initials.values():
        for i, j in combinations(ids, 2):
            if _initials_match(_words(by_id[i].name), _words(by_id[j].name)):
                note((i, j), f"initials and surname: {by_id[i].name} / {by_id[j].name}")
    for digits, ids in suffixes.items():
        note(ids, f"phones end in the same {SUFFIX} digits: …{digits}")
    for local, owners in locals_.items():
        for (i, di), (j, dj) in combinations(owners, 2):
            if i != j and di != dj:
                note((i, j), f"same address name at two domains: {local}@{di} / {local}@{dj}")
    return sorted(found.values(), key=lambda p: (-len(p.evidence), fold(p.a.name), p.a.id, p.b.id))
