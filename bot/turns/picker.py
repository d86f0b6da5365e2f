"""What the status picker card's inputs mean: a state, for how long, and a status message with its own
"clear after". Checked like typed commands (`bot.commands.timeexpr`), with the same clear refusals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from bot.commands import CommandError, When
from bot.commands.status import check_status_length
from bot.commands.timeexpr import WhenError, parse_when, resolve_zone
from bot.core.states import State

WITH_STATE: Final = object()  # the message clears with the state


@dataclass(frozen=True)
class Picked:
    state: State
    when: When
    message: str | None
    message_when: When | object | None  # `WITH_STATE`, None (never), or its own end


def read_picker_form(form: dict[str, str], *, now: datetime, time_zone: str) -> Picked:
    """The picker's values, or a `CommandError` saying what to fix on the card."""
    zone = resolve_zone(time_zone)
    try:
        state = State(form.get("availability", "").strip())
    except ValueError:
        raise CommandError("Pick an availability on the card, then Apply.", "/set") from None
    length = form.get("duration", "").strip()
    if length == "custom":
        length = form.get("custom", "").strip()
        if not length:
            raise CommandError("“Custom” needs a length or an end, like 45m or until 5pm.", "/set")
    when = _when(length, now, zone, "how long")
    message = " ".join(form.get("message", "").split()) or None
    if message is not None:
        check_status_length(message, "/set")
    clear = form.get("clear", "same").strip() or "same"
    message_when: When | object | None = WITH_STATE
    if clear == "never":
        message_when = None
    elif clear != "same":
        message_when = _when(clear, now, zone, "when the message clears")
    return Picked(state=state, when=when, message=message, message_when=message_when)


def _when(text: str, now: datetime, zone: ZoneInfo, what: str) -> When:
    try:
        when = parse_when(text, now=now, zone=zone) if text else None
    except WhenError as error:
        raise CommandError(error.message, "/set") from None
    if when is None:
        raise CommandError(f"I couldn't read “{text}” as {what}: try 45m or until 5pm.", "/set")
    return when
