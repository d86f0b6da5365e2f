"""The Teams roster as the `Directory` port (bot.core.colleagues): who is in the conversation a message
came from, read on demand through botbuilder's `TeamsInfo` for one turn.

- `members(limit)` reads Teams' paged roster (for a team's channel, the team's) page by page, at most
  500 members a page as Teams allows, until it has `limit` people or the roster ends. `more` says
  whether anyone is left past them; `total` is how many people the conversation has, known only when
  the roster was read to its end.
- People only: bots ("28:" ids, and this bot itself) and members with no Entra object id (an anonymous
  guest) are left out, since Graph has no presence for them.
- Each call to Teams is bounded by `timeout` (botbuilder's connector client retries a 5xx or a 429
  itself, within it); anything that goes wrong (an HTTP error, no answer in time, an answer that cannot
  be read, no Teams data on the activity) is a `RosterError` with a one-line reason.
- `member(channel_id)` is None when Teams says there is no such member (404) or they are not a person.
  In a team's channel it asks the team's roster by the team's id, as botbuilder for .NET and JavaScript
  do (4.17.1's Python `TeamsInfo.get_member` asks by the channel's conversation id instead).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from botbuilder.core import BotAdapter, TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import ChannelAccount
from botbuilder.schema.teams import TeamsChannelAccount
from msrest.exceptions import ClientRequestError, HttpOperationError
from urllib3.exceptions import ResponseError

from bot.core.colleagues import Colleague, RosterError, RosterPage
from bot.teams.context import tenant_of

log = logging.getLogger(__name__)

PAGE_MAX = 500  # Teams' largest roster page
ROSTER_TIMEOUT = 10.0  # seconds one roster call to Teams may take
BOT_PREFIX = "28:"  # a bot's id in Teams; people are "29:…"

T = TypeVar("T")


class _NotFound(Exception):
    """Teams answered 404."""


class TeamsDirectory:
    """The roster of the conversation `turn_context` is about, read through Teams' connector."""

    def __init__(self, turn_context: TurnContext, *, timeout: float = ROSTER_TIMEOUT) -> None:
        self._turn = turn_context
        self._timeout = timeout
        activity = turn_context.activity
        self._bot_id = activity.recipient.id if activity.recipient is not None else None
        self._tenant_id = tenant_of(activity)  # Teams' `tenantId`, which botbuilder's model does not map

    async def member(self, channel_id: str) -> Colleague | None:
        """The person with this "29:…" id in the conversation, or None when Teams knows no such member."""
        try:
            account = await self._ask(self._get_member(channel_id), "a member")
        except _NotFound:
            return None
        return self._colleague(account)

    async def members(self, limit: int) -> RosterPage:
        """Up to `limit` people, in roster order; raises `RosterError` when the roster cannot be read."""
        limit = max(limit, 0)
        page_size = min(limit + 1, PAGE_MAX)  # one more than wanted says whether there are more
        found: list[Colleague] = []
        token: str | None = None
        tokens: set[str] = set()
        while True:
            try:
                page = await self._ask(
                    TeamsInfo.get_paged_members(self._turn, token, page_size), "the roster"
                )
            except _NotFound as missing:
                raise RosterError("Teams knows no roster for this conversation (404).") from missing
            for account in page.members or []:
                colleague = self._colleague(account)
                if colleague is not None:
                    found.append(colleague)
            token = page.continuation_token or None
            if token is None or len(found) > limit:
                break
            if token in tokens:
                raise RosterError("Teams sent the same roster page twice.")
            tokens.add(token)
        return RosterPage(
            members=tuple(found[:limit]),
            total=len(found) if token is None else None,
            more=len(found) > limit or token is not None,
        )

    # -- internals ---------------------------------------------------------------------------------
    async def _get_member(self, member_id: str) -> TeamsChannelAccount:
        """`TeamsInfo.get_member`, asking a team's roster by the team's id (see the module docstring)."""
        team_id = TeamsInfo.get_team_id(self._turn)
        if not team_id:
            return await TeamsInfo.get_member(self._turn, member_id)
        client = self._turn.turn_state.get(BotAdapter.BOT_CONNECTOR_CLIENT_KEY)
        if client is None:
            raise ValueError("This turn has no connector client.")
        member = await client.conversations.get_conversation_member(team_id, member_id)
        return TeamsChannelAccount().deserialize(dict(member.serialize(), **member.additional_properties))

    def _colleague(self, account: ChannelAccount | None) -> Colleague | None:
        """A roster entry as a colleague; None for a bot or someone Graph cannot know (no Entra id)."""
        if account is None or not account.id or not account.aad_object_id:
            return None
        if account.id.startswith(BOT_PREFIX) or account.id == self._bot_id:
            return None
        upn = getattr(account, "user_principal_name", None) or getattr(account, "email", None)
        return Colleague(
            aad_id=account.aad_object_id,
            name=account.name or "",
            tenant_id=getattr(account, "tenant_id", None) or self._tenant_id,
            upn=upn or None,
            channel_id=account.id,
        )

    async def _ask(self, call: Awaitable[T], what: str) -> T:
        """`call`'s answer within the timeout; its failure as `RosterError` (404 as `_NotFound`)."""
        try:
            return await asyncio.wait_for(call, self._timeout)
        except HttpOperationError as error:
            status = _status(error)
            if status == 404:
                raise _NotFound from error
            reason = f"Teams answered {status or 'an error'}{_code(error)} when asked for {what}."
        except TimeoutError:
            reason = f"Teams did not answer within {self._timeout:g} s when asked for {what}."
        except ClientRequestError as error:
            failing = _retries_spent(error)
            reason = (
                f"Teams kept failing when asked for {what} ({failing})."
                if failing
                else f"Teams could not be reached when asked for {what}."
            )
        except ValueError as error:  # msrest's DeserializationError included
            reason = f"Teams' answer for {what} could not be read ({type(error).__name__})."
        except Exception as error:  # botbuilder refusing the turn (no connector, no Teams data)
            reason = f"Could not ask Teams for {what} ({type(error).__name__})."
        log.warning("roster: %s", reason)
        raise RosterError(reason)


def _status(error: HttpOperationError) -> int | None:
    status = getattr(error.response, "status_code", None)
    return status if isinstance(status, int) else None


def _retries_spent(error: ClientRequestError) -> str | None:
    """What Teams kept answering when msrest's own retries (botbuilder's connector client retries 5xx
    and 429) ran out, e.g. "too many 500 error responses"; None for a connection that failed."""
    inner = getattr(error, "inner_exception", None)
    cause = inner.args[0] if inner is not None and inner.args else None
    reason = getattr(cause, "reason", None)
    return str(reason) if isinstance(reason, ResponseError) else None


def _code(error: HttpOperationError) -> str:
    """`" (Code)"` from Teams' error body (`{"error": {"code"}}`), or nothing."""
    code: Any = getattr(getattr(error.error, "error", None), "code", None)
    if not isinstance(code, str) or not code:
        try:
            text = error.response.text  # requests' property, or msrest's own response's method
            body = json.loads(text() if callable(text) else text)
            code = body.get("error", {}).get("code") if isinstance(body, dict) else None
        except (AttributeError, TypeError, ValueError):
            code = None
    return f" ({code})" if isinstance(code, str) and code else ""
