"""A hand-written fake of the service's Graph port: records every write, answers a scripted presence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.graph.client import GraphWrite, WriteOutcome
from bot.graph.errors import GraphError
from bot.graph.models import Presence


@dataclass
class FakeGraph:
    presence: Presence = field(
        default_factory=lambda: Presence(availability="Available", activity="Available")
    )
    writes: list[tuple[str, GraphWrite]] = field(default_factory=list)
    reads: int = 0
    fail_with: GraphError | None = None

    async def apply(
        self, user_id: str, writes: Sequence[GraphWrite], *, tenant_id: str | None = None, read: bool = True
    ) -> WriteOutcome:
        if self.fail_with is not None:
            raise self.fail_with
        outcome = WriteOutcome()
        for index, write in enumerate(writes):
            self.writes.append((user_id, write))
            if write.op == "clear_presence" and not any(w.op == "set_presence" for _, w in self.writes[:-1]):
                error = GraphError("no session", status=404)
                for tolerated in write.tolerated:
                    outcome.errors[index] = tolerated("no session", status=404)
                if index not in outcome.errors:
                    raise error
        if read:
            self.reads += 1
            outcome.presence = self.presence
        return outcome

    async def get_presence(self, user_id: str, *, tenant_id: str | None = None) -> Presence:
        if self.fail_with is not None:
            raise self.fail_with
        self.reads += 1
        return self.presence

    def bodies(self) -> list[dict[str, object]]:
        return [w.body.wire() if w.body is not None else {} for _, w in self.writes]
