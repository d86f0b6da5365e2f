"""`bot.graph.speedups`: httpcore's "has the server closed this idle connection?" answers as before."""

from __future__ import annotations

import asyncio

from httpcore._backends.anyio import AnyIOBackend

from bot.graph import speedups


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
