"""With `PRESENCE_BOT_GRAPH=simulator` a real Teams client talks to a bot whose Graph is simulated: every
card it gets says so (`cards.mark_simulated`, applied once by the reply builder `bot.teams.replies`)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

import cards
from bot.core.states import Tone
from bot.core.views import ErrorView, HelpView, PresenceSnapshot, PresenceView, WelcomeView
from bot.teams import replies
from bot.turns import Reply
from bot.turns.commands import COMMANDS
from tests.support.cardschema import assert_valid_card
from tests.support.e2e import texts

NOW = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
PRESENCE = PresenceView(
    presence=PresenceSnapshot(
        availability="Busy", activity="InACall", label="In a call", tone=Tone.ATTENTION
    ),
    time_zone="UTC",
    now=NOW,
)
EVERY_KIND = {
    "presence": cards.presence_card(PRESENCE),
    "error": cards.error_card(ErrorView(title="Nope", message="That did not work.")),
    "help": cards.help_card(HelpView(commands=COMMANDS.docs())),
    "welcome": cards.welcome_card(WelcomeView(commands=COMMANDS.docs(), tries=COMMANDS.welcome())),
    "notice": cards.notice_card("Your hold ended", "Back to Available.", PRESENCE),
}


@pytest.mark.parametrize("kind", sorted(EVERY_KIND))
def test_a_marked_card_says_graph_is_simulated_and_stays_valid(kind: str) -> None:
    card = EVERY_KIND[kind]
    before = copy.deepcopy(card)
    marked = cards.mark_simulated(card)
    assert card == before, "the card itself is not changed"
    assert cards.SIMULATED_NOTE in texts(marked) and cards.SIMULATED_NOTE not in texts(card)
    assert marked["body"][-1]["text"] == cards.SIMULATED_NOTE, "a small note at the end"
    assert marked["body"][:-1] == card["body"] and marked.get("actions") == card.get("actions")
    assert marked["fallbackText"] == cards.SIMULATED_PREFIX + card["fallbackText"]
    assert_valid_card(marked)


def test_the_reply_builder_marks_only_when_told() -> None:
    reply = Reply.of(EVERY_KIND["presence"])
    plain = replies.message(reply)
    assert cards.SIMULATED_NOTE not in texts(plain.attachments[0].content)
    assert plain.summary == reply.text
    marked = replies.message(reply, simulated=True)
    assert cards.SIMULATED_NOTE in texts(marked.attachments[0].content)
    assert marked.summary == cards.SIMULATED_PREFIX + reply.text
    answer = replies.invoke_answer(reply, simulated=True)
    assert cards.SIMULATED_NOTE in texts(answer.body.value)
