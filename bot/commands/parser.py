"""Chat text in, a `Command` out: what a Teams user typed, read generously but never guessed at.

Pure: no I/O and no clock reads; `now` and the user's time zone come from the caller. The `[when]`
part is read by `bot.commands.timeexpr`. Refusals are `CommandError`s with a plain message and an
example to copy; anything that isn't a command at all is `Help(unknown=<first word>)`.
"""

from __future__ import annotations

import difflib
import functools
import html
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from bot.commands.colleagues import parse_colleagues
from bot.commands.model import (
    ApplyPicker,
    ClearSession,
    ClearStatusMessage,
    Command,
    CommandError,
    Extend,
    Help,
    OpenPicker,
    Reset,
    SetNotices,
    SetState,
    SetStatusMessage,
    SetTimeZone,
    ShowPresence,
    When,
)
from bot.commands.timeexpr import WhenError, is_bare_number, parse_duration, parse_when, resolve_zone
from bot.commands.vocabulary import (
    ALIASES,
    STATUS_CLEAR_WORDS,
    UNSETTABLE,
    ZONE_ABBREVIATIONS,
    Unsettable,
    Verb,
)
from bot.core.states import STATUS_MESSAGE_MAX, State
from bot.core.words import spoken_list

__all__ = ["ALIASES", "STATUS_CLEAR_WORDS", "UNSETTABLE", "Verb", "check_status_length", "clean", "parse"]


_STATUS_EXAMPLE = "/status Out for lunch for 1h"


def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    words = r"\s+".join(re.escape(word) for word in phrase.split())
    return re.compile(words + r"(?=$|[\s.!?,:;])", re.IGNORECASE)


_PHRASES: Final[tuple[tuple[re.Pattern[str], State | Verb | Unsettable], ...]] = tuple(
    (_phrase_pattern(phrase), meaning)
    for phrase, meaning in sorted(
        [*ALIASES.items(), *UNSETTABLE.items()], key=lambda item: (-len(item[0].split()), -len(item[0]))
    )
)

_MENTION = re.compile(r"<at\b[^>]*>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_LEADING_MENTIONS = re.compile(r"(?:\s*<at\b[^>]*>.*?</at>)+\s*", re.IGNORECASE | re.DOTALL)
_BLOCK_TAG = re.compile(r"<br\s*/?>|</?(?:p|div|li|ul|ol|blockquote|h[1-6])\b[^>]*>", re.IGNORECASE)
_INLINE_TAG = re.compile(
    r"</?(?:span|b|strong|i|em|u|s|strike|font|code|pre|sup|sub|a|small|mark)\b[^>]*>", re.IGNORECASE
)
_ODD_SPACE = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_ENDS_AM_PM = re.compile(r"\b[ap]\.m\.$", re.IGNORECASE)
_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff]")

_QUOTES: Final[Mapping[str, str]] = {'"': '"“”', "“": '”"“', "”": '”"', "'": "'’", "‘": "’'", "’": "’'"}
_STATUS_WHEN = re.compile(r"(?<!\S)(?:for|until|untill|till|til|'til|’til)(?=\s)", re.IGNORECASE)


def parse(text: str, *, now: datetime, tz: ZoneInfo | str | None, bot_names: Sequence[str] = ()) -> Command:
    """Read one chat message as a command, for a user in `tz` (None or unknown → UTC) at `now`.

    Raises `CommandError` for a command we refuse; unknown words give `Help(unknown=word)`.
    """
    others = _others_mentioned(text, bot_names)
    body = clean(text, bot_names)
    if body.startswith("/"):
        body = body[1:].lstrip()
    zone = resolve_zone(tz)
    about_others = parse_colleagues(body, others, now, zone)
    if about_others is not None:  # /who, /watch, "is @Megan free?"
        return about_others
    set_status = _SET_STATUS.match(body)
    if set_status is not None:
        return _set_status(set_status, now, zone)
    body = _polite(body)
    if not body:
        return Help()
    found = _phrase(body)
    if others and _names_a_state(body, found):  # "/busy 30m for @Megan", "set @Megan to away"
        raise CommandError(
            f"You can only change your own presence: I set it for whoever sends the command, never for "
            f"{others[0]} or anyone else mentioned. Ask them to message me themselves.",
            "/busy 30m",
        )
    if found is None:
        word = body.split()[0].strip("/.!?,:;")[:40]
        return Help(unknown=word or None, suggestion=_did_you_mean(body))
    meaning, rest = found
    if isinstance(meaning, Unsettable):
        raise CommandError(meaning.message, meaning.example)
    if isinstance(meaning, State):
        return _set_state(meaning, rest, now, zone)
    return _verb(meaning, rest, now, zone)


