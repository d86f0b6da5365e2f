"""The command text, bounded and cleaned before any parser sees it (the `clean_text` step).

The text is refused with a card when it is too long, holds a number longer than any command needs
(Python refuses to read an integer of more than 4,300 digits), or carries lone surrogates (a broken
emoji); control characters are dropped. The rest of the activity is bounded and cleaned at the HTTP
edge, before the pipeline (`bot.teams.body`), which leaves `COMMAND_FIELDS` to this step.
"""

from __future__ import annotations

import re

import cards
from bot.core.views import ErrorView
from bot.turns.model import Reply, Turn
from bot.turns.steps import Next

MAX_TEXT = 2_000  # characters: the longest command with a 280-character status message, with room
MAX_DIGITS = 100  # the longest run of digits a message may hold

# Lone surrogates (json.loads turns a valid "\ud83d\ude00" pair into one code point, so any code unit
# left in this range is half of a character) and control characters other than tab and line breaks.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LONG_NUMBER = re.compile(rf"\d{{{MAX_DIGITS + 1},}}")
# Top-level fields the pipeline reads as a command and answers with a card of its own.
COMMAND_FIELDS = frozenset({"text", "value"})


def clean(value: str) -> str:
    """`value` without control characters, lone surrogates shown as U+FFFD."""
    if _CONTROL.search(value):
        value = _CONTROL.sub("", value)
    if _SURROGATE.search(value):
        value = _SURROGATE.sub("\ufffd", value)
    return value


# -- the pipeline step ---------------------------------------------------------------------------
async def clean_text(turn: Turn, call_next: Next) -> Reply | None:
    """Refuse, with a card, a command text no parser should see; drop control characters."""
    text = turn.text
    if _SURROGATE.search(text):
        return _refused(
            "I can't read that message",
            "It contains broken characters (half of an emoji, or text that was cut in the middle of "
            "a character).",
        )
    if _LONG_NUMBER.search(text):
        return _refused(
            "I can't read that length",
            f"That message holds a number more than {MAX_DIGITS} digits long.",
            example="/busy 30m",
        )
    if len(text) > MAX_TEXT:
        return _refused(
            "That message is too long",
            f"It is {len(text):,} characters long; a command is at most {MAX_TEXT:,}.",
        )
    turn.text = _CONTROL.sub("", text)
    return await call_next(turn)


def _refused(title: str, message: str, *, example: str = "/status Out for lunch for 1h") -> Reply:
    return Reply.of(
        cards.error_card(
            ErrorView(
                title=title,
                message=message,
                hint="Nothing was changed. Send /help for every command.",
                example=example,
            )
        )
    )
