"""Chat text in, a `Command` out. Pure: no I/O, no clock reads.

`model` holds what every command shares, `parser` the phrasing every command shares, `registry` the
declaration of a command; each area's models and readers are in `presence`, `status`, `preferences` and
`colleagues`. The declarations themselves, with their handlers, are in `bot.turns.commands`.
"""

from bot.commands.model import Command, CommandError, When

__all__ = ["Command", "CommandError", "When"]