def _set_state(state: State, rest: str, now: datetime, zone: ZoneInfo) -> SetState:
    """A state with its optional [when], and optionally a status message that ends with it: a length or
    end time first (`/busy 2h Focus time`) or last (`/dnd Deep work until 3pm`)."""
    tail = _tail(rest)
    try:
        whole = parse_when(tail, now=now, zone=zone) if tail else None
    except WhenError:
        pass  # a time we refuse (in the past, too far): `_state_when` says why
    else:
        if whole is not None or not tail:
            return SetState(state=state, when=whole)
        if not is_bare_number(_amount(tail)):
            with_message = _state_with_message(state, tail, now, zone)
            if with_message is not None:
                return with_message
    return SetState(state=state, when=_state_when(state, rest, now, zone))


def _state_with_message(state: State, tail: str, now: datetime, zone: ZoneInfo) -> SetState | None:
    words = tail.split()
    for cut in range(len(words) - 1, 0, -1):  # the longest leading length or end time
        try:
            when = parse_when(" ".join(words[:cut]), now=now, zone=zone)
        except WhenError:
            continue
        if when is not None:
            return _with_message(state, when, " ".join(words[cut:]))
    text, when = _plain_status(tail, now, zone)
    return _with_message(state, when, text) if when is not None else None


def check_status_length(message: str, example: str) -> None:
    """Refuse a status message longer than Teams' editor allows, saying how long it is."""
    if len(message) > STATUS_MESSAGE_MAX:
        raise CommandError(
            f"That status message is {len(message)} characters long; Teams allows at most "
            f"{STATUS_MESSAGE_MAX}.",
            example,
        )


def _with_message(state: State, when: When, message: str) -> SetState:
    message = message.strip().strip('"“”')
    if not message:
        raise CommandError("Say the status message after the time.", f"/{state.value} 2h Focus time")
    check_status_length(message, f"/{state.value} 2h Focus time")
    return SetState(state=state, when=when, message=message)


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


def _names_a_state(body: str, found: tuple[State | Verb | Unsettable, str] | None) -> bool:
    """The message sets a presence: it starts with a state or /clear or /reset, or names a state
    anywhere ("set Megan to away")."""
    if found is not None and found[0] is not Verb.PICKER:  # "set <someone> to away" names a state later
        return isinstance(found[0], State) or found[0] in {Verb.CLEAR, Verb.RESET}
    return any(
        isinstance(meaning, State) and re.search(rf"(?<!\w){pattern.pattern}", body, re.IGNORECASE)
        for pattern, meaning in _PHRASES
    )


# A command word with its first argument glued on (`/dnd1h`, `busy30m`).
_GLUED = re.compile(r"^([a-z]+)(\d\S*)(.*)$", re.IGNORECASE | re.DOTALL)
_ONE_WORD_ALIASES: Final = tuple(alias for alias in ALIASES if " " not in alias and alias.isalpha())


def _did_you_mean(body: str) -> str | None:
    """A command close to what was typed: a missing space (`/dnd1h` → `/dnd 1h`) or a near miss of a
    command word (`/bsy 30m` → `/busy 30m`, `/avalable` → `/available`); None when nothing is close."""
    glued = _GLUED.match(body.strip())
    if glued and glued.group(1).lower() in ALIASES:
        return f"/{glued.group(1).lower()} {glued.group(2)}{glued.group(3)}".rstrip()
    first, _, rest = body.strip().partition(" ")
    word = first.strip("/.!?,:;").lower()
    if len(word) < 3 or not word.isalpha():
        return None
    close = difflib.get_close_matches(word, _ONE_WORD_ALIASES, n=1, cutoff=0.75)
    if not close:
        return None
    return f"/{close[0]} {rest.strip()}".rstrip()


