"""Chat text in, a `Command` out: what a Teams user typed, read generously but never guessed at.

Pure: no I/O and no clock reads; `now` and the user's time zone come from the caller. The parser knows
no command by name: a `Grammar` (built by the command registry, `bot.commands.registry`, from each
command's declaration) says which words start which command and which reader (`Reader`) reads what
follows them. What is left here is chat phrasing common to every command: Teams' HTML and mentions,
polite wrappers ("please", "I'm"), "set my status to …", states apps can't set, and did-you-mean.

Refusals are `CommandError`s with a plain message and an example to copy; anything that isn't a command
at all is `Help(unknown=<first word>)`.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from bot.commands.model import Command, CommandError, Help
from bot.commands.timeexpr import resolve_zone
from bot.commands.vocabulary import UNSETTABLE, Unsettable

__all__ = ["Entry", "Grammar", "Reader", "Reading", "Role", "clean", "mention_names", "parse", "tail"]


@dataclass(frozen=True)
class Reading:
    """What a reader gets: the words that named the command (`said`), what follows them (`rest`), the
    people the message mentions (`others`, the bot left out) and the caller's clock and zone."""

    said: str
    rest: str
    now: datetime
    zone: ZoneInfo
    others: tuple[str, ...] = ()
    # False where words after a state are no status message of its own ("set my status to busy today"
    # reads "today" as the end, "set my status to busy with customers" is all a status message)
    with_message: bool = True

    @property
    def tail(self) -> str:
        return tail(self.rest)


# A reader turns what follows a command's words into its model; None means "not this command after all"
# (the message is then answered as one the bot did not understand).
Reader = Callable[[Reading], Command | None]


class Role(StrEnum):
    """What the parser's shared phrasing needs to know about a command."""

    STATE = "state"  # sets a presence state: "set my status to <it>", refused when it names someone else
    CHANGE = "change"  # changes the sender's presence otherwise (/clear, /reset): refused the same way
    STATUS = "status"  # sets the status message: what "set my status to <words>" means otherwise
    PICKER = "picker"  # the status picker: a state may follow its words ("set @Megan to away")
    OTHER = "other"


@dataclass(frozen=True)
class Entry:
    """One command as the parser sees it: its name, its reader and its role. `suggested`: its one-word
    phrases may be offered as did-you-mean (not where the words alone read as no command: "check", "is")."""

    name: str
    read: Reader
    role: Role = Role.OTHER
    suggested: bool = True


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    words = r"\s+".join(re.escape(word) for word in phrase.split())
    return re.compile(words + r"(?=$|[\s.!?,:;])", re.IGNORECASE)


class Grammar:
    """Which words start which command: every phrase once, matched on whole words, longest first."""

    def __init__(self, phrases: Iterable[tuple[str, Entry]]) -> None:
        table: dict[str, Entry | Unsettable] = {}
        for phrase, entry in phrases:
            key = " ".join(phrase.lower().split())
            known = table.get(key)
            if isinstance(known, Entry) and known != entry:
                raise ValueError(f"the words “{phrase}” name two commands: /{known.name} and /{entry.name}")
            table[key] = entry
        for phrase, refusal in UNSETTABLE.items():
            table.setdefault(phrase, refusal)
        ordered = sorted(table.items(), key=lambda item: (-len(item[0].split()), -len(item[0])))
        self._phrases: Final = tuple((_phrase_pattern(phrase), meaning) for phrase, meaning in ordered)
        self.one_word: Final = tuple(
            phrase
            for phrase, meaning in ordered
            if isinstance(meaning, Entry) and meaning.suggested and phrase.isalpha()
        )
        self._status = next(
            (e for e in table.values() if isinstance(e, Entry) and e.role is Role.STATUS), None
        )

    def find(
        self, body: str, roles: frozenset[Role] | None = None
    ) -> tuple[Entry | Unsettable, str, str] | None:
        """The command `body` starts with (longest phrase first), the words that said it and what
        follows; only commands of `roles` (and the refusals) when given."""
        for pattern, meaning in self._phrases:
            if roles is not None and isinstance(meaning, Entry) and meaning.role not in roles:
                continue
            if (match := pattern.match(body)) is not None:
                return meaning, match.group(0), body[match.end() :]
        return None

    def names_a_state(self, body: str) -> bool:
        """Whether `body` names a presence state anywhere ("set Megan to away")."""
        return any(
            isinstance(meaning, Entry)
            and meaning.role is Role.STATE
            and re.search(rf"(?<!\w){pattern.pattern}", body, re.IGNORECASE)
            for pattern, meaning in self._phrases
        )

    @property
    def status(self) -> Entry | None:
        return self._status


