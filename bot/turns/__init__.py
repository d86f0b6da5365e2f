"""The per-activity pipeline, free of any transport: `Inbound` in, `Reply` (or nothing) out.

`bot.teams` turns a botbuilder activity into an `Inbound` and a `Reply` into a message or an invoke
answer; everything between (tenant check, redelivery guard, bookkeeping, time zone, dispatch) is here.
"""

from bot.turns.dispatch import Dispatcher
from bot.turns.model import Inbound, Reply, Turn, TurnKind
from bot.turns.steps import (
    CheckTenant,
    KeepCardOwner,
    MarkDone,
    Pipeline,
    RecordTurn,
    ResolveTimeZone,
    require_sender,
    skip_redelivered,
)

__all__ = [
    "CheckTenant",
    "Dispatcher",
    "Inbound",
    "KeepCardOwner",
    "MarkDone",
    "Pipeline",
    "RecordTurn",
    "Reply",
    "ResolveTimeZone",
    "Turn",
    "TurnKind",
    "require_sender",
    "skip_redelivered",
]
