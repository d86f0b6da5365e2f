"""One contract for the Graph client's ports (the presence service's `PresenceGraph`: `apply`,
`get_presence`; and colleagues' bulk read, `get_presences`), run against every implementation the tests
use, so the hand-written fake cannot drift from the real thing:

- `FakeGraph` (tests/support/fakes.py), which the service tests run on;
- the real `GraphClient` over HTTP against the simulated tenant (`create_sim_app` on a loopback port),
  once sending writes in a `$batch` and once one by one.

Each case states what the presence service relies on. A suite class per implementation inherits the cases
(`PortContract`) and provides the `port` fixture, as Agents-for-python's `CRUDStorageTests` does for storages.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
import pytest
from aiohttp import web

from bot.clock import AdjustableClock
from bot.core.net import bound_port
from bot.graph.client import (
    GraphClient,
    clear_preferred_write,
    clear_presence_write,
    set_preferred_write,
    set_presence_write,
    status_message_write,
)
from bot.graph.errors import GraphNotFound, GraphThrottled
from bot.graph.models import Presence
from bot.presence.ports import PresenceGraph
from bot.sim.routes import create_sim_app
from bot.sim.tenant import SimTenant
from tests.support.fakes import FakeGraph
from tests.support.trusting import TrustingAuthenticator

APP = "5ad0b075-0000-4000-8000-00000000b075"  # the app's id: its presence session id
TENANT = "00000000-0000-0000-0000-0000000000001"
ALEX = "00000000-0000-0000-0000-0000000000020"
MEGAN = "00000000-0000-0000-0000-0000000000021"
NOBODY = "0badc0de-0000-4000-8000-00000000dead"  # a user Graph does not know
HOUR = timedelta(hours=1)


class ColleagueGraph(PresenceGraph, Protocol):
    """The presence service's port and the bulk read of colleagues' presence."""

    async def get_presences(
        self, user_ids: Sequence[str], *, tenant_id: str | None = None
    ) -> list[Presence]: ...


@dataclass
class Port:
    """One implementation of the port, and how to make a user unknown to it."""

    graph: ColleagueGraph
    forget: Callable[[str], Awaitable[None]]


class AuditRecorder:
    """An audit sink (`bot.graph.client.AuditSink`) that keeps what it is told: (user, tenant, operation,
    status, request, whether the outcome is "ok")."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str | None, str, int, dict[str, Any], bool]] = []

    async def record_write(
        self,
        *,
        user_id: str,
        tenant_id: str | None,
        operation: str,
        request: Mapping[str, Any],
        status: int,
        code: str,
    ) -> None:
        self.rows.append((user_id, tenant_id, operation, status, dict(request), code == "ok"))


def pair(presence: Presence | None) -> tuple[str, str]:
    assert presence is not None, "no presence was read"
    return presence.availability, presence.activity