_MENTION = re.compile(r"<at\b[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_LEADING_MENTIONS = re.compile(r"(?:\s*<at\b[^>]*>.*?</at>)+\s*", re.IGNORECASE | re.DOTALL)
_BLOCK_TAG = re.compile(r"<br\s*/?>|</?(?:p|div|li|ul|ol|blockquote|h[1-6])\b[^>]*>", re.IGNORECASE)
_INLINE_TAG = re.compile(
    r"</?(?:span|b|strong|i|em|u|s|strike|font|code|pre|sup|sub|a|small|mark)\b[^>]*>", re.IGNORECASE
)
_ODD_SPACE = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_ENDS_AM_PM = re.compile(r"\b[ap]\.m\.$", re.IGNORECASE)
_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff]")


def parse(
    text: str, grammar: Grammar, *, now: datetime, tz: ZoneInfo | str | None, bot_names: Sequence[str] = ()
) -> Command:
    """Read one chat message as a command, for a user in `tz` (None or unknown → UTC) at `now`.

    Raises `CommandError` for a command we refuse; unknown words give `Help(unknown=word)`.
    """
    others = tuple(_others_mentioned(text, bot_names))
    body = clean(text, bot_names)
    if body.startswith("/"):
        body = body[1:].lstrip()
    zone = resolve_zone(tz)
    set_status = _SET_STATUS.match(body)
    if set_status is not None:
        status = _set_status(grammar, set_status, Reading("", "", now, zone, others))
        if status is not None:
            return status
    body = _polite(body)
    if not body:
        return Help()
    found = grammar.find(body)
    if others and _changes_presence(grammar, body, found):  # "/busy 30m for @Megan", "set @Megan to away"
        raise CommandError(
            f"You can only change your own presence: I set it for whoever sends the command, never for "
            f"{others[0]} or anyone else mentioned. Ask them to message me themselves.",
            "/busy 30m",
        )
    if found is not None:
        meaning, said, rest = found
        if isinstance(meaning, Unsettable):
            raise CommandError(meaning.message, meaning.example)
        command = meaning.read(Reading(said, rest, now, zone, others))
        if command is not None:
            return command
    word = body.split()[0].strip("/.!?,:;")[:40]
    suggestion = _did_you_mean(grammar, body) if found is None else None  # a command word, read otherwise
    return Help(unknown=word or None, suggestion=suggestion)


def _others_mentioned(text: str, bot_names: Sequence[str]) -> list[str]:
    """People other than the bot mentioned after the command's start (`/busy 30m for <at>Megan</at>`)."""
    names = _lowered(bot_names)
    return [name for name in mention_names(_after_leading_mentions(text)) if name.lower() not in names]


def mention_names(text: str) -> list[str]:
    """The names of the people `text` @mentions, as shown (`<at>Megan <b>B</b></at>` → "Megan B")."""
    return [name for name in map(_mention_name, _MENTION.finditer(text)) if name]


def _mention_name(match: re.Match[str]) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()


def _after_leading_mentions(text: str) -> str:
    """`text` without the mentions it starts with (how Teams addresses the bot in chats and channels)."""
    text = text or ""
    return _LEADING_MENTIONS.sub(" ", text, count=1) if _LEADING_MENTIONS.match(text) else text


def _lowered(names: Sequence[str]) -> set[str]:
    return {n.strip().lower() for n in names if n and n.strip()}


_CHANGES: Final = frozenset({Role.STATE, Role.CHANGE})


def _changes_presence(grammar: Grammar, body: str, found: tuple[Entry | Unsettable, str, str] | None) -> bool:
    """The message sets a presence: it starts with a state or /clear or /reset, or names a state
    anywhere ("set Megan to away": the picker's "set" names a state later)."""
    if found is not None and not (isinstance(found[0], Entry) and found[0].role is Role.PICKER):
        return isinstance(found[0], Entry) and found[0].role in _CHANGES
    return grammar.names_a_state(body)


# A command word with its first argument glued on (`/dnd1h`, `busy30m`).
_GLUED = re.compile(r"^([a-z]+)(\d\S*)(.*)$", re.IGNORECASE | re.DOTALL)


def _did_you_mean(grammar: Grammar, body: str) -> str | None:
    """A command close to what was typed: a missing space (`/dnd1h` → `/dnd 1h`) or a near miss of a
    command word (`/bsy 30m` → `/busy 30m`, `/avalable` → `/available`); None when nothing is close."""
    glued = _GLUED.match(body.strip())
    if glued and glued.group(1).lower() in grammar.one_word:
        return f"/{glued.group(1).lower()} {glued.group(2)}{glued.group(3)}".rstrip()
    first, _, rest = body.strip().partition(" ")
    word = first.strip("/.!?,:;").lower()
    if len(word) < 3 or not word.isalpha():
        return None
    close = difflib.get_close_matches(word, grammar.one_word, n=1, cutoff=0.75)
    if not close:
        return None
    return f"/{close[0]} {rest.strip()}".rstrip()


