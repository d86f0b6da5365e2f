"""A small local Bot Framework connector, as the Emulator and Teams run: the bot's replies arrive here.

Tests POST activities to the bot with `serviceUrl` pointing at this service, then read what the bot sent.
It can also answer as Teams does when it throttles (`throttle`: 429 with `Retry-After`) or when the bot
may no longer post in a conversation (`blocked`: 403 `ConversationBlockedByUser`), and it records when
every request arrived (`attempts`) to check the bot's pacing.

It answers the conversation's roster as Teams does, from what a test puts in `rosters[conversation_id]`
(`roster_member(...)` builds one member's TeamsChannelAccount JSON; for a team's channel, botbuilder asks
for the team's roster, by the team id):
- `GET /v3/conversations/{id}/members`: every member;
- `GET /v3/conversations/{id}/pagedmembers?pageSize=&continuationToken=`: a page, `{"members": [...],
  "continuationToken": "..."}`, the token left out on the last page. Teams' page size: 200 by default,
  at least 50 and at most 500 (a smaller or larger `pageSize` is brought within those); an unknown
  token answers 400. (Teams may answer a group chat's roster in one page; paging here is the same
  everywhere, which is what a bot reading pages must cope with anyway.)
- `GET /v3/conversations/{id}/members/{memberId}`: one member, by their "29:" id or Entra object id;
  404 `MemberNotFoundInConversation` for anyone else.
A conversation with no roster set answers 404 `ConversationNotFound`. `roster_fails[id] = status` makes
every roster request for that conversation fail (403 `BotNotInConversationRoster`, 500…), and
`roster_stalls` holds conversations whose roster requests go unanswered until `release()` (a hung
connector, for timeouts); `roster_garbled` ones get a 200 that is not JSON. Each roster request's path
and query are recorded in `roster_requests`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiohttp import web

from tests.support.builders import TENANT


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
    # conversation id → its members as Teams lists them (TeamsChannelAccount JSON, see `roster_member`)
    rosters: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # conversation id → the status every roster request for it gets, with Teams' error body
    roster_fails: dict[str, int] = field(default_factory=dict)
    # conversations whose roster requests hang until `release()`
    roster_stalls: set[str] = field(default_factory=set)
    # conversations whose roster requests are answered 200 with a page that is not JSON
    roster_garbled: set[str] = field(default_factory=set)
    roster_requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/conversations/{conversation_id}/activities", self._post)
        app.router.add_post("/v3/conversations/{conversation_id}/activities/{reply_to}", self._post)
        app.router.add_put("/v3/conversations/{conversation_id}/activities/{activity_id}", self._post)
        app.router.add_post("/v3/conversations", self._create)
        app.router.add_get("/v3/conversations/{conversation_id}/members", self._members)
        app.router.add_get("/v3/conversations/{conversation_id}/pagedmembers", self._paged_members)
        app.router.add_get("/v3/conversations/{conversation_id}/members/{member_id}", self._member)
        return app

    def release(self) -> None:
        """Answer the roster requests `roster_stalls` holds (they are answered as if not stalled)."""
        self._released.set()

    # -- the roster ----------------------------------------------------------------------------------
    async def _roster(self, request: web.Request) -> list[dict[str, Any]] | web.Response:
        """The conversation's roster, or the error Teams would answer instead."""
        conversation = request.match_info["conversation_id"]
        self.roster_requests.append((request.path, dict(request.query)))
        if conversation in self.roster_stalls:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), timeout=60)
        if conversation in self.roster_garbled:
            return web.Response(text="<html>Service unavailable</html>", content_type="text/html")
        status = self.roster_fails.get(conversation)
        if status is not None:
            code = "BotNotInConversationRoster" if status == 403 else "InternalServerError"
            return _teams_error(status, code, "The roster could not be read.")
        roster = self.rosters.get(conversation)
        if roster is None:
            return _teams_error(404, "ConversationNotFound", "Conversation not found.")
        return roster

    async def _members(self, request: web.Request) -> web.Response:
        roster = await self._roster(request)
        return roster if isinstance(roster, web.Response) else web.json_response(roster)

    async def _paged_members(self, request: web.Request) -> web.Response:
        roster = await self._roster(request)
        if isinstance(roster, web.Response):
            return roster
        try:
            size = min(max(int(request.query.get("pageSize", PAGE_DEFAULT)), PAGE_MIN), PAGE_MAX)
        except ValueError:
            return _teams_error(400, "BadArgument", "pageSize must be a number.")
        token = request.query.get("continuationToken")
        start = 0
        if token is not None:
            if not token.startswith(_TOKEN_PREFIX) or not token[len(_TOKEN_PREFIX) :].isdigit():
                return _teams_error(400, "BadArgument", "Invalid continuation token.")
            start = int(token[len(_TOKEN_PREFIX) :])
        page: dict[str, Any] = {"members": roster[start : start + size]}
        if start + size < len(roster):
            page["continuationToken"] = f"{_TOKEN_PREFIX}{start + size}"
        return web.json_response(page)

    async def _member(self, request: web.Request) -> web.Response:
        roster = await self._roster(request)
        if isinstance(roster, web.Response):
            return roster
        wanted = request.match_info["member_id"]
        for member in roster:
            if wanted in (member.get("id"), member.get("aadObjectId")):
                return web.json_response(member)
        return _teams_error(
            404, "MemberNotFoundInConversation", "The member is not part of the conversation."
        )

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


PAGE_DEFAULT, PAGE_MIN, PAGE_MAX = 200, 50, 500  # Teams' roster page sizes
_TOKEN_PREFIX = "page-after-"


def _teams_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def roster_member(
    name: str,
    aad_id: str | None,
    *,
    tenant_id: str = TENANT,
    upn: str | None = None,
    role: str = "user",
    member_id: str | None = None,
) -> dict[str, Any]:
    """One member as Teams' roster lists them (TeamsChannelAccount). Without `aad_id` (a bot, an
    anonymous guest) there is no aadObjectId; `upn` defaults to a name-based address."""
    given, _, surname = name.partition(" ")
    address = upn if upn is not None else f"{name.lower().replace(' ', '.')}@contoso.example"
    member: dict[str, Any] = {
        "id": member_id or f"29:1{(aad_id or name).replace('-', '').replace(' ', '')}",
        "name": name,
        "givenName": given,
        "surname": surname or None,
        "email": address,
        "userPrincipalName": address,
        "tenantId": tenant_id,
        "userRole": role,
    }
    if aad_id is not None:
        member["aadObjectId"] = aad_id
    return member


def busiest(times: Iterable[float], seconds: float) -> int:
    """The most of `times` that fall in any window [t, t + seconds)."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= seconds:
            start += 1
        most = max(most, end - start + 1)
    return most
