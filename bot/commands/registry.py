"""Every command declared once: its words, its model, its reader, its handler, its help line and its
place in Teams' command menu, in one `Declaration`.

The parser's grammar, the dispatcher's handler lookup, the help and welcome cards and the Teams
manifest's `commandLists` all read the `Registry` built from the declarations, so none of them lists a
command of its own. The declarations themselves live beside their handlers (`bot.turns.commands`); this
module is the pure part (no handler is called here, so `H`, the handler's type, is left to the caller).

Words are kept per language (`{"en": (...)}`): a language adds words to the declarations, not code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

from bot.commands.model import Command, Help
from bot.commands.parser import Entry, Grammar, Reader, Role, parse
from bot.core.views import CommandDoc

H = TypeVar("H")

MENU_MAX = 10  # the compose box shows 10 commands per scope


@dataclass(frozen=True)
class Declaration(Generic[H]):
    """One command. `words` start it (per language); `read` turns what follows into `model` (None for a
    model only another command's reader builds, such as the picker's Apply); `handler` runs it.

    `usage`, `description` and `examples` are its help line (no `usage`: not listed in help); `menu` is
    its place in Teams' command menu (1 first; None: not offered there); `shortlist` its place on the
    short help card a message the bot did not understand gets, `welcome` among the examples the welcome
    card offers to try; `colleagues` marks the commands an admin
    can turn off (`PRESENCE_BOT_COLLEAGUES=off`).
    """

    name: str
    model: type[Command]
    handler: H
    read: Reader | None = None
    words: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    role: Role = Role.OTHER
    usage: str | None = None
    description: str = ""
    examples: tuple[str, ...] = ()
    menu: int | None = None
    shortlist: int | None = None
    welcome: int | None = None
    colleagues: bool = False

    @property
    def doc(self) -> CommandDoc | None:
        if self.usage is None:
            return None
        return CommandDoc(
            name=self.name, usage=self.usage, description=self.description, examples=self.examples
        )


class Registry(Generic[H]):
    """The declarations, checked once when built: every phrase names one command, every model has one
    handler, the menu fits Teams' limit. Raises `ValueError` naming what is wrong."""

    def __init__(self, declarations: Iterable[Declaration[H]]) -> None:
        self.declarations: tuple[Declaration[H], ...] = tuple(declarations)
        names = [d.name for d in self.declarations]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"commands declared twice: {twice}")
        self._handlers: dict[type[Command], H] = {}
        for declaration in self.declarations:
            known = self._handlers.setdefault(declaration.model, declaration.handler)
            if known is not declaration.handler:
                raise ValueError(f"{declaration.model.__name__} has two handlers (see /{declaration.name})")
            if declaration.words and declaration.read is None:
                raise ValueError(f"/{declaration.name} has words but no reader")
        if Help not in self._handlers:
            raise ValueError("no command handles Help (what the bot did not understand)")
        self.grammar = Grammar(
            # a command that help lists or a state, never a phrasing whose words alone mean nothing
            (phrase, Entry(d.name, d.read, d.role, d.doc is not None or d.role is not Role.OTHER))
            for d in self.declarations
            if d.read is not None
            for phrases in d.words.values()
            for phrase in phrases
        )
        menu = [d for d in self.declarations if d.menu is not None]
        if len(menu) > MENU_MAX:
            raise ValueError(f"Teams' command menu shows {MENU_MAX} commands; {len(menu)} ask for a place")
        if len({d.menu for d in menu}) != len(menu) or any(d.doc is None for d in menu):
            raise ValueError("every command in the menu needs a place of its own and a help line")

    def parse(
        self, text: str, *, now: datetime, tz: ZoneInfo | str | None, bot_names: Sequence[str] = ()
    ) -> Command:
        """Read one chat message with every declared command's words (see `bot.commands.parser.parse`)."""
        return parse(text, self.grammar, now=now, tz=tz, bot_names=bot_names)

    def handler_for(self, command: Command) -> H:
        """The handler of `command`'s model (a `KeyError` for a model no command declares)."""
        return self._handlers[type(command)]

    def docs(self, *, colleagues: bool = True) -> tuple[CommandDoc, ...]:
        """Every help line in declaration order; without the colleagues' commands when turned off."""
        return tuple(
            d.doc for d in self.declarations if d.doc is not None and (colleagues or not d.colleagues)
        )

    def shortlist(self) -> tuple[CommandDoc, ...]:
        """The short help card's commands, in their order."""
        return self._ordered([(d.shortlist, d) for d in self.declarations])

    def welcome(self) -> tuple[CommandDoc, ...]:
        """The commands the welcome card offers to try, in their order."""
        return self._ordered([(d.welcome, d) for d in self.declarations])

    def menu(self) -> tuple[CommandDoc, ...]:
        """Teams' command menu, most useful first."""
        return self._ordered([(d.menu, d) for d in self.declarations])

    @staticmethod
    def _ordered(places: Sequence[tuple[int | None, Declaration[H]]]) -> tuple[CommandDoc, ...]:
        placed = [(place, d.doc) for place, d in places if place is not None and d.doc is not None]
        return tuple(doc for _, doc in sorted(placed, key=lambda item: item[0]))