# How people phrase a state in chat around the command word: "set me to busy for 30m", "I'm away",
# "busy 30m please". Only wrapped around a command; the status text itself is never touched.
_POLITE_PREFIX = re.compile(
    r"^(?:(?:please|pls|hey|hi)[\s,]+)*"
    r"(?:set\s+(?:me|my\s+(?:status|presence))\s+(?:to|as)\s+|mark\s+me\s+(?:as\s+)?|make\s+me\s+"
    r"|(?:i'?m|i\s+am|i’m)\s+(?:now\s+)?)",
    re.IGNORECASE,
)
_POLITE_SUFFIX = re.compile(r"[\s,]+(?:please|pls|thanks|thank\s+you|thx)[.!]*$", re.IGNORECASE)


# "set my status to Working from home", "change status message to …": a status message, unless what
# follows names a presence ("set my status to busy for 30m" sets Busy).
_SET_STATUS = re.compile(
    r"^(?:(?:please|pls|hey|hi)[\s,]+)*(?:set|change|update|make)\s+(?:my\s+)?status"
    r"(?P<message>\s+(?:message|msg|text|note))?\s+(?:to|as)\s+(?P<rest>\S.*)$",
    re.IGNORECASE | re.DOTALL,
)
_STATES: Final = frozenset({Role.STATE})
_TIME_START = re.compile(r"(?:[+-]?\d|for\b|until\b|untill\b|till?\b|'til\b|’til\b|$)", re.IGNORECASE)


def _set_status(grammar: Grammar, match: re.Match[str], context: Reading) -> Command | None:
    rest = match["rest"]
    found = None if match["message"] else grammar.find(_polite(rest), _STATES)
    if found is not None:
        meaning, said, after = found
        if isinstance(meaning, Unsettable):
            raise CommandError(meaning.message, meaning.example)
        try:
            return meaning.read(Reading(said, after, context.now, context.zone, context.others, False))
        except CommandError:
            if _TIME_START.match(after.strip()):
                raise  # "busy 45": the time is what needs fixing
            # "away from keyboard": words, not a time: the status message
    status = grammar.status
    if status is None:
        return None
    return status.read(Reading("status", " " + rest, context.now, context.zone, context.others))


_COURTESY = re.compile(r"^(?:(?:please|pls|hey|hi)[\s,]+)+", re.IGNORECASE)


def _polite(body: str) -> str:
    stripped = _POLITE_PREFIX.sub("", body, count=1)
    if stripped is body or stripped == body:
        stripped = _COURTESY.sub("", body, count=1)
    if stripped.lower().startswith("status"):
        return body if stripped is body else stripped  # status text stays exactly as typed
    return _POLITE_SUFFIX.sub("", stripped)


def clean(text: str, bot_names: Sequence[str] = ()) -> str:
    """The command in a Teams message: no bot mention, HTML tags or entities, or leading bot name.

    Mentions before the command (how Teams addresses the bot in chats and channels) and mentions of the
    bot anywhere are dropped; anyone else mentioned later keeps their name (`/status Pairing with
    <at>Megan</at>` → "Pairing with Megan").
    """
    names = _lowered(bot_names)

    def mention(match: re.Match[str]) -> str:
        inner = _mention_name(match)
        return " " if not names or inner.lower() in names else inner

    text = _MENTION.sub(mention, _after_leading_mentions(text))
    text = _BLOCK_TAG.sub(" ", text)
    text = _INLINE_TAG.sub("", text)
    text = html.unescape(text)
    text = _ZERO_WIDTH.sub("", _ODD_SPACE.sub(" ", text)).strip()
    for name in sorted((n.strip() for n in bot_names if n and n.strip()), key=len, reverse=True):
        match = re.match(rf"@?{re.escape(name)}(?=$|[\s,:])[\s,:]*", text, re.IGNORECASE)
        if match:
            text = text[match.end() :].strip()
            break
    return text


def tail(rest: str) -> str:
    """What follows a command word, without separators around it (`busy: 30m.` → `30m`)."""
    rest = rest.strip().lstrip(":,").strip().rstrip("!").strip()
    return rest if _ENDS_AM_PM.search(rest) else rest.rstrip(".").strip()


def nothing_after(factory: Callable[[], Command], command: str) -> Reader:
    """A reader for a command that takes nothing after its words (`/clear`, `/presence`)."""

    def read(reading: Reading) -> Command:
        if reading.tail:
            raise CommandError(
                f"{command} takes nothing after it, and I don't know what “{reading.tail}” means there.",
                command,
            )
        return factory()

    return read