def _phrase(
    body: str, kinds: tuple[type, ...] = (State, Verb, Unsettable)
) -> tuple[State | Verb | Unsettable, str] | None:
    """The command phrase `body` starts with (longest first), of one of `kinds`, and what follows."""
    for pattern, meaning in _PHRASES:
        if isinstance(meaning, kinds) and (match := pattern.match(body)) is not None:
            return meaning, body[match.end() :]
    return None


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


def _set_status(match: re.Match[str], now: datetime, zone: ZoneInfo) -> Command:
    rest = match["rest"]
    found = None if match["message"] else _phrase(_polite(rest), (State, Unsettable))
    if found is not None:
        meaning, after = found
        if isinstance(meaning, Unsettable):
            raise CommandError(meaning.message, meaning.example)
        assert isinstance(meaning, State)
        try:
            return SetState(state=meaning, when=_state_when(meaning, after, now, zone))
        except CommandError:
            if _TIME_START.match(after.strip()):
                raise  # "busy 45": the time is what needs fixing
            # "away from keyboard": words, not a time: the status message
    return _verb(Verb.STATUS, " " + rest, now, zone)


_TIME_START = re.compile(r"(?:[+-]?\d|for\b|until\b|untill\b|till?\b|'til\b|’til\b|$)", re.IGNORECASE)


def _polite(body: str) -> str:
    stripped = _POLITE_PREFIX.sub("", body, count=1)
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


def _tail(rest: str) -> str:
    """What follows a command word, without separators around it (`busy: 30m.` → `30m`)."""
    tail = rest.strip().lstrip(":,").strip().rstrip("!").strip()
    return tail if _ENDS_AM_PM.search(tail) else tail.rstrip(".").strip()


def _state_when(state: State, rest: str, now: datetime, zone: ZoneInfo) -> When | None:
    """The optional `[when]` after a state; anything else after it is refused, not ignored."""
    tail = _tail(rest)
    if not tail:
        return None
    name = state.value
    try:
        when = parse_when(tail, now=now, zone=zone)
    except WhenError as error:
        raise CommandError(error.message, f"/{name} {error.example}") from None
    if when is not None:
        return when
    amount = _amount(tail)
    if is_bare_number(amount):  # `/busy 30`, `/busy for 30`
        number = int(amount) if amount.isdigit() else 0
        example = f"/{name} {number}m" if number > 0 else f"/{name} 30m"
        as_time = f", or “until {number}” for {number} o'clock" if 1 <= number <= 23 else ""
        raise CommandError(
            f"“{tail}” needs a unit, like {example.split()[-1]} for minutes{as_time}.", example
        )
    raise CommandError(
        f"I couldn't understand “{tail}” as a length or an end time. "
        "Try a length like 30m or an end time like until 5pm.",
        f"/{name} 30m",
    )


def _amount(tail: str) -> str:
    """`tail` without a leading "for" (`for 30` → `30`)."""
    return re.sub(r"^for\s+", "", tail, flags=re.IGNORECASE)


def _verb(verb: Verb, rest: str, now: datetime, zone: ZoneInfo) -> Command:
    if verb is Verb.HELP:
        return Help()
    if verb is Verb.STATUS:
        return OpenPicker() if not _tail(rest) else _status(rest, now, zone)
    tail = _tail(rest)
    if verb is Verb.EXTEND:
        return _extend(tail)
    if verb is Verb.PICKER and tail.lower() in {"", "apply"}:
        return ApplyPicker() if tail else OpenPicker()
    if verb is Verb.TIMEZONE:
        return _time_zone(tail)
    if verb is Verb.NOTIFY:
        return _notify(tail)
    command = "/status clear" if verb is Verb.STATUS_CLEAR else f"/{verb.value}"
    if tail:
        raise CommandError(
            f"{command} takes nothing after it, and I don't know what “{tail}” means there.", command
        )
    if verb is Verb.CLEAR:
        return ClearSession()
    if verb is Verb.RESET:
        return Reset()
    if verb is Verb.STATUS_CLEAR:
        return ClearStatusMessage()
    return ShowPresence()


_ZONE_EXAMPLE = "/timezone Europe/Berlin"


@functools.cache
def _zone_names() -> Mapping[str, str]:
    """Every IANA zone name, keyed case-insensitively (`europe/berlin` → `Europe/Berlin`)."""
    import zoneinfo

    return {name.lower(): name for name in zoneinfo.available_timezones()}


