"""Reading many users' presence in one go: what `GraphClient.get_presences` sends to
`getPresencesByUserId` (docs/graph-facts.md §2) and how it reads the answers. Pure functions, no I/O.

- The ids asked for are Entra object ids (GUIDs): two that differ only in case are one user, asked once.
- At most `PRESENCES_PER_CALL` (650) ids go in one call; more are split over several calls.
- Graph promises no order in `value`: the presences are put back in the order the ids were asked in.
  An id Graph left out of its answer is simply missing from the result.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from bot.graph.errors import GraphError
from bot.graph.models import Presence


def _key(user_id: str) -> str:
    return user_id.lower()


def distinct_ids(user_ids: Sequence[str]) -> list[str]:
    """`user_ids` without repeats (compared without case), in the order first given."""
    seen: set[str] = set()
    out: list[str] = []
    for user_id in user_ids:
        if _key(user_id) not in seen:
            seen.add(_key(user_id))
            out.append(user_id)
    return out


def chunked(ids: Sequence[str], size: int) -> Iterator[list[str]]:
    """`ids` in consecutive lists of at most `size`."""
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def presences_in(data: Any, *, status: int) -> list[Presence]:
    """The presences in one getPresencesByUserId answer (`{"value": [presence…]}`)."""
    values = data.get("value") if isinstance(data, dict) else None
    try:
        if not isinstance(values, list):
            raise ValueError("no list in value")
        return [Presence.model_validate(value) for value in values]
    except ValueError as exc:  # pydantic's ValidationError included
        raise GraphError(
            "Microsoft Graph answered getPresencesByUserId without a list of presences.",
            status=status,
            code="InvalidResponse",
        ) from exc


def in_request_order(presences: Sequence[Presence], ids: Sequence[str]) -> list[Presence]:
    """`presences` in the order of `ids`, matched by their `id`; any Graph did not say who it is for
    come last, as Graph sent them."""
    position = {_key(user_id): index for index, user_id in enumerate(ids)}
    last = len(ids)
    return sorted(presences, key=lambda p: position.get(_key(p.id or ""), last))