class PortContract:
    """The cases; a subclass provides the `port` fixture."""

    async def test_a_user_with_nothing_set_shows_their_teams_client(self, port: Port) -> None:
        assert pair(await port.graph.get_presence(ALEX, tenant_id=TENANT)) == ("Available", "Available")

    async def test_set_presence_then_the_pair_shows(self, port: Port) -> None:
        outcome = await port.graph.apply(
            ALEX, [set_presence_write(APP, "Busy", "InACall", HOUR)], tenant_id=TENANT
        )
        assert outcome.errors == {}
        assert pair(outcome.presence) == ("Busy", "InACall")
        assert pair(await port.graph.get_presence(ALEX, tenant_id=TENANT)) == ("Busy", "InACall")

    async def test_clear_presence_ends_the_apps_session(self, port: Port) -> None:
        await port.graph.apply(ALEX, [set_presence_write(APP, "Busy", "InACall", HOUR)], tenant_id=TENANT)
        outcome = await port.graph.apply(
            ALEX, [clear_presence_write(APP, tolerate_missing=False)], tenant_id=TENANT
        )
        assert outcome.errors == {}
        assert pair(outcome.presence) == ("Available", "Available")

    async def test_clear_presence_without_a_session_is_tolerated_when_the_write_says_so(
        self, port: Port
    ) -> None:
        outcome = await port.graph.apply(ALEX, [clear_presence_write(APP)], tenant_id=TENANT)
        assert list(outcome.errors) == [0]
        assert isinstance(outcome.errors[0], GraphNotFound)
        assert pair(outcome.presence) == ("Available", "Available")

    async def test_clear_presence_without_a_session_raises_not_found_otherwise(self, port: Port) -> None:
        with pytest.raises(GraphNotFound):
            await port.graph.apply(
                ALEX, [clear_presence_write(APP, tolerate_missing=False)], tenant_id=TENANT
            )

    async def test_a_tolerated_error_is_reported_at_its_index_and_later_writes_still_apply(
        self, port: Port
    ) -> None:
        """`/reset` with no session: clearPresence's 404 is "done", clearUserPreferredPresence still runs."""
        await port.graph.apply(
            ALEX, [set_preferred_write("DoNotDisturb", "DoNotDisturb", HOUR)], tenant_id=TENANT, read=False
        )
        outcome = await port.graph.apply(
            ALEX, [clear_presence_write(APP), clear_preferred_write()], tenant_id=TENANT
        )
        assert list(outcome.errors) == [0]
        assert isinstance(outcome.errors[0], GraphNotFound)
        assert pair(outcome.presence) == ("Available", "Available")

    async def test_the_preferred_presence_wins_over_a_session(self, port: Port) -> None:
        outcome = await port.graph.apply(
            ALEX,
            [
                set_presence_write(APP, "Busy", "InACall", HOUR),
                set_preferred_write("DoNotDisturb", "DoNotDisturb", HOUR),
            ],
            tenant_id=TENANT,
        )
        assert pair(outcome.presence) == ("DoNotDisturb", "DoNotDisturb")
        # ... whichever was set last.
        outcome = await port.graph.apply(
            ALEX, [set_presence_write(APP, "Away", "Away", HOUR)], tenant_id=TENANT
        )
        assert pair(outcome.presence) == ("DoNotDisturb", "DoNotDisturb")

    async def test_clearing_the_preferred_presence_shows_the_session_again(self, port: Port) -> None:
        await port.graph.apply(
            ALEX,
            [
                set_presence_write(APP, "Busy", "InACall", HOUR),
                set_preferred_write("Offline", "OffWork", HOUR),
            ],
            tenant_id=TENANT,
        )
        outcome = await port.graph.apply(ALEX, [clear_preferred_write()], tenant_id=TENANT)
        assert outcome.errors == {}
        assert pair(outcome.presence) == ("Busy", "InACall")
        # With no preference set, clearing it is no error either.
        outcome = await port.graph.apply(ALEX, [clear_preferred_write()], tenant_id=TENANT)
        assert outcome.errors == {}
        assert pair(outcome.presence) == ("Busy", "InACall")

    async def test_a_status_message_shows_until_it_is_cleared(self, port: Port) -> None:
        expires = datetime.now(UTC).replace(microsecond=0) + HOUR
        outcome = await port.graph.apply(
            ALEX, [status_message_write("Out for lunch", expires)], tenant_id=TENANT
        )
        assert outcome.presence is not None and outcome.presence.status_message is not None
        status = outcome.presence.status_message
        assert status.message is not None and status.message.content == "Out for lunch"
        assert status.expiry_date_time is not None and status.expiry_date_time.to_datetime() == expires
        assert pair(outcome.presence) == ("Available", "Available"), "a status message sets no presence"

        outcome = await port.graph.apply(ALEX, [status_message_write("", None)], tenant_id=TENANT)
        assert outcome.presence is not None and outcome.presence.status_message is None
        read = await port.graph.get_presence(ALEX, tenant_id=TENANT)
        assert read.status_message is None

    async def test_read_false_returns_no_presence_and_still_writes(self, port: Port) -> None:
        outcome = await port.graph.apply(
            ALEX, [set_presence_write(APP, "Busy", "InACall", HOUR)], tenant_id=TENANT, read=False
        )
        assert outcome.presence is None and outcome.errors == {}
        assert pair(await port.graph.get_presence(ALEX, tenant_id=TENANT)) == ("Busy", "InACall")

    async def test_a_user_graph_does_not_know_is_not_found(self, port: Port) -> None:
        await port.forget(NOBODY)
        with pytest.raises(GraphNotFound):
            await port.graph.get_presence(NOBODY, tenant_id=TENANT)
        with pytest.raises(GraphNotFound):
            await port.graph.apply(
                NOBODY, [set_presence_write(APP, "Busy", "InACall", HOUR)], tenant_id=TENANT
            )
        with pytest.raises(GraphNotFound):
            await port.graph.apply(
                NOBODY, [set_presence_write(APP, "Busy", "InACall", HOUR)], tenant_id=TENANT, read=False
            )
        assert pair(await port.graph.get_presence(ALEX, tenant_id=TENANT)) == ("Available", "Available")

    async def test_each_write_sent_is_audited_once_in_the_calls_sink_with_its_outcome(
        self, port: Port
    ) -> None:
        """A command hands its unit of work as the call's audit sink: the audit of what it sent is
        written with its outcome, a tolerated 404 included, and before a failure reaches the command."""
        sink = AuditRecorder()
        await port.graph.apply(
            ALEX,
            [clear_presence_write(APP), set_presence_write(APP, "Busy", "InACall", HOUR)],
            tenant_id=TENANT,
            audit=sink,
        )
        assert [(row[:4], row[5]) for row in sink.rows] == [
            ((ALEX, TENANT, "clear_presence", 404), False),
            ((ALEX, TENANT, "set_presence", 200), True),
        ]
        assert sink.rows[1][4] == {
            "sessionId": APP,
            "availability": "Busy",
            "activity": "InACall",
            "expirationDuration": "PT1H",
        }
        await port.forget(NOBODY)
        failed = AuditRecorder()
        with pytest.raises(GraphNotFound):
            await port.graph.apply(
                NOBODY, [set_presence_write(APP, "Busy", "InACall", HOUR)], tenant_id=TENANT, audit=failed
            )
        assert [(row[:4], row[5]) for row in failed.rows] == [((NOBODY, TENANT, "set_presence", 404), False)]

    # -- colleagues, read in bulk ------------------------------------------------------------------------
    async def test_a_bulk_read_shows_each_colleague_as_a_single_read_does(self, port: Port) -> None:
        """getPresencesByUserId follows the same rules as GET presence: precedence, status message."""
        await port.graph.apply(
            ALEX,
            [
                set_presence_write(APP, "Away", "Away", HOUR),
                set_preferred_write("DoNotDisturb", "DoNotDisturb", HOUR),
                status_message_write("Heads down", None),
            ],
            tenant_id=TENANT,
        )
        await port.graph.apply(MEGAN, [set_presence_write(APP, "Away", "Away", HOUR)], tenant_id=TENANT)
        bulk = await port.graph.get_presences([MEGAN, ALEX], tenant_id=TENANT)
        assert [p.id for p in bulk] == [MEGAN, ALEX], "in the order asked"
        assert [pair(p) for p in bulk] == [("Available", "Available"), ("DoNotDisturb", "DoNotDisturb")]
        for one in bulk:
            assert one.id is not None
            single = await port.graph.get_presence(one.id, tenant_id=TENANT)
            assert pair(single) == pair(one)
            assert single.status_message == one.status_message
        alex = bulk[1]
        assert alex.status_message is not None and alex.status_message.message is not None
        assert alex.status_message.message.content == "Heads down"

    async def test_a_bulk_read_asks_for_each_colleague_once(self, port: Port) -> None:
        bulk = await port.graph.get_presences([ALEX, MEGAN, ALEX.upper(), MEGAN], tenant_id=TENANT)
        assert [p.id for p in bulk] == [ALEX, MEGAN]

    async def test_a_bulk_read_of_nobody_is_empty(self, port: Port) -> None:
        assert await port.graph.get_presences([], tenant_id=TENANT) == []

    async def test_more_colleagues_than_one_call_takes_are_all_answered(self, port: Port) -> None:
        """651 colleagues are more than one getPresencesByUserId call takes: all are answered, in order."""
        ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(651)]
        bulk = await port.graph.get_presences(ids, tenant_id=TENANT)
        assert [p.id for p in bulk] == ids
        assert {pair(p) for p in bulk} == {("Available", "Available")}


