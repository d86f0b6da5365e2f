"""The status message and the status picker: `/status <text> [for D | until T]`, `/status clear`, `/set`
(the picker card) and its Apply. Models and their readers; the words are in their declarations."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Final
from zoneinfo import ZoneInfo

from pydantic import Field

from bot.commands.model import Command, CommandError, When
from bot.commands.parser import Reading
from bot.commands.timeexpr import WhenError, parse_when
from bot.commands.vocabulary import STATUS_CLEAR_WORDS
from bot.core.states import STATUS_MESSAGE_MAX


class SetStatusMessage(Command):
    """`/status Out for lunch for 1h`."""

    text: Annotated[str, Field(min_length=1, max_length=STATUS_MESSAGE_MAX)]
    when: When | None = None


class ClearStatusMessage(Command):
    """`/status clear`."""


class OpenPicker(Command):
    """`/set`, `/status` alone: the status picker card, like Teams' own."""


class ApplyPicker(Command):
    """The picker card's Apply: what was picked comes with the card's inputs (`Inbound.form`)."""


_STATUS_EXAMPLE = "/status Out for lunch for 1h"
_QUOTES: Final = {'"': '"“”', "“": '”"“', "”": '”"', "'": "'’", "‘": "’'", "’": "’'"}
_STATUS_WHEN = re.compile(r"(?<!\S)(?:for|until|untill|till|til|'til|’til)(?=\s)", re.IGNORECASE)


def read_status(reading: Reading) -> Command:
    """`/status <text> [for D | until T]`; `/status` alone opens the picker."""
    return read_status_text(reading.rest, reading.now, reading.zone) if reading.tail else OpenPicker()


def read_clear_status(reading: Reading) -> Command:
    if reading.tail:
        raise CommandError(
            f"/status clear takes nothing after it, and I don't know what “{reading.tail}” means there.",
            "/status clear",
        )
    return ClearStatusMessage()


def read_picker(reading: Reading) -> Command:
    """`/set` opens the picker; `/set apply` is its Apply button typed."""
    word = reading.tail.lower()
    if word == "apply":
        return ApplyPicker()
    if word:
        raise CommandError(
            f"/set takes nothing after it, and I don't know what “{reading.tail}” means there.", "/set"
        )
    return OpenPicker()


def check_status_length(message: str, example: str) -> None:
    """Refuse a status message longer than Teams' editor allows, saying how long it is."""
    if len(message) > STATUS_MESSAGE_MAX:
        raise CommandError(
            f"That status message is {len(message)} characters long; Teams allows at most "
            f"{STATUS_MESSAGE_MAX}.",
            example,
        )


def read_status_text(rest: str, now: datetime, zone: ZoneInfo) -> SetStatusMessage | ClearStatusMessage:
    """`<text> [for D | until T]`; a quoted text is literal, a clear word removes the message."""
    raw = rest.strip()
    if raw.startswith(":"):
        raw = raw[1:].strip()
    if raw.lower().rstrip(".!") in STATUS_CLEAR_WORDS:
        return ClearStatusMessage()
    if not raw:
        raise CommandError(
            "Say what your status message should be. (To see your presence, send /presence.)", _STATUS_EXAMPLE
        )
    text, when = _quoted_status(raw, now, zone) or plain_status(raw, now, zone)
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


def plain_status(raw: str, now: datetime, zone: ZoneInfo) -> tuple[str, When | None]:
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
