"""The proactive sender on virtual time: Teams' limits kept, bursts paced (never dropped), order kept,
429s waited out and retried within bounds, and nothing sent where Teams said 403 or the app was
removed. The same sender behind the real app and a local connector: tests/presence/test_notices.py."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from dataclasses import dataclass, field

import pytest

from bot.core.users import UserRef
from bot.teams.sender import (
    TEAMS_CONVERSATION_LIMITS,
    DeliveryError,
    Outbound,
    ProactiveSender,
    SendPolicy,
    Windows,
)
from tests.support.connector import busiest
from tests.support.virtual_time import VirtualTime

TENANT = "tenant-1"


def outbound(conversation: str, text: str = "", *, user: str = "u", epoch: int = 0) -> Outbound:
    return Outbound(
        tenant_id=TENANT,
        conversation_id=conversation,
        user=UserRef(user_id=user, tenant_id=TENANT),
        personal=True,
        content=(conversation, text),
        epoch=epoch,
    )


@dataclass
class FakeTeams:
    """A connector on virtual time: each request arrives at a random moment between its start and its
    answer (latency 5–300 ms), and answers as `refuse` says (None: accepted)."""

    time: VirtualTime
    arrivals: list[tuple[str, float]] = field(default_factory=list)  # every request, accepted or not
    delivered: list[tuple[str, str]] = field(default_factory=list)
    refusals: dict[str, list[DeliveryError]] = field(default_factory=dict)  # conversation → next answers
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    async def deliver(self, content: object) -> None:
        assert isinstance(content, tuple)
        conversation, text = content
        latency = self.rng.uniform(0.005, 0.3)
        arrives = self.rng.uniform(0.0, latency)
        await self.time.sleep(arrives)
        self.arrivals.append((conversation, self.time.now))
        await self.time.sleep(latency - arrives)
        answers = self.refusals.get(conversation)
        if answers:
            raise answers.pop(0)
        self.delivered.append((conversation, text))


class Gone:
    def __init__(self) -> None:
        self.forgotten: list[str] = []

    async def __call__(self, message: Outbound) -> None:
        self.forgotten.append(message.conversation_id)


def make_sender(
    time: VirtualTime, teams: FakeTeams, gone: Gone | None = None, **policy: object
) -> ProactiveSender:
    return ProactiveSender(
        teams.deliver,
        on_gone=gone or Gone(),
        policy=SendPolicy(**policy),  # type: ignore[arg-type]
        clock=time.clock,
        sleep=time.sleep,
    )


# -- the windows ------------------------------------------------------------------------------------
def test_an_operation_counts_from_its_start_until_a_window_after_its_answer() -> None:
    windows = Windows(((2, 1.0),))
    assert windows.wait(0.0) == 0.0
    windows.start()
    windows.start()
    assert windows.wait(0.0) is None  # two in flight: wait for an answer, however long it takes
    windows.answered(5.0)
    assert windows.wait(5.0) == pytest.approx(1.001)  # one in flight, one answered just now: full
    windows.answered(5.5)
    assert windows.wait(5.5) == pytest.approx(0.501)  # room again a second after the first answer
    assert windows.wait(6.001) == 0.0


def test_every_teams_window_is_kept() -> None:
    windows = Windows(TEAMS_CONVERSATION_LIMITS)
    now = 0.0
    for _ in range(7):
        windows.start()
        windows.answered(now)
    assert windows.wait(now) == pytest.approx(1.001)  # 7 in 1 s
    windows.start()
    windows.answered(1.001)
    assert windows.wait(1.001) == pytest.approx(2.001 - 1.001)  # 8 in 2 s


def test_a_window_needs_room() -> None:
    with pytest.raises(ValueError, match="positive window"):
        Windows(((0, 1.0),))


# -- pacing ---------------------------------------------------------------------------------------------
async def test_a_thousand_notices_at_once_are_paced_within_teams_limits() -> None:
    """1,000 holds ending at 5 pm: one notice each in its own chat, and 40 to one busy group chat."""
    time = VirtualTime()
    teams = FakeTeams(time)
    sender = make_sender(time, teams)
    for index in range(1000):
        sender.submit(outbound(f"chat-{index}", "ended"))
    for index in range(40):
        sender.submit(outbound("group", f"notice {index}", user=f"member-{index}"))
    assert sender.pending == 1040
    await time.run_until(lambda: sender.pending == 0, limit=120)

    assert len(teams.delivered) == 1040 == len(teams.arrivals)  # none lost, none twice
    assert len(set(teams.delivered)) == 1040
    assert busiest((at for _, at in teams.arrivals), 1.0) <= 50  # the tenant
    by_conversation: dict[str, list[float]] = defaultdict(list)
    for conversation, at in teams.arrivals:
        by_conversation[conversation].append(at)
    for limit, window in TEAMS_CONVERSATION_LIMITS:
        assert busiest(by_conversation["group"], window) <= limit
    assert [text for conversation, text in teams.delivered if conversation == "group"] == [
        f"notice {index}" for index in range(40)
    ], "one conversation's notices arrive in the order they were queued"
    # The tenant's pace is close to its limit: 1,000 at 50 a second is 20 s, plus each request's
    # latency (a place in a window is held from the start until a second after the answer).
    last_chat = max(at for conversation, at in teams.arrivals if conversation != "group")
    assert 20.0 < last_chat < 25.0, last_chat
    # The group's notices take turns with the others (every conversation's first before anyone's
    # second), then go at the group's own pace: 8 in 2 s.
    assert time.now < 40.0, time.now
    assert sender.stats() == {
        "pending": 0,
        "sent": 1040,
        "tries": 1040,
        "retried": 0,
        "gaveUp": 0,
        "gone": 0,
        "dropped": 0,
    }


async def test_the_tenant_rate_is_a_setting() -> None:
    time = VirtualTime()
    teams = FakeTeams(time)
    sender = make_sender(time, teams, per_tenant=10)
    for index in range(100):
        sender.submit(outbound(f"chat-{index}"))
    await time.run_until(lambda: sender.pending == 0, limit=60)
    assert busiest((at for _, at in teams.arrivals), 1.0) <= 10
    assert time.now > 9.0


# -- retries ----------------------------------------------------------------------------------------------
async def test_a_429_waits_what_retry_after_says_then_delivers() -> None:
    time = VirtualTime()
    teams = FakeTeams(time)
    teams.refusals["chat-1"] = [DeliveryError(429, "TooManyRequests", retry_after=3.0)]
    sender = make_sender(time, teams)
    sender.submit(outbound("chat-1", "first"))
    sender.submit(outbound("chat-1", "second"))
    await time.run_until(lambda: sender.pending == 0, limit=60)
    tries = [at for conversation, at in teams.arrivals if conversation == "chat-1"]
    assert len(tries) == 3
    assert tries[1] - tries[0] >= 3.0
    assert teams.delivered == [("chat-1", "first"), ("chat-1", "second")]  # the retry kept its place
    assert sender.stats()["retried"] == 1


@pytest.mark.parametrize("status", [412, 502, 504, None])
async def test_transient_failures_are_retried_with_backoff(status: int | None) -> None:
    time = VirtualTime()
    teams = FakeTeams(time)
    teams.refusals["chat-1"] = [DeliveryError(status), DeliveryError(status)]
    sender = make_sender(time, teams)
    sender.submit(outbound("chat-1", "hello"))
    await time.run_until(lambda: sender.pending == 0, limit=60)
    assert teams.delivered == [("chat-1", "hello")]
    assert len(teams.arrivals) == 3


async def test_retries_stop_after_five_tries_with_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    time = VirtualTime()
    teams = FakeTeams(time)
    teams.refusals["chat-1"] = [DeliveryError(502) for _ in range(10)]
    sender = make_sender(time, teams)
    sender.submit(outbound("chat-1"))
    sender.submit(outbound("chat-2"))
    with caplog.at_level(logging.WARNING, logger="bot.teams.sender"):
        await time.run_until(lambda: sender.pending == 0, limit=300)
    assert sum(1 for conversation, _ in teams.arrivals if conversation == "chat-1") == 5
    assert teams.delivered == [("chat-2", "")]
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["notice not delivered, given up after 5 tries: HTTP 502"]
    assert sender.stats()["gaveUp"] == 1


async def test_a_retry_after_past_the_budget_is_not_waited_for() -> None:
    time = VirtualTime()
    teams = FakeTeams(time)
    teams.refusals["chat-1"] = [DeliveryError(429, retry_after=600.0)]
    sender = make_sender(time, teams)
    sender.submit(outbound("chat-1"))
    await time.run_until(lambda: sender.pending == 0, limit=10)
    assert len(teams.arrivals) == 1 and teams.delivered == []
    assert sender.stats()["gaveUp"] == 1


@pytest.mark.parametrize("status", [400, 404, 500])
async def test_other_refusals_are_not_retried(status: int) -> None:
    time = VirtualTime()
    teams = FakeTeams(time)
    teams.refusals["chat-1"] = [DeliveryError(status)]
    sender = make_sender(time, teams)
    sender.submit(outbound("chat-1"))
    await time.run_until(lambda: sender.pending == 0, limit=10)
    assert len(teams.arrivals) == 1
    assert sender.stats()["gaveUp"] == 1


async def test_a_failure_of_deliver_itself_is_logged_and_the_lane_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    time = VirtualTime()
    calls: list[object] = []

    async def deliver(content: object) -> None:
        calls.append(content)
        if len(calls) == 1:
            raise RuntimeError("boom")

    sender = ProactiveSender(deliver, on_gone=Gone(), clock=time.clock, sleep=time.sleep)
    sender.submit(outbound("chat-1", "a"))
    sender.submit(outbound("chat-1", "b"))
    await time.run_until(lambda: sender.pending == 0, limit=10)
    assert calls == [("chat-1", "a"), ("chat-1", "b")]
    assert "notice not delivered: RuntimeError" in caplog.text


# -- 403 and uninstall ----------------------------------------------------------------------------
async def test_after_a_403_the_conversation_is_forgotten_and_nothing_more_is_sent_there() -> None:
    time = VirtualTime()
    teams = FakeTeams(time)
    teams.refusals["blocked"] = [DeliveryError(403, "ConversationBlockedByUser")]
    gone = Gone()
    sender = make_sender(time, teams, gone)
    for index in range(5):
        sender.submit(outbound("blocked", f"n{index}"))
        sender.submit(outbound("open", f"n{index}"))
    await time.run_until(lambda: sender.pending == 0, limit=30)
    assert [at for conversation, at in teams.arrivals if conversation == "blocked"] != []
    assert sum(1 for conversation, _ in teams.arrivals if conversation == "blocked") == 1
    assert gone.forgotten == ["blocked"]
    assert [text for conversation, text in teams.delivered if conversation == "open"] == [
        f"n{index}" for index in range(5)
    ]
    assert sender.stats()["gone"] == 1 and sender.stats()["dropped"] == 4

    # Read from the store after it forgot: a new reference (the user came back) is sent to as usual.
    sender.submit(outbound("blocked", "again", epoch=sender.epoch))
    teams.refusals.pop("blocked")
    await time.run_until(lambda: sender.pending == 0, limit=60)
    assert ("blocked", "again") in teams.delivered


async def test_forget_drops_what_was_queued_or_read_before_it() -> None:
    time = VirtualTime()
    teams = FakeTeams(time)
    sender = make_sender(time, teams)
    for index in range(20):  # the first 7 go at once, the rest wait for the conversation's windows
        sender.submit(outbound("group", f"n{index}", user=f"member-{index}"))
    await time.run_until(lambda: len(teams.delivered) == 7, limit=1)
    read_before = sender.epoch
    sender.forget(TENANT, "group")  # the app was removed from the group chat
    sender.submit(outbound("group", "read before the forget", epoch=read_before))
    personal = outbound("chat-9", "personal", user="alex")
    sender.forget(TENANT, None, personal_of="alex")  # alex uninstalled it in the personal scope
    sender.submit(personal)
    await time.run_until(lambda: sender.pending == 0, limit=30)
    assert teams.delivered == [("group", f"n{index}") for index in range(7)]
    assert sender.stats()["dropped"] == 13 + 1 + 1


async def test_close_stops_the_workers_and_says_how_many_were_left(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def never(content: object) -> None:
        await asyncio.Event().wait()

    sender = ProactiveSender(never, on_gone=Gone())
    for index in range(3):
        sender.submit(outbound(f"chat-{index}"))
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="bot.teams.sender"):
        await sender.close(grace=0.1)
    assert "shutting down with 3 notice(s) not sent" in caplog.text
    assert sender.pending == 0 or all(lane.worker is None for lane in sender._lanes.values())
