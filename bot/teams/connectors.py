"""botbuilder's outbound clients, kept and reused instead of built for every activity.

`CloudAdapter.process_activity` asks its authentication for a `ConnectorClient` (to reply) and a
`UserTokenClient` (for OAuth prompts, unused here) on every inbound activity, and botbuilder builds both
anew each time: two msrest clients, each with its retry policy, a `requests` session (cookie jar, HTTP
adapters, urllib3 pools), a `configparser`, and new credentials whose msal application has an empty
token cache, so a bot with an app id also fetched a fresh Bot Framework token per reply. That was about a
tenth of a command's CPU (bench/turns.py, docs/performance.md), and a new TCP connection per reply.

Here each client is built once per what it depends on and then reused, as botbuilder's older
`BotFrameworkAdapter` did (its connector client and credential caches):

- a connector client per (app id, service URL, audience): the credentials inside sign every request
  (msrest's credentials policy calls `signed_session` per request, and msal's `acquire_token_silent`
  renews the token before it expires), so reuse keeps tokens fresh;
- a user-token client per app id.

Both caches are bounded (least recently used out first): Teams' service URLs are a few per region, or
one per tenant, and an evicted client is only dropped (a reply in flight on it finishes). Neither client
is tied to an event loop (msrest sends with `requests` in the loop's default executor), so one cache
serves the process. Concurrent activities may share a client, as with the old adapter: its `requests`
session (urllib3's pools are thread-safe) sends their replies from the executor's threads.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

MAX_CLIENTS = 256  # per cache


class ClientCache:
    """Clients by key, at most `limit` of them, the least recently used dropped first."""

    def __init__(self, limit: int = MAX_CLIENTS) -> None:
        if limit < 1:
            raise ValueError("a client cache holds at least one client")
        self._limit = limit
        self._clients: OrderedDict[Hashable, Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self._clients)

    async def get(self, key: Hashable, create: Callable[[], Awaitable[Any]]) -> Any:
        """The client for `key`, built by `create` the first time (and again once it was dropped)."""
        client = self._clients.get(key)
        if client is not None:
            self._clients.move_to_end(key)
            return client
        client = await create()
        # Two activities may have built one at the same time: keep the first, so all share it.
        client = self._clients.setdefault(key, client)
        self._clients.move_to_end(key)
        while len(self._clients) > self._limit:
            self._clients.popitem(last=False)
        return client
