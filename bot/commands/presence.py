"""The sender's presence: a state with its optional `[when]` and status message (`/busy 2h Focus time`),
`/extend`, `/clear`, `/reset` and `/presence`. Models and their readers; the words are in their
declarations (`bot.turns.commands.presence`)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Field

from bot.commands.colleagues import read_who
from bot.commands.model import Command, CommandError, When
from bot.commands.parser import Reader, Reading, nothing_after, tail
from bot.commands.status import check_status_length, plain_status
from bot.commands.timeexpr import WhenError, is_bare_number, parse_duration, parse_when
from bot.core.states import STATUS_MESSAGE_MAX, State


class SetState(Command):
    """`/busy 30m`, `/dnd until 5pm`, `/available`…"""

    state: State
    when: When | None = None
    # A status message set with the state, ending with it (`/busy 2h Focus time`).
    message: Annotated[str, Field(min_length=1, max_length=STATUS_MESSAGE_MAX)] | None = None


class ClearSession(Command):
    """`/clear`: end the bot's own presence session."""


class Reset(Command):
    """`/reset`: end the bot's session and the preferred presence: back to automatic."""


class ShowPresence(Command):
    """`/presence`, `/whoami`, `/show`."""


class Extend(Command):
    """`/extend 30m`: the state the bot holds lasts this much longer."""

    by: timedelta


read_clear: Reader = nothing_after(ClearSession, "/clear")
read_reset: Reader = nothing_after(Reset, "/reset")
_read_self = nothing_after(ShowPresence, "/presence")


def read_show(reading: Reading) -> Command | None:
    """`/presence` is the sender's own; `/presence @Megan` is Megan's (`/who`)."""
    return read_who(reading) if reading.others else _read_self(reading)


def read_state(state: State) -> Reader:
    """The reader of one state's command: `/<state> [when] [status message]`."""

    def read(reading: Reading) -> Command:
        if not reading.with_message:
            return SetState(
                state=state, when=_state_when(state.value, reading.tail, reading.now, reading.zone)
            )
        return state_command(state, reading.rest, reading.now, reading.zone)

    return read


def state_command(
    state: State, rest: str, now: datetime, zone: ZoneInfo, name: str | None = None
) -> SetState:
    """A state with its optional [when], and optionally a status message that ends with it: a length or
    end time first (`/busy 2h Focus time`) or last (`/dnd Deep work until 3pm`). `name` is the command
    the examples in a refusal use (the state's own by default)."""
    name = name or state.value
    text = tail(rest)
    try:
        whole = parse_when(text, now=now, zone=zone) if text else None
    except WhenError:
        pass  # a time we refuse (in the past, too far): `_state_when` says why
    else:
        if whole is not None or not text:
            return SetState(state=state, when=whole)
        if not is_bare_number(_amount(text)):
            with_message = _state_with_message(state, text, now, zone, name)
            if with_message is not None:
                return with_message
    return SetState(state=state, when=_state_when(name, text, now, zone))


def _state_with_message(state: State, text: str, now: datetime, zone: ZoneInfo, name: str) -> SetState | None:
    words = text.split()
    for cut in range(len(words) - 1, 0, -1):  # the longest leading length or end time
        try:
            when = parse_when(" ".join(words[:cut]), now=now, zone=zone)
        except WhenError:
            continue
        if when is not None:
            return _with_message(state, when, " ".join(words[cut:]), name)
    message, when = plain_status(text, now, zone)
    return _with_message(state, when, message, name) if when is not None else None


def _with_message(state: State, when: When, message: str, name: str) -> SetState:
    message = message.strip().strip('"“”')
    if not message:
        raise CommandError("Say the status message after the time.", f"/{name} 2h Focus time")
    check_status_length(message, f"/{name} 2h Focus time")
    return SetState(state=state, when=when, message=message)


def _state_when(name: str, text: str, now: datetime, zone: ZoneInfo) -> When | None:
    """The optional `[when]` after a state's command `name`; anything else after it is refused."""
    if not text:
        return None
    try:
        when = parse_when(text, now=now, zone=zone)
    except WhenError as error:
        raise CommandError(error.message, f"/{name} {error.example}") from None
    if when is not None:
        return when
    amount = _amount(text)
    if is_bare_number(amount):  # `/busy 30`, `/busy for 30`
        number = int(amount) if amount.isdigit() else 0
        example = f"/{name} {number}m" if number > 0 else f"/{name} 30m"
        as_time = f", or “until {number}” for {number} o'clock" if 1 <= number <= 23 else ""
        raise CommandError(
            f"“{text}” needs a unit, like {example.split()[-1]} for minutes{as_time}.", example
        )
    raise CommandError(
        f"I couldn't understand “{text}” as a length or an end time. "
        "Try a length like 30m or an end time like until 5pm.",
        f"/{name} 30m",
    )


def _amount(text: str) -> str:
    """`text` without a leading "for" (`for 30` → `30`)."""
    return re.sub(r"^for\s+", "", text, flags=re.IGNORECASE)


def read_extend(reading: Reading) -> Command:
    """`/extend` (30 minutes), `/extend 1h`, `/extend by 45 minutes`."""
    text = reading.tail
    amount = re.sub(r"^(?:by|for)\s+", "", text, flags=re.IGNORECASE) or "30m"
    by = parse_duration(amount)
    if by is None or by <= timedelta(0):
        raise CommandError(f"I couldn't read “{text}” as a length to add, like 30m or 1h.", "/extend 30m")
    return Extend(by=by)
