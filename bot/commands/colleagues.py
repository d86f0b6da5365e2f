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

from bot.commands.model import Command, CommandError, ListWatches, Unwatch, Watch, When, Who
from bot.commands.timeexpr import WhenError, parse_when

_WHO = re.compile(r"^(?:who(?:'s|’s|\s+is|\s+are|s)?|whois|presence|show|check|where\s+is)\b", re.I)
_ASKING = re.compile(r"^(?:is|are)\b", re.I)  # "is @Megan free?"
_WATCH = re.compile(
    r"^(?:watch|(?:please\s+)?(?:tell|let|notify|ping|alert|message)\s+me(?:\s+know)?\s+(?:when|once|if))\b",
    re.I,
)
_UNWATCH = re.compile(
    r"^(?:unwatch|stop\s+watching|don'?t\s+watch|(?:cancel|stop|end)\s+(?:all\s+)?(?:my\s+)?watch(?:es|ing)?)\b",
    re.I,
)
_WATCHES = re.compile(
    r"^(?:(?:my|list|show)\s+)?(?:watches|watching|watch\s*list|watchlist)(?:\s+list)?$", re.I
)
_SELF = re.compile(r"^(?:who\s*am\s*i|whoami)\b", re.I)

# Words around the names that add nothing: "tell me when @Megan is free again".
_FILLER: Final = frozenset(
    {"is", "are", "be", "becomes", "become", "gets", "get", "goes", "go", "comes", "come", "turns", "turn"}
    | {"when", "once", "if", "the", "me", "again", "now", "please", "status", "presence", "of", "and"}
)
_FREE: Final = frozenset({"free", "available", "avail"})
_BACK: Final = frozenset({"back", "online", "returns", "return", "around", "in"})
_EVERYONE: Final = frozenset({"all", "everyone", "everybody", "every", "watches", "watch"})
_WATCH_EXAMPLE = "/watch @Megan until 5pm"


def parse_colleagues(body: str, others: Sequence[str], now: datetime, zone: ZoneInfo) -> Command | None:
    """The colleague command `body` says, or None when it is not one (then the rest of the parser
    reads it). Raises `CommandError` for one that is wrong."""
    text = body.strip().rstrip("?!. ")
    if _SELF.match(text):
        return None
    if _WATCHES.match(text):
        return ListWatches()
    if match := _UNWATCH.match(text):
        said_all = ["all"] if re.search(r"\ball\b", match.group(0), re.I) else []
        return _unwatch(said_all + _words(text[match.end() :], others), others)
    if match := _WATCH.match(text):
        return _watch(_words(text[match.end() :], others), others, now, zone)
    if match := _WHO.match(text):
        rest = _words(text[match.end() :], others)
        if text.lower().startswith(("presence", "show", "check")) and not others:
            return None  # `/presence`, `/show`: the sender's own
        return _who(rest, others)
    asking = _ASKING.match(text)
    if asking and others:  # "is @Megan free?", "are @Megan and @Adele around?"
        return _who(_words(text[asking.end() :], others), others)
    words = text.split()
    name = " ".join(words[1:-1])
    if (
        asking
        and len(words) >= 3
        and words[-1].lower() in _FREE | _BACK | {"busy"}
        and name.lower() not in {"it", "this", "that", "there", "anyone", "everyone", "someone", "he", "she"}
    ):  # "is Megan free?": a person, named without a mention
        raise CommandError(
            f"Mention {name} (type @ and pick them from the list), so I know exactly who you mean.",
            "/who @Megan",
        )
    return None


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


def _watch(rest: list[str], others: Sequence[str], now: datetime, zone: ZoneInfo) -> Watch:
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
    return Watch(names=tuple(others), back=back, when=when)


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
