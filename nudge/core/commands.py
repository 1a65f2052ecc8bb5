"""Commands in a reply to the digest: `done 1 3`, `called 2: moving to Berlin`, `snooze 4 2w` (pure).

The user answers from any mail client, so the text is whatever that client
makes of it: quoted digest, attribution lines, signatures, HTML turned into
text. Only the user's own new lines are read; every line is either a command
or reported back as not understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from nudge.core.records import OUTCOMES

# verb -> touch kind it logs
TOUCH_VERBS = {
    "done": "call",
    "did": "call",
    "called": "call",
    "call": "call",
    "rang": "call",
    "phoned": "call",
    "met": "meeting",
    "emailed": "email",
    "mailed": "email",
    "wrote": "email",
    "messaged": "message",
    "texted": "message",
}
HELP = (
    "Reply to this email to act on it: `done 1 3` (you reached them), "
    "`called 2: moving to Berlin in May` (with a note), `met 1`, `emailed 3`, `texted 4`, "
    "`called Ana: new job` (anyone, by name), "
    "`snooze 4 2w` (or 10d, 3m, a date), `skip 5` (not this week), `note 1: loves climbing`, "
    "`partner done`, `follow 3 fri: send the deck` or `follow Ana 2w` (a follow-up on that day), "
    "`outcome Ana referral` (what came of your last touch). One command a line."
)

# Where the user's own text ends and the quoted digest begins, in the clients' usual words.
_QUOTE_STARTS = re.compile(
    r"^(on\b.+\bwrote:?|am\b.+\bschrieb.*:|le\b.+\ba écrit\s?:|el\b.+\bescribió:|"
    r"-{2,}\s*original message\s*-{2,}|-{2,}\s*ursprüngliche nachricht\s*-{2,}|_{10,}|"
    r"from:\s.+|von:\s.+|sent from my \w+.*|be curious today:.*)$",
    re.IGNORECASE,
)
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_WEEKDAY = r"(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?"
# The day of a follow-up, as the tail of `follow TARGET WHEN`: what core.when.due_date reads.
_WHEN = (
    r"(?:(?:on|by|in|until)\s+)?(?:today|tomorrow|tmrw|\d+\s*[dwmy]|\d+\s+(?:days?|weeks?|months?|years?)|"
    rf"(?:next\s+|this\s+)?{_WEEKDAY}|next\s+(?:week|month)|\d{{4}}-\d{{2}}-\d{{2}}|"
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}(?:\s+\d{{4}})?|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?)"
)
_FOLLOW = re.compile(rf"(?P<target>.+?)\s+(?P<when>{_WHEN})", re.IGNORECASE)
_NUMBERS = re.compile(r"^#?\d+(?:\s*(?:,|and|&|\s)\s*#?\d+)*$", re.IGNORECASE)
# A person named in a command (`called Ana Ruiz`, `met O'Neill`): up to four words of letters,
# apostrophes, hyphens and dots, starting with a letter.
NAME_VERBS = frozenset(TOUCH_VERBS) - {"done", "did", "call"}  # `done`, `call` name a digest's item
_NAME = re.compile(r"^[^\W\d_][\w'’.\-]*(?: [^\W\d_][\w'’.\-]*){0,3}$")


@dataclass(frozen=True)
class Command:
    verb: str  # a TOUCH_VERBS key, or snooze | skip | note | follow | outcome
    targets: tuple[int | str, ...]  # digest numbers, or "partner"
    text: str = ""  # the note, or the snooze duration
    line: str = ""  # as written, for the confirmation
    when: str = ""  # follow: the day, as written ("fri", "2w", "12 dec")
    name: str = (
        ""  # the person named instead of by number (`called Ana: ...`, `follow Ana 2w`): targets is empty
    )


@dataclass(frozen=True)
class Parsed:
    commands: tuple[Command, ...]
    not_understood: tuple[str, ...]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script", "head"):
            self._skip += 1
        elif tag == "blockquote":
            self._skip += 1  # the quoted digest
        elif tag in ("br", "p", "div", "tr", "li"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head", "blockquote"):
            self._skip = max(self._skip - 1, 0)
        elif tag in ("p", "div"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def own_lines(body: str) -> list[str]:
    """The lines the user wrote, above the quote and the signature."""
    lines: list[str] = []
    for raw in body.replace("\r\n", "\n").split("\n"):
        line = raw.strip().replace("\u00a0", " ")
        if raw.rstrip() == "--" or raw.startswith("-- "):
            break  # signature
        if line.startswith(">"):
            continue  # quoted, wherever the client put it
        if _QUOTE_STARTS.match(line):
            break
        if line:
            lines.append(" ".join(line.split()))
    return lines


def _targets(text: str) -> tuple[int | str, ...] | None:
    text = text.strip()
    if text.lower() in ("partner", "partners", "p"):
        return ("partner",)
    if not _NUMBERS.match(text):
        return None
    return tuple(dict.fromkeys(int(n) for n in re.findall(r"\d+", text)))


def parse_line(line: str) -> Command | None:
    """One command, or None when the line is not one."""
    text = line.strip().strip("*_`").rstrip(".!")
    head, colon, note = text.partition(":")
    words = head.split()
    if not words:
        return None
    first = words[0].lower()
    if first in ("partner", "partners") and len(words) == 2 and words[1].lower() in TOUCH_VERBS:
        return Command(words[1].lower(), ("partner",), note.strip(), line)  # "partner done"
    if first in TOUCH_VERBS or first in ("skip", "note"):
        rest = " ".join(words[1:])
        targets = _targets(rest)
        if targets is None and first in NAME_VERBS and _NAME.match(rest):
            return Command(first, (), note.strip(), line, name=rest)
        if targets is None or (first == "note" and not note.strip()):
            return None
        return Command(first, targets, note.strip(), line)
    if first == "outcome" and not colon and len(words) >= 3 and words[-1].lower() in OUTCOMES:
        who = " ".join(words[1:-1])  # `outcome 2 meeting`, `outcome Ana Ruiz referral`
        targets = _targets(who)
        return Command("outcome", targets or (), words[-1].lower(), line, name="" if targets else who)
    if first == "follow" and len(words) >= 3:
        return _follow(" ".join(words[1:]), note.strip(), line)
    if first == "snooze" and not colon and len(words) >= 3:
        targets = _targets(" ".join(words[1:-1]))
        if targets is None:
            return None
        return Command("snooze", targets, words[-1], line)
    return None


def _follow(rest: str, text: str, line: str) -> Command | None:
    """`follow 3 fri: send the deck`, `follow Ana Ruiz 12 dec`: who (numbers or a name), then when."""
    m = _FOLLOW.fullmatch(rest)
    if m is None:
        return None
    who, when = m.group("target").strip(), m.group("when")
    targets = _targets(who)
    if targets is not None:
        return Command("follow", targets, text, line, when=when)
    return Command("follow", (), text, line, when=when, name=who)


def parse_reply(body: str) -> Parsed:
    commands: list[Command] = []
    unknown: list[str] = []
    for line in own_lines(body):
        command = parse_line(line)
        if command is None:
            unknown.append(line[:200])
        else:
            commands.append(command)
    return Parsed(tuple(commands), tuple(unknown))
