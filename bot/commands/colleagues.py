"""Commands about colleagues: `/who`, `/watch`, `/unwatch`, `/watches`, and how people say them
("is @Megan free?", "tell me when @Megan is back", "stop watching @Megan").

The people are the message's mentions: `others` are their names as the message shows them (the parser
finds them in `<at>…</at>`), and `body` is the cleaned text, where those names appear as plain words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from bot.commands.model import Command, CommandError, When
from bot.commands.parser import Reading
from bot.commands.timeexpr import WhenError, parse_when


class Who(Command):
    """`/who @Megan @Adele`, `/presence @Megan`, "is @Megan free?"; `/who` alone in a group chat or
    channel: its members. The people are the message's mentions (`Inbound.mentions`), named here as
    written (`names`) for answers that speak of them."""

    names: tuple[str, ...] = ()
    free_only: bool = False  # "who is free?": of the chat's members, only those free now


class AddWatch(Command):
    """`/watch @Megan [back] [until …]`, "tell me when @Megan is free": one notice when it happens."""

    names: tuple[str, ...] = ()
    back: bool = False  # no longer away, offline or out of office (else: Available)
    when: When | None = None  # default: the end of the watcher's working day, at most 24 hours


class Unwatch(Command):
    """`/unwatch @Megan`, `/unwatch all`."""

    names: tuple[str, ...] = ()
    everyone: bool = False
    watch_id: int | None = None  # `/unwatch #12`: the watch a card's "Stop" button names


class ListWatches(Command):
    """`/watches`: the watches the user has running."""


# Words around the names that add nothing: "tell me when @Megan is free again".
_FILLER: Final = frozenset(
    {"is", "are", "be", "becomes", "become", "gets", "get", "goes", "go", "comes", "come", "turns", "turn"}
    | {"when", "once", "if", "the", "me", "again", "now", "please", "status", "presence", "of", "and"}
)
_FREE: Final = frozenset({"free", "available", "avail"})
_BACK: Final = frozenset({"back", "online", "returns", "return", "around", "in"})
_EVERYONE: Final = frozenset({"all", "everyone", "everybody", "every", "watches", "watch"})
_WATCH_EXAMPLE = "/watch @Megan until 5pm"
_NOT_A_PERSON: Final = frozenset(
    {"it", "this", "that", "there", "anyone", "everyone", "someone", "he", "she"}
)


def _rest(reading: Reading) -> str:
    return reading.rest.strip().rstrip("?!. ")


def read_who(reading: Reading) -> Command:
    """`/who @Megan`, `/who` (the chat's members), "who is free?"."""
    return _who(_words(_rest(reading), reading.others), reading.others)


def read_check(reading: Reading) -> Command | None:
    """ "check @Megan": their presence; "check" alone is no command."""
    return read_who(reading) if reading.others else None


def read_asking(reading: Reading) -> Command | None:
    """ "is @Megan free?", "are @Megan and @Adele around?"; "is Megan free?" without a mention asks for
    one. Any other question is no command."""
    rest = _rest(reading)
    if reading.others:
        return _who(_words(rest, reading.others), reading.others)
    words = rest.split()
    name = " ".join(words[:-1])
    if (
        len(words) >= 2
        and words[-1].lower() in _FREE | _BACK | {"busy"}
        and name.lower() not in _NOT_A_PERSON
    ):
        raise CommandError(
            f"Mention {name} (type @ and pick them from the list), so I know exactly who you mean.",
            "/who @Megan",
        )
    return None


def read_watch(reading: Reading) -> Command:
    """`/watch @Megan [back] [until …]`, "tell me when @Megan is back"."""
    return _watch(_words(_rest(reading), reading.others), reading.others, reading.now, reading.zone)


def read_unwatch(reading: Reading) -> Command:
    """`/unwatch @Megan`, `/unwatch all`, "stop all my watches", `/unwatch #12` (a card's Stop)."""
    said_all = ["all"] if re.search(r"\ball\b", reading.said, re.I) else []
    return _unwatch(said_all + _words(_rest(reading), reading.others), reading.others)


def read_watches(reading: Reading) -> Command | None:
    """`/watches`, "my watches", "watch list": nothing may follow."""
    return None if _rest(reading) else ListWatches()


def _who(rest: list[str], others: Sequence[str]) -> Who:
    left = [word for word in rest if word.lower() not in _FREE | _BACK | {"busy", "here", "there"}]
    if left:
        raise CommandError(
            f"I don't know what “{' '.join(left)}” means there. To see colleagues' presence, mention "
            "them (type @ and pick them); in a group chat, /who alone shows everyone here.",
            "/who @Megan",
        )
    free_only = not others and any(word.lower() in _FREE for word in rest)
    return Who(names=tuple(others), free_only=free_only)


def _watch(rest: list[str], others: Sequence[str], now: datetime, zone: ZoneInfo) -> AddWatch:
    if not others:
        raise CommandError(
            "Mention who to watch (type @ and pick them), so I know exactly who you mean.", _WATCH_EXAMPLE
        )
    back = any(word.lower() in _BACK for word in rest)
    timing = [word for word in rest if word.lower() not in _FREE | _BACK]
    when: When | None = None
    if timing:
        phrase = " ".join(timing)
        try:
            when = parse_when(phrase, now=now, zone=zone)
        except WhenError as error:
            raise CommandError(str(error), _WATCH_EXAMPLE) from None
        if when is None:
            raise CommandError(
                f"I don't know what “{phrase}” means in /watch. Say until when to watch (at most 24 hours), "
                "or “back” to hear when they are no longer away.",
                _WATCH_EXAMPLE,
            )
    return AddWatch(names=tuple(others), back=back, when=when)


def _unwatch(rest: list[str], others: Sequence[str]) -> Unwatch:
    if not others and len(rest) == 1 and re.fullmatch(r"#\d{1,12}", rest[0]):  # a card's "Stop" button
        return Unwatch(watch_id=int(rest[0][1:]))
    everyone = any(word.lower() in _EVERYONE for word in rest)
    if not others and not everyone:
        raise CommandError("Say whom to stop watching (mention them), or all.", "/unwatch all")
    left = [word for word in rest if word.lower() not in _EVERYONE | {"for", "on"}]
    if left:
        raise CommandError(
            f"I don't know what “{' '.join(left)}” means in /unwatch. Mention whom to stop watching, "
            "or say all.",
            "/unwatch all",
        )
    return Unwatch(names=tuple(others), everyone=everyone and not others)


def _words(rest: str, others: Sequence[str]) -> list[str]:
    """The words of `rest` once the mentioned names and filler words are taken out. A typed "@Megan"
    that Teams did not send as a mention is refused: there is no one behind it to look up."""
    for name in sorted(others, key=len, reverse=True):
        rest = re.sub(rf"(?<!\w)@?{re.escape(name)}(?!\w)", " ", rest, flags=re.I)
    rest = re.sub(r"[,&?!]", " ", rest)
    words = [word for word in rest.split() if word.lower() not in _FILLER and word != "@"]
    typed = next((word for word in words if word.startswith("@")), None)
    if typed is not None:
        raise CommandError(
            f"“{typed}” came as plain text, not as a mention: type @, then pick {typed[1:]} from the list "
            "Teams opens.",
            f"/who {typed}",
        )
    return words