def _time_zone(tail: str) -> SetTimeZone:
    """`/timezone Europe/Berlin`; `/timezone auto` goes back to the zone Teams reports."""
    if not tail:
        raise CommandError("Tell me which time zone, as an IANA name.", _ZONE_EXAMPLE)
    if tail.lower() in {"auto", "automatic", "teams", "reset", "default"}:
        return SetTimeZone(zone=None)
    meant = ZONE_ABBREVIATIONS.get(tail.strip().lower())
    if meant is not None:
        names = spoken_list(meant, "or")
        raise CommandError(
            f"“{tail.strip()}” is an abbreviation, not a time zone: it may mean {names}. Abbreviations "
            "don't follow daylight saving, so say the zone by its IANA name.",
            f"/timezone {meant[0]}",
        )
    wanted = tail.replace(" ", "_")
    name = _zone_names().get(wanted.lower())
    if name is None:
        raise CommandError(
            f"“{tail}” is not a time zone I know. Use an IANA name like Europe/Berlin, America/New_York "
            "or Asia/Tokyo (or /timezone auto to follow Teams).",
            _ZONE_EXAMPLE,
        )
    return SetTimeZone(zone=name)


def _extend(tail: str) -> Extend:
    """`/extend` (30 minutes), `/extend 1h`, `/extend by 45 minutes`."""
    amount = re.sub(r"^(?:by|for)\s+", "", tail, flags=re.IGNORECASE) or "30m"
    by = parse_duration(amount)
    if by is None or by <= timedelta(0):
        raise CommandError(f"I couldn't read “{tail}” as a length to add, like 30m or 1h.", "/extend 30m")
    return Extend(by=by)


def _notify(tail: str) -> SetNotices:
    value = tail.lower()
    if value in {"on", "yes", "enable", "enabled", "true"}:
        return SetNotices(enabled=True)
    if value in {"off", "no", "disable", "disabled", "false", "stop"}:
        return SetNotices(enabled=False)
    raise CommandError("Say /notify on or /notify off.", "/notify off")


def _status(rest: str, now: datetime, zone: ZoneInfo) -> SetStatusMessage | ClearStatusMessage:
    """`/status <text> [for D | until T]`; a quoted text is literal, `/status clear` removes it."""
    raw = rest.strip()
    if raw.startswith(":"):
        raw = raw[1:].strip()
    if raw.lower().rstrip(".!") in STATUS_CLEAR_WORDS:
        return ClearStatusMessage()
    if not raw:
        raise CommandError(
            "Say what your status message should be. (To see your presence, send /presence.)", _STATUS_EXAMPLE
        )
    text, when = _quoted_status(raw, now, zone) or _plain_status(raw, now, zone)
    if not text:
        raise CommandError("Say what your status message should be, not only when it ends.", _STATUS_EXAMPLE)
    check_status_length(text, _STATUS_EXAMPLE)
    return SetStatusMessage(text=text, when=when)


def _quoted_status(raw: str, now: datetime, zone: ZoneInfo) -> tuple[str, When | None] | None:
    """`"back in 5 minutes"` or `"Out" for 1h`: the words inside quotes are never an expiry."""
    closers = _QUOTES.get(raw[0])
    if closers is None:
        return None
    for end in range(len(raw) - 1, 0, -1):
        if raw[end] not in closers:
            continue
        inner, after = raw[1:end].strip(), raw[end + 1 :].strip()
        if not after:
            return inner, None
        when = _status_when(after, inner, now, zone)
        if when is not None:
            return inner, when
    return None


def _plain_status(raw: str, now: datetime, zone: ZoneInfo) -> tuple[str, When | None]:
    """The text and a trailing `for …`/`until …` expiry, if one parses; otherwise it is all text."""
    for match in _STATUS_WHEN.finditer(raw):
        text = raw[: match.start()].rstrip()
        when = _status_when(raw[match.start() :], text, now, zone)
        if when is not None:
            return text, when
    return raw, None


def _status_when(clause: str, text: str, now: datetime, zone: ZoneInfo) -> When | None:
    try:
        return parse_when(clause, now=now, zone=zone, allow_to=False)
    except WhenError as error:
        suffix = error.example if error.example.startswith("until") else f"for {error.example}"
        raise CommandError(
            f"{error.message} To keep those words in the message, put the message in quotes.",
            f"/status {text or 'Out for lunch'} {suffix}",
        ) from None
