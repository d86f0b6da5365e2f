"""What a command's handler gets and gives: `Context` (the turn, the services, the registry) in, a card
out. `declare` collects a module's declarations (`bot.commands.registry.Declaration`) as bolt-python's
`@app.command` does: the words, the model, the reader, the help line and the menu place are said once,
on the handler they run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import cards
from bot.colleagues.service import ColleaguesService
from bot.commands.model import Command
from bot.commands.parser import Reader, Role
from bot.commands.registry import Declaration
from bot.core.users import UserRef
from bot.preferences import PreferencesService
from bot.presence.service import PresenceService
from bot.turns.model import Card, Turn

if TYPE_CHECKING:
    from bot.commands.registry import Registry


@dataclass(frozen=True)
class Services:
    """The services commands run on."""

    presence: PresenceService
    preferences: PreferencesService
    colleagues: ColleaguesService


@dataclass(frozen=True)
class Context:
    """One command's turn, as its handler sees it."""

    turn: Turn
    services: Services
    registry: Registry[Handler]

    @property
    def user(self) -> UserRef:
        return self.turn.user

    @property
    def shared_owner(self) -> cards.Owner | None:
        """In a group chat or channel, whose card this is (its buttons carry them); None in a 1:1 chat."""
        return None if self.turn.inbound.personal else owner(self.turn.user)


Handler = Callable[[Context, Any], Awaitable[Card]]
F = TypeVar("F", bound=Handler)


def owner(user: UserRef) -> cards.Owner:
    return cards.Owner(user.user_id, user.name or "Someone")


class Declarations:
    """A module's commands, in the order declared (the help card's order)."""

    def __init__(self) -> None:
        self._declared: list[Declaration[Handler]] = []

    def __iter__(self) -> Iterator[Declaration[Handler]]:
        return iter(self._declared)

    def __call__(
        self,
        name: str,
        model: type[Command],
        *,
        read: Reader | None = None,
        words: Mapping[str, tuple[str, ...]] | None = None,
        role: Role = Role.OTHER,
        usage: str | None = None,
        description: str = "",
        examples: tuple[str, ...] = (),
        menu: int | None = None,
        shortlist: int | None = None,
        welcome: int | None = None,
        colleagues: bool = False,
    ) -> Callable[[F], F]:
        """Declare the decorated handler's command."""

        def register(handler: F) -> F:
            # Stacked decorators run bottom-up: each goes before the ones already on this handler, so
            # the declarations read in the order written.
            place = len(self._declared)
            while place > 0 and self._declared[place - 1].handler is handler:
                place -= 1
            self._declared.insert(
                place,
                Declaration(
                    name=name,
                    model=model,
                    handler=handler,
                    read=read,
                    words=words or {},
                    role=role,
                    usage=usage,
                    description=description,
                    examples=examples,
                    menu=menu,
                    shortlist=shortlist,
                    welcome=welcome,
                    colleagues=colleagues,
                ),
            )
            return handler

        return register
