"""What a chat message means: a pydantic `Command` (a discriminated union), or a `CommandError`."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bot.core.states import STATUS_MESSAGE_MAX, State


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True)


class When(_Command):
    """When a state should end, resolved against the caller's `now` and time zone.

    `end` is always timezone-aware (UTC or the user's zone). `duration` is set when the user gave a
    length (`30m`), None when they gave a wall-clock end (`until 5pm`). `text` is how they said it.
    """

    end: AwareDatetime
    duration: timedelta | None = None
    text: str


class SetState(_Command):
    """`/busy 30m`, `/dnd until 5pm`, `/available`…"""

    kind: Literal["set_state"] = "set_state"
    state: State
    when: When | None = None
    # A status message set with the state, ending with it (`/busy 2h Focus time`).
    message: Annotated[str, Field(min_length=1, max_length=STATUS_MESSAGE_MAX)] | None = None


class ClearSession(_Command):
    """`/clear`: end the bot's own presence session."""

    kind: Literal["clear"] = "clear"


class Reset(_Command):
    """`/reset`: end the bot's session and the preferred presence: back to automatic."""

    kind: Literal["reset"] = "reset"


class SetStatusMessage(_Command):
    """`/status Out for lunch for 1h`."""

    kind: Literal["status"] = "status"
    text: Annotated[str, Field(min_length=1, max_length=STATUS_MESSAGE_MAX)]
    when: When | None = None


class ClearStatusMessage(_Command):
    """`/status clear`."""

    kind: Literal["status_clear"] = "status_clear"


class ShowPresence(_Command):
    """`/presence`, `/whoami`, `/show`."""

    kind: Literal["show"] = "show"


class SetTimeZone(_Command):
    """`/timezone Europe/Berlin` (an IANA name), or `/timezone auto` (`zone=None`: follow Teams)."""

    kind: Literal["timezone"] = "timezone"
    zone: str | None


class SetNotices(_Command):
    """`/notify on|off`: whether the bot may message the user when a hold ends, is overridden or fails."""

    kind: Literal["notify"] = "notify"
    enabled: bool


class Extend(_Command):
    """`/extend 30m`: the state the bot holds lasts this much longer."""

    kind: Literal["extend"] = "extend"
    by: timedelta


class OpenPicker(_Command):
    """`/set`, `/status` alone: the status picker card, like Teams' own."""

    kind: Literal["picker"] = "picker"


class ApplyPicker(_Command):
    """The picker card's Apply: what was picked comes with the card's inputs (`Inbound.form`)."""

    kind: Literal["picker_apply"] = "picker_apply"


class Who(_Command):
    """`/who @Megan @Adele`, `/presence @Megan`, "is @Megan free?"; `/who` alone in a group chat or
    channel: its members. The people are the message's mentions (`Inbound.mentions`), named here as
    written (`names`) for answers that speak of them."""

    kind: Literal["who"] = "who"
    names: tuple[str, ...] = ()
    free_only: bool = False  # "who is free?": of the chat's members, only those free now


class Watch(_Command):
    """`/watch @Megan [back] [until …]`, "tell me when @Megan is free": one notice when it happens."""

    kind: Literal["watch"] = "watch"
    names: tuple[str, ...] = ()
    back: bool = False  # no longer away, offline or out of office (else: Available)
    when: When | None = None  # default: the end of the watcher's working day, at most 24 hours


class Unwatch(_Command):
    """`/unwatch @Megan`, `/unwatch all`."""

    kind: Literal["unwatch"] = "unwatch"
    names: tuple[str, ...] = ()
    everyone: bool = False
    watch_id: int | None = None  # `/unwatch #12`: the watch a card's "Stop" button names


class ListWatches(_Command):
    """`/watches`: the watches the user has running."""

    kind: Literal["watches"] = "watches"


class Help(_Command):
    """`/help`, or anything the parser did not recognise (then `unknown` holds the word)."""

    kind: Literal["help"] = "help"
    unknown: str | None = None
    suggestion: str | None = None  # a command close to what was typed: "/busy 30m" for "/bsy 30m"


Command = Annotated[
    SetState
    | ClearSession
    | Reset
    | SetStatusMessage
    | ClearStatusMessage
    | ShowPresence
    | SetTimeZone
    | SetNotices
    | Extend
    | OpenPicker
    | ApplyPicker
    | Who
    | Watch
    | Unwatch
    | ListWatches
    | Help,
    Field(discriminator="kind"),
]


class CommandError(Exception):
    """A command the user typed that we refuse, with a message a person understands.

    `message` says what was wrong; `example` is a correct command to copy.
    """

    def __init__(self, message: str, example: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.example = example
