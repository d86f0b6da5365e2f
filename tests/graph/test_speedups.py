"""`bot.graph.speedups`: httpcore's "has the server closed this idle connection?" answers as before."""

from __future__ import annotations

import asyncio
import itertools
import random
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from httpcore import AsyncConnectionPool
from httpcore._backends.anyio import AnyIOBackend

from bot.graph import speedups

# The fixes replace httpcore 1.0.9's own code and apply to it alone: on another release there is
# nothing of ours to compare (and the bot runs httpcore's code as it is).
pytestmark = pytest.mark.skipif(not speedups.FIXED, reason="the fixes are for httpcore 1.0.9 only")


async def test_an_idle_connection_is_readable_once_the_server_closed_it() -> None:
    speedups.apply()
    speedups.apply()  # idempotent
    closed = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await closed.wait()
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        stream = await AnyIOBackend().connect_tcp("127.0.0.1", port)
        assert stream.get_extra_info("is_readable") is False  # open and quiet: reusable
        assert stream.get_extra_info("is_readable") is False  # asked again: the socket looked up once
        assert stream.get_extra_info("socket") is not None  # other questions: httpcore's answers
        closed.set()
        for _ in range(100):
            if stream.get_extra_info("is_readable"):
                break
            await asyncio.sleep(0.01)
        assert stream.get_extra_info("is_readable") is True  # the server's FIN: not reused
        await stream.aclose()
        assert stream.get_extra_info("is_readable") is True  # closed: never reused
    finally:
        server.close()
        await server.wait_closed()


# -- the pool's assignment: the same decisions as httpcore's own, for pools in every state -----------
@dataclass(eq=False)
class _Connection:
    origin: str
    closed: bool = False
    expired: bool = False
    idle: bool = False
    available: bool = False

    def is_closed(self) -> bool:
        return self.closed

    def has_expired(self) -> bool:
        return self.expired

    def is_idle(self) -> bool:
        return self.idle

    def is_available(self) -> bool:
        return self.available

    def can_handle_request(self, origin: str) -> bool:
        return origin == self.origin


@dataclass(eq=False)
class _Request:
    origin: str
    queued: bool
    assigned: _Connection | None = None

    @property
    def request(self) -> SimpleNamespace:
        return SimpleNamespace(url=SimpleNamespace(origin=self.origin))

    def is_queued(self) -> bool:
        return self.queued

    def assign_to_connection(self, connection: _Connection) -> None:
        self.assigned = connection
        self.queued = False


def _pool(seed: int) -> tuple[AsyncConnectionPool, list[_Connection], list[_Request]]:
    rng = random.Random(seed)
    origins = ["a", "b", "c"][: rng.randint(1, 3)]
    pool: Any = AsyncConnectionPool(
        max_connections=rng.randint(1, 12), max_keepalive_connections=rng.randint(0, 10)
    )
    connections = [
        _Connection(
            rng.choice(origins),
            closed=rng.random() < 0.1,
            expired=rng.random() < 0.1,
            idle=(idle := rng.random() < 0.5),
            available=idle or rng.random() < 0.2,
        )
        for _ in range(rng.randint(0, 14))
    ]
    requests = [_Request(rng.choice(origins), rng.random() < 0.7) for _ in range(rng.randint(0, 8))]
    pool._connections = list(connections)
    pool._requests = list(requests)
    created = itertools.count()
    pool.create_connection = lambda origin: _Connection(f"{origin}#{next(created)}")
    return pool, connections, requests


def _outcome(
    pool: AsyncConnectionPool, closing: list[Any], connections: list[_Connection], requests: list[_Request]
) -> Any:
    def name(connection: Any) -> str:
        return connection.origin if connection not in connections else f"#{connections.index(connection)}"

    return (
        [name(c) for c in closing],
        [name(c) for c in pool._connections],
        [(r.queued, name(r.assigned) if r.assigned else None) for r in requests],
    )


@pytest.mark.parametrize("seed", range(300))
def test_the_pool_assigns_and_closes_as_httpcore_does(seed: int) -> None:
    ours, connections, requests = _pool(seed)
    expected_pool, expected_connections, expected_requests = _pool(seed)
    theirs = speedups._ASSIGN(expected_pool)
    mine = speedups._assign_requests_to_connections(ours)
    assert _outcome(ours, mine, connections, requests) == _outcome(
        expected_pool, theirs, expected_connections, expected_requests
    )