# -- the implementations -----------------------------------------------------------------------------------
class TestFakeGraph(PortContract):
    @pytest.fixture
    def port(self) -> Port:
        graph = FakeGraph()

        async def forget(user_id: str) -> None:
            graph.unknown_users.add(user_id)

        return Port(graph, forget)

    # What only the fake has: its script and its records.
    async def test_a_scripted_presence_answers_every_read(self) -> None:
        scripted = Presence(availability="Busy", activity="InAMeeting")
        graph = FakeGraph(scripted)
        outcome = await graph.apply(ALEX, [set_preferred_write("DoNotDisturb", "DoNotDisturb", HOUR)])
        assert outcome.presence is scripted
        assert await graph.get_presence(ALEX) is scripted
        assert graph.reads == 2
        assert [(user, write.op) for user, write in graph.writes] == [(ALEX, "set_preferred_presence")]

    async def test_fail_with_fails_every_call(self) -> None:
        graph = FakeGraph(fail_with=GraphThrottled("slow down", code="TooManyRequests"))
        with pytest.raises(GraphThrottled):
            await graph.get_presence(ALEX)
        with pytest.raises(GraphThrottled):
            await graph.get_presences([ALEX])
        with pytest.raises(GraphThrottled):
            await graph.apply(ALEX, [clear_preferred_write()])
        assert graph.writes == [] and graph.reads == 0 and graph.bulk_reads == []

    async def test_a_colleague_can_be_scripted_and_bulk_calls_are_recorded(self) -> None:
        in_a_meeting = Presence(availability="Busy", activity="InAMeeting")
        graph = FakeGraph(scripted={MEGAN: in_a_meeting}, unknown_users={NOBODY})
        bulk = await graph.get_presences([ALEX, MEGAN, NOBODY])
        assert [(p.id, *pair(p)) for p in bulk] == [
            (ALEX, "Available", "Available"),
            (MEGAN, "Busy", "InAMeeting"),
        ], "a user Graph does not know is left out"
        assert await graph.get_presence(MEGAN) is in_a_meeting
        assert graph.bulk_reads == [[ALEX, MEGAN, NOBODY]]
        await graph.get_presences([f"u{i}" for i in range(651)])
        assert [len(ids) for ids in graph.bulk_reads[1:]] == [650, 1], "one record per call Graph would get"


