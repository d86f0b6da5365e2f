"""What the pipeline knows about one incoming activity, and what it answers: no botbuilder types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.core.colleagues import Directory, Mention
from bot.core.users import UserRef
from bot.store.effects import TurnUnit
from bot.store.records import SavedConversation, UserSettings
from cards import text_fallback

Card = dict[str, Any]


class TurnKind(StrEnum):
    MESSAGE = "message"  # a chat message (or an Action.Submit): answered with a new message
    ACTION = "action"  # a Universal Action (Action.Execute): answered in the invoke response


@dataclass(frozen=True)
class Inbound:
    """The facts of an activity the pipeline acts on, read once by the transport (`bot.teams.context`)."""

    kind: TurnKind
    text: str
    sender: UserRef | None
    tenant_id: str | None
    activity_key: str | None  # identifies the activity for the redelivery guard; None: not guarded
    conversation: SavedConversation | None  # how to reach the sender here later (proactive notices)
    teams_zone: str | None  # the IANA zone the Teams client reported, if valid
    personal: bool  # a 1:1 chat (cards may ask for per-user refresh there)
    viewer_id: str | None  # the sender's channel id (29:…), which Teams' `refresh.userIds` wants
    bot_names: tuple[str, ...] = ()
    tenant_ids: tuple[str, ...] = ()  # every tenant the activity names (conversation, channel data)
    card_owner: UserRef | None = None  # whose card a button was pressed on (shared chats), if it says
    card_kind: str | None = None  # which kind of card that was (None: a presence card)
    form: dict[str, str] = field(default_factory=dict)  # a card's input values sent with a button
    mentions: tuple[Mention, ...] = ()  # people mentioned in the message, the bot left out, in order
    directory: Directory | None = None  # the conversation's members (Teams' roster), read on demand


@dataclass
class Turn:
    """One activity on its way through the pipeline; steps fill in what they learn.

    `unit` is the turn's unit of work, handed to the services as an argument (`unit=turn.unit`): the
    conversation the activity came from, and (once `MarkDone` sets it) the activity key that the first
    outcome stored marks processed."""

    inbound: Inbound
    now: datetime
    text: str
    settings: UserSettings | None = None
    time_zone: str = "UTC"
    redelivered: bool = False
    unit: TurnUnit = field(init=False)

    def __post_init__(self) -> None:
        where = self.inbound.conversation
        self.unit = TurnUnit(conversation_id=where.conversation_id if where is not None else None)

    @property
    def user(self) -> UserRef:
        """The sender: the pipeline's first step refuses a turn without one."""
        assert self.inbound.sender is not None
        return self.inbound.sender


@dataclass(frozen=True)
class Reply:
    """A card and its plain-text fallback (shown where cards can't render, and in notifications)."""

    card: Card
    text: str
    also: tuple[Reply, ...] = ()  # messages to send before this answer (the presser's own result)

    @classmethod
    def of(cls, card: Card) -> Reply:
        return cls(card, text_fallback(card))
