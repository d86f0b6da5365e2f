"""Inputs bounded and cleaned before any parser sees them.

At the HTTP edge (`read_json`, `clean_strings`): a body is JSON nested at most `MAX_DEPTH` deep (Python's
`json` module raises `RecursionError` long before a 1 MB body runs out, and msrest's readers recurse
too), and every string in it outside the message text is free of control characters and lone UTF-16
surrogates, which the store (PostgreSQL refuses NUL), Graph and the card serializer cannot carry.

In the pipeline (`clean_text`): the command text is refused with a card when it is too long, holds a
number longer than any command needs (Python refuses to read an integer of more than 4,300 digits), or
carries lone surrogates (a broken emoji); control characters are dropped.
"""

from __future__ import annotations

import gc
import json
import re
from typing import Any

import cards
from bot.core.views import ErrorView
from bot.turns.model import Reply, Turn
from bot.turns.steps import Next

MAX_DEPTH = 32  # a Teams activity nests about 6 deep, an Adaptive Card action's data a few more; msrest and
# the garbage collector recurse over what is kept, so deeper bodies stop here (found by the fuzzer at 60)
MAX_TEXT = 2_000  # characters: the longest command with a 280-character status message, with room
MAX_DIGITS = 100  # the longest run of digits a message may hold

# Lone surrogates (json.loads turns a valid "\ud83d\ude00" pair into one code point, so any code unit
# left in this range is half of a character) and control characters other than tab and line breaks.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LONG_NUMBER = re.compile(rf"\d{{{MAX_DIGITS + 1},}}")
# Top-level fields the pipeline reads as a command and answers with a card of its own.
_COMMAND_FIELDS = frozenset({"text", "value"})


class BodyError(ValueError):
    """Why a request body is not JSON the bot can read (for a 400)."""


def read_json(raw: bytes) -> Any:
    """The JSON in `raw`, nested at most `MAX_DEPTH` deep; `BodyError` otherwise.

    The garbage collector is held off while `json.loads` runs: on a hostile body (`[[[[…`) the parser
    recurses to Python's limit, and a collection starting down there would run finalizers (urllib3's
    connection pools have one) with no stack left, printing a RecursionError traceback (found by the
    fuzzer under load)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        body = json.loads(raw)
    except RecursionError:
        raise BodyError(f"the JSON is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except (ValueError, UnicodeDecodeError):
        raise BodyError("the body is not valid JSON") from None
    finally:
        if collecting:
            gc.enable()
    if depth_over(body, MAX_DEPTH):
        raise BodyError(f"the JSON is nested too deeply (at most {MAX_DEPTH} levels)")
    return body


def depth_over(value: object, limit: int) -> bool:
    """Whether `value` nests objects and arrays more than `limit` deep (without recursing)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def clean(value: str) -> str:
    """`value` without control characters, lone surrogates shown as U+FFFD."""
    if _CONTROL.search(value):
        value = _CONTROL.sub("", value)
    if _SURROGATE.search(value):
        value = _SURROGATE.sub("\ufffd", value)
    return value


def clean_strings(body: dict[str, Any]) -> dict[str, Any]:
    """Every string of an activity (keys too), cleaned in place, except its command fields (text,
    value), which `clean_text` answers for. Identifiers are checked before this (`check_body`)."""
    stack: list[Any] = []
    _clean_dict(body, stack, skip=_COMMAND_FIELDS)
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            _clean_dict(node, stack)
        else:
            for index, item in enumerate(node):
                if isinstance(item, str):
                    node[index] = clean(item)
                elif isinstance(item, dict | list):
                    stack.append(item)
    return body


def _clean_dict(node: dict[str, Any], stack: list[Any], skip: frozenset[str] = frozenset()) -> None:
    for key in [k for k in node if k not in skip]:
        item = node[key]
        if _CONTROL.search(key) or _SURROGATE.search(key):
            del node[key]
            key = clean(key)
            node[key] = item
        if isinstance(item, str):
            node[key] = clean(item)
        elif isinstance(item, dict | list):
            stack.append(item)


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
