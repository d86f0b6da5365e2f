"""Chat text in, a `Command` out. Pure: no I/O, no clock reads."""

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
from bot.commands.parser import parse

__all__ = [
    "ApplyPicker",
    "ClearSession",
    "ClearStatusMessage",
    "Command",
    "CommandError",
    "Extend",
    "Help",
    "OpenPicker",
    "Reset",
    "SetNotices",
    "SetState",
    "SetStatusMessage",
    "SetTimeZone",
    "ShowPresence",
    "When",
    "parse",
]
