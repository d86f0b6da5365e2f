"""A measured fix for httpcore's per-request CPU cost (the Graph client's HTTP library).

Before each request httpcore's connection pool asks every pooled connection whether it has expired, and
for an idle one whether the server closed it: `get_extra_info("is_readable")`, a poll of its socket. On
asyncio, httpcore's anyio backend finds that socket through anyio's `extra()`, which builds a dict of
every attribute of the stream (addresses, the raw socket, …) each time it is asked: with 16 commands in
flight, a few dozen dicts per Graph request, the largest single cost of a Graph call after h11's
parsing (bench/turns.py's profile, docs/performance.md). A stream's socket never changes, so it is
looked up once per stream here; the poll itself is httpcore's (`is_socket_readable`), as before.
"""

from __future__ import annotations

from typing import Any

import anyio
from httpcore._backends.anyio import AnyIOStream
from httpcore._utils import is_socket_readable

_GET_EXTRA_INFO = AnyIOStream.get_extra_info
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


def apply() -> None:
    if AnyIOStream.get_extra_info is not _get_extra_info:
        AnyIOStream.get_extra_info = _get_extra_info  # type: ignore[method-assign]
