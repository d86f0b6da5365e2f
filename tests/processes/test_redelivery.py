"""Exactly once, in effect: commands cut short by SIGKILL are carried out when the channel delivers
them again, and commands already carried out are not carried out twice.

The real `presence-bot serve` process gets a burst of `/busy 6h` from many users and is killed with
SIGKILL while it works through them. A new process starts on the same data (the SQLite file in its data
directory, or one PostgreSQL schema), and the channel delivers again, with the same ids, every activity
whose HTTP answer it never got, as Teams does. Then every user holds In a call until 6 hours on, and the
hold is refreshed past Graph's 4-hour cap.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.builders import activity
from tests.support.connector import Connector
from tests.support.dbs import postgres_schema
from tests.support.e2e import advance, card_of, presence_is, say, texts
from tests.support.procs import BotProcess, running
from tests.support.waiting import eventually

USERS = 24


def _aad(number: int) -> str:
    return f"00000000-0000-0000-0000-{number + 500:012d}"


def _busy(number: int, connector: Connector) -> dict[str, Any]:
    return activity(
        "/busy 6h",
        service_url=connector.url,
        aad=_aad(number),
        user_id=f"29:user-{number}",
        conversation_id=f"a:conversation-{number}",
    )


@asynccontextmanager
async def _database(kind: str) -> AsyncIterator[dict[str, str]]:
    if kind == "sqlite":
        yield {}
        return
    async with postgres_schema() as (url, _admin):
        yield {"DATABASE_URL": url}


async def _post(http: httpx.AsyncClient, bot: BotProcess, body: dict[str, Any]) -> int | None:
    """The HTTP status the channel got, or None when the answer never came (the bot died)."""
    try:
        response = await http.post(f"{bot.url}/api/messages", json=body, timeout=30)
    except httpx.HTTPError:
        return None
    return response.status_code


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_commands_cut_short_by_sigkill_are_carried_out_once_when_redelivered(
    tmp_path: Path, http: httpx.AsyncClient, connector: Connector, database: str
) -> None:
    async with _database(database) as env:
        bot = BotProcess(tmp_path / "data", env=env)
        async with running(bot):
            # Half the Graph calls stall for 3 s: those commands are under way when the kill comes.
            fault = {"match": "", "delay_ms": 3000, "count": USERS // 2}
            assert (await http.post(f"{bot.url}/sim/_sim/faults", json=fault)).status_code == 201
            burst = [_busy(number, connector) for number in range(USERS)]
            sent = [asyncio.create_task(_post(http, bot, body)) for body in burst]
            # Kill it while it works through the burst: some commands done, some under way, some not begun.
            await eventually(
                lambda: asyncio.sleep(0, result=len(connector.received) >= USERS // 3),
                seconds=60,
                what="a third of the replies",
            )
            await bot.kill()
            statuses = await asyncio.gather(*sent)
            unconfirmed = [body for body, status in zip(burst, statuses, strict=True) if status is None]
            assert all(status in (None, 200, 201) for status in statuses), statuses
            assert unconfirmed, "the kill came after every answer: nothing was cut short"

            await bot.start()
            # The channel delivers again, same ids, what it got no answer for; and one it did (a duplicate).
            confirmed = [body for body, status in zip(burst, statuses, strict=True) if status is not None]
            again = await asyncio.gather(*(_post(http, bot, body) for body in unconfirmed + confirmed[:1]))
            assert all(status in (200, 201) for status in again), again

            for number in range(USERS):
                shown = texts(
                    card_of(
                        await say(
                            http,
                            bot,
                            connector,
                            "/presence",
                            aad=_aad(number),
                            user_id=f"29:user-{number}",
                            conversation_id=f"a:conversation-{number}",
                        )
                    )
                )
                assert "keeping you In a call" in shown, (number, shown)
                assert await presence_is(http, bot, "Busy", "InACall", user=_aad(number)), number

            # Each hold is the one asked for: refreshed past Graph's 4-hour cap, to the end of the 6 hours.
            await advance(http, bot, minutes=4 * 60 + 5)
            for number in range(USERS):
                await eventually(
                    lambda number=number: presence_is(http, bot, "Busy", "InACall", user=_aad(number)),  # type: ignore[misc]
                    what=f"user {number} still In a call after 4 h 5 min",
                )
            answered = USERS - len(unconfirmed)
            print(
                f"\n[redelivery/{database}] {USERS} /busy 6h, killed after {answered} answers; "
                f"{len(unconfirmed)} redelivered (+1 duplicate of a confirmed one); "
                "every user held In a call and refreshed past 4 h"
            )
