"""The `clean_text` step: a command text no parser should see is refused with a card."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.turns import Inbound, Reply, Turn, TurnKind
from bot.turns.inputs import clean_text


def _turn(text: str) -> Turn:
    inbound = Inbound(
        kind=TurnKind.MESSAGE,
        text=text,
        sender=None,
        tenant_id=None,
        activity_key=None,
        conversation=None,
        teams_zone=None,
        personal=True,
        viewer_id=None,
    )
    return Turn(inbound=inbound, now=datetime(2026, 5, 1, tzinfo=UTC), text=text)


async def _passed(turn: Turn) -> Reply | None:
    return Reply({"passed": turn.text}, turn.text)


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("/busy " + "9" * 100_000, "I can't read that length"),
        ("/status " + "x" * 2001, "That message is too long"),
        ("/status lunch \ud83d", "I can't read that message"),
    ],
)
async def test_clean_text_refuses_with_a_card(text: str, title: str) -> None:
    reply = await clean_text(_turn(text), _passed)
    assert reply is not None and "passed" not in reply.card
    assert title in reply.text


@pytest.mark.parametrize(
    ("text", "passed"),
    [
        ("/busy 30m", "/busy 30m"),
        ("/status Out\x00 for\x1b lunch\r\n😀", "/status Out for lunch\r\n😀"),
        ("/status call 0049 30 1234567890123456789", "/status call 0049 30 1234567890123456789"),
        ("x" * 2000, "x" * 2000),
    ],
)
async def test_clean_text_passes_commands_on(text: str, passed: str) -> None:
    reply = await clean_text(_turn(text), _passed)
    assert reply is not None and reply.card == {"passed": passed}
