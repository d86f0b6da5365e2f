"""Waiting for something to happen, instead of sleeping and hoping it has."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], Awaitable[bool]], *, seconds: float = 10.0, what: str = "the condition"
) -> None:
    """Wait until `check()` holds (state another task or process owns, e.g. timers firing after a clock
    jump); fail naming `what` if it does not within `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            while not await check():  # noqa: ASYNC110 - polling state another task or process owns
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"{what} did not happen within {seconds} s") from None
