"""Chat text in, a `Command` out. Pure: no I/O, no clock reads."""

from bot.commands.model import (
    ClearSession,
    ClearStatusMessage,
    Command,
    CommandError,
    Help,
    Reset,
    SetState,
    SetStatusMessage,
    ShowPresence,
    When,
)

__all__ = [
    "ClearSession",
    "ClearStatusMessage",
    "Command",
    "CommandError",
    "Help",
    "Reset",
    "SetState",
    "SetStatusMessage",
    "ShowPresence",
    "When",
]
