"""A small local Bot Framework connector, as the Emulator and Teams run: the bot's replies arrive here.

Tests POST activities to the bot with `serviceUrl` pointing at this service, then read what the bot sent.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Connector:
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/conversations/{conversation_id}/activities", self._post)
        app.router.add_post("/v3/conversations/{conversation_id}/activities/{reply_to}", self._post)
        app.router.add_put("/v3/conversations/{conversation_id}/activities/{activity_id}", self._post)
        app.router.add_post("/v3/conversations", self._create)
        return app

    async def _post(self, request: web.Request) -> web.Response:
        body = await request.json()
        body["_conversation_id"] = request.match_info["conversation_id"]
        body["_authorization"] = request.headers.get("Authorization")
        async with self._arrived:
            self.received.append(body)
            self._arrived.notify_all()
        return web.json_response({"id": f"reply-{next(self._ids)}"})

    async def _create(self, request: web.Request) -> web.Response:
        return web.json_response({"id": f"conv-{uuid.uuid4()}", "activityId": str(next(self._ids))})

    async def wait_for(self, count: int) -> list[dict[str, Any]]:
        """Wait (10 s at most) until at least `count` activities arrived; return them all."""
        async with asyncio.timeout(10), self._arrived:
            await self._arrived.wait_for(lambda: len(self.received) >= count)
            return list(self.received)