class TestGraphClientOnSimulator(PortContract):
    @pytest.fixture(params=["batch", "one-by-one"])
    async def port(self, request: pytest.FixtureRequest) -> AsyncIterator[Port]:
        """The real client, over HTTP, against the simulated tenant mounted at /sim as the bot mounts it."""
        clock = AdjustableClock()
        tenant = SimTenant(clock, None)
        root = web.Application()
        root.add_subapp("/sim", create_sim_app(tenant, TrustingAuthenticator(APP, TENANT), clock))
        runner = web.AppRunner(root, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        sim = f"http://127.0.0.1:{bound_port(runner.addresses)}/sim"
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                client = GraphClient(
                    http,
                    base_url=f"{sim}/v1.0",
                    tokens=None,
                    session_id=APP,
                    use_batch=request.param == "batch",
                )

                async def forget(user_id: str) -> None:
                    # The simulated tenant creates a user on first reference: it has no directory to be
                    # missing from. What Graph answers for a user it does not know (404 on every call
                    # naming them) is played by the simulator's fault plan.
                    response = await http.post(
                        f"{sim}/_sim/faults",
                        json={"match": f"/users/{user_id}/", "status": 404, "count": 100},
                    )
                    assert response.status_code == 201, response.text

                yield Port(client, forget)
                # The client's own switch (no product code reads it): still on unless a $batch was refused.
                assert client._use_batch is (request.param == "batch"), "the simulator refused a $batch"
        finally:
            await runner.cleanup()
