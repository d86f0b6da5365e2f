"""Measured fixes for httpcore's per-request CPU cost (the Graph client's HTTP library); each gives the
same answers as the code it replaces, tested.

1. Before each request httpcore's connection pool asks every pooled connection whether it has expired, and
for an idle one whether the server closed it: `get_extra_info("is_readable")`, a poll of its socket. On
asyncio, httpcore's anyio backend finds that socket through anyio's `extra()`, which builds a dict of
every attribute of the stream (addresses, the raw socket, …) each time it is asked: with 16 commands in
flight, a few dozen dicts per Graph request, the largest single cost of a Graph call after h11's
parsing (bench/turns.py's profile, docs/performance.md). A stream's socket never changes, so it is
looked up once per stream here; the poll itself is httpcore's (`is_socket_readable`), as before.
2. The same pool, when a request starts or ends (`_assign_requests_to_connections`), tests each idle
   connection against "more connections than `max_keepalive_connections`?", counting the connections
   with a list built anew each time (`len([c.is_idle() for c in connections])`): quadratic in the pool's
   size, about 500 calls per Graph request with 16 commands in flight. The count is the pool's length;
   and a queued request looks for its connection with `next()` instead of listing every candidate.

Both replace private httpcore code, so both apply to httpcore 1.0.9 only, whose code this is: any other
version runs its own code, unchanged (`apply` checks the version before importing anything private, so a
release that moves those modules cannot stop the bot from starting).
"""

from __future__ import annotations

from typing import Any

import anyio
import httpcore

if httpcore.__version__ == "1.0.9":  # the private code below is this release's
    from httpcore._async.connection_pool import AsyncConnectionPool
    from httpcore._async.interfaces import AsyncConnectionInterface
    from httpcore._backends.anyio import AnyIOStream
    from httpcore._utils import is_socket_readable

POOL_FIX_VERSION = "1.0.9"  # the httpcore whose `_assign_requests_to_connections` is rewritten below

FIXED = httpcore.__version__ == POOL_FIX_VERSION
if FIXED:
    _GET_EXTRA_INFO = AnyIOStream.get_extra_info
    _ASSIGN = AsyncConnectionPool._assign_requests_to_connections  # httpcore's own (tests compare)
_SOCKET = "_presence_bot_socket"


def _get_extra_info(self: AnyIOStream, info: str) -> Any:
    if info != "is_readable":
        return _GET_EXTRA_INFO(self, info)
    try:
        sock = getattr(self, _SOCKET)
    except AttributeError:
        sock = self._stream.extra(anyio.abc.SocketAttribute.raw_socket, None)
        setattr(self, _SOCKET, sock)
    return is_socket_readable(sock)


def _assign_requests_to_connections(self: AsyncConnectionPool) -> list[AsyncConnectionInterface]:
    """httpcore 1.0.9's `AsyncConnectionPool._assign_requests_to_connections`, linear: same decisions,
    in the same order (its comments kept)."""
    closing_connections = []

    # First we handle cleaning up any connections that are closed,
    # have expired their keep-alive, or surplus idle connections.
    for connection in list(self._connections):
        if connection.is_closed():
            # log: "removing closed connection"
            self._connections.remove(connection)
        elif connection.has_expired():
            # log: "closing expired connection"
            self._connections.remove(connection)
            closing_connections.append(connection)
        elif connection.is_idle() and len(self._connections) > self._max_keepalive_connections:
            # log: "closing idle connection"
            self._connections.remove(connection)
            closing_connections.append(connection)

    # Assign queued requests to connections.
    queued_requests = [request for request in self._requests if request.is_queued()]
    for pool_request in queued_requests:
        origin = pool_request.request.url.origin
        available = next(
            (
                connection
                for connection in self._connections
                if connection.can_handle_request(origin) and connection.is_available()
            ),
            None,
        )
        # There are three cases for how we may be able to handle the request:
        #
        # 1. There is an existing connection that can handle the request.
        # 2. We can create a new connection to handle the request.
        # 3. We can close an idle connection and then create a new connection
        #    to handle the request.
        if available is not None:
            # log: "reusing existing connection"
            pool_request.assign_to_connection(available)
        elif len(self._connections) < self._max_connections:
            # log: "creating new connection"
            connection = self.create_connection(origin)
            self._connections.append(connection)
            pool_request.assign_to_connection(connection)
        elif (idle := next((c for c in self._connections if c.is_idle()), None)) is not None:
            # log: "closing idle connection"
            self._connections.remove(idle)
            closing_connections.append(idle)
            # log: "creating new connection"
            connection = self.create_connection(origin)
            self._connections.append(connection)
            pool_request.assign_to_connection(connection)

    return closing_connections


def apply() -> None:
    """Install both fixes (httpcore 1.0.9 only; idempotent)."""
    if not FIXED:
        return
    if AnyIOStream.get_extra_info is not _get_extra_info:
        AnyIOStream.get_extra_info = _get_extra_info  # type: ignore[method-assign]
    if AsyncConnectionPool._assign_requests_to_connections is not _assign_requests_to_connections:
        AsyncConnectionPool._assign_requests_to_connections = _assign_requests_to_connections  # type: ignore[method-assign]
