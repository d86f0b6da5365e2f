"""What every command shares: the `Command` base class, `When`, `Help` and `CommandError`.

Each command's own model lives with the reader that builds it (`bot.commands.presence`, `.status`,
`.preferences`, `.colleagues`); which words name it, and which handler runs it, is said once in its
declaration (`bot.turns.commands`).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict


class Command(BaseModel):
    """A command read from a chat message: frozen, validated, no I/O."""

    model_config = ConfigDict(frozen=True)


class When(Command):
    """When a state should end, resolved against the caller's `now` and time zone.

    `end` is always timezone-aware (UTC or the user's zone). `duration` is set when the user gave a
    length (`30m`), None when they gave a wall-clock end (`until 5pm`). `text` is how they said it.
    """

    end: AwareDatetime
    duration: timedelta | None = None
    text: str


class Help(Command):
    """`/help`, or anything the parser did not recognise (then `unknown` holds the word)."""

    unknown: str | None = None
    suggestion: str | None = None  # a command close to what was typed: "/busy 30m" for "/bsy 30m"


class CommandError(Exception):
    """A command the user typed that we refuse, with a message a person understands.

    `message` says what was wrong; `example` is a correct command to copy.
    """

    def __init__(self, message: str, example: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.example = example
