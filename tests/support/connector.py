"""A small local Bot Framework connector, as the Emulator and Teams run: the bot's replies arrive here.

Tests POST activities to the bot with `serviceUrl` pointing at this service, then read what the bot sent.
It can also answer as Teams does when it throttles (`throttle`: 429 with `Retry-After`) or when the bot
may no longer post in a conversation (`blocked`: 403 `ConversationBlockedByUser`), and it records when
every request arrived (`attempts`) to check the bot's pacing.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiohttp import web


class Attempt(NamedTuple):
    """One request to post in a conversation: where, when it arrived (monotonic seconds), the answer."""

    conversation_id: str
    at: float
    status: int


@dataclass
class Connector:
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    # conversation id → how many of its next requests get a 429 (with `Retry-After: retry_after`)
    throttle: dict[str, int] = field(default_factory=dict)
    retry_after: str = "1"
    # conversations whose every request gets 403 ConversationBlockedByUser
    blocked: set[str] = field(default_factory=set)
    # conversation id → statuses its next requests get, with a gateway's plain-text page (502, 504…)
    fail: dict[str, list[int]] = field(default_factory=dict)
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
        at = time.monotonic()
        conversation = request.match_info["conversation_id"]
        if conversation in self.blocked:
            self.attempts.append(Attempt(conversation, at, 403))
            error = {
                "code": "ConversationBlockedByUser",
                "message": "User blocked the conversation with the bot.",
            }
            return web.json_response({"error": error}, status=403)
        if self.throttle.get(conversation, 0) > 0:
            self.throttle[conversation] -= 1
            self.attempts.append(Attempt(conversation, at, 429))
            error = {"code": "TooManyRequests", "message": "Too many requests."}
            return web.json_response({"error": error}, status=429, headers={"Retry-After": self.retry_after})
        if self.fail.get(conversation):
            status = self.fail[conversation].pop(0)
            self.attempts.append(Attempt(conversation, at, status))
            return web.Response(status=status, text="<html>Bad gateway</html>", content_type="text/html")
        body = await request.json()
        body["_conversation_id"] = conversation
        body["_authorization"] = request.headers.get("Authorization")
        self.attempts.append(Attempt(conversation, at, 200))
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


def busiest(times: Iterable[float], seconds: float) -> int:
    """The most of `times` that fall in any window [t, t + seconds)."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= seconds:
            start += 1
        most = max(most, end - start + 1)
    return most
