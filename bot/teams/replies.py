"""The one reply builder: a `Reply` as a message activity (replies, proactive notices) or as the
answer to a Universal Action invoke. With `simulated` (Graph is the embedded simulator while Teams is
real: `PRESENCE_BOT_GRAPH=simulator`), every card says so."""

from __future__ import annotations

from botbuilder.core import InvokeResponse
from botbuilder.schema import Activity, ActivityTypes, AdaptiveCardInvokeResponse, Attachment

import cards
from bot.turns.model import Reply


def _marked(reply: Reply, simulated: bool) -> Reply:
    if not simulated:
        return reply
    return Reply(cards.mark_simulated(reply.card), cards.SIMULATED_PREFIX + reply.text)


def message(reply: Reply, *, simulated: bool = False) -> Activity:
    reply = _marked(reply, simulated)
    # The text fallback goes in `summary` (shown where cards can't render, and in notifications), not
    # in `text`: Teams would show `text` above the card, and a button press updates only the card.
    return Activity(
        type=ActivityTypes.message,
        summary=reply.text,
        attachments=[Attachment(content_type=cards.CONTENT_TYPE, content=reply.card)],
    )


def invoke_answer(reply: Reply, *, simulated: bool = False) -> InvokeResponse:
    reply = _marked(reply, simulated)
    # botbuilder 4.17.1 + CloudAdapter serializes on_adaptive_card_invoke's answer twice (HTTP 500),
    # so the handler answers with the msrest model itself.
    body = AdaptiveCardInvokeResponse(status_code=200, type=cards.CONTENT_TYPE, value=reply.card)
    return InvokeResponse(status=200, body=body)
