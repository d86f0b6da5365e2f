"""Benchmark: the per-tenant watcher with 20,000 active watches over 5,000 distinct people in one tenant.

    .venv/bin/python -m bench.watch                  # SQLite store, a 5 s interval, 45 s of changes
    .venv/bin/python -m bench.watch --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

The watcher runs in this process as in the bot: its durable poll timer in the real `TimerService`, Graph
over HTTP through the Graph client's transport (msal's token flow, retries, `Retry-After`) to the
standalone simulated tenant in a child process (`presence-bot simulator`, TLS on 127.0.0.1). Each of
the 5,000 people has a second Teams client signed in that reports Busy; 20,000 users (four per
person) watch them to be free. For `--window` seconds a random `--flips` of the people sign that client
out at random moments (Available again, through the simulator's control route), and a counting
notifier records when each watcher is told.

Measured: Graph calls per poll (the watcher's count, and the requests the simulator received),
detection latency from the change to the notice (p50, p99, max), 429s (one injected every 15 s with a
1 s `Retry-After`, waited out by the transport; then one with a `Retry-After` longer than a call's
budget, which cuts the poll short: the watcher keeps what it read and waits before the next poll), and
CPU and wall time per poll. Everything stays on 127.0.0.1; the run is bounded and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import shutil
import ssl
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bench.common import log, simulator
from bench.timers import database
from bot.clock import SystemClock
from bot.colleagues.ports import PresenceReader
from bot.colleagues.watcher import POLL_KIND, PollReport, Watcher, poll_key
from bot.core.colleagues import PRESENCES_PER_CALL, Watch
from bot.graph.auth import MsalTokenProvider
from bot.graph.client import GraphClient
from bot.graph.models import Presence
from bot.modes import require_mode
from bot.store.dispatch import TimerDispatcher
from bot.store.schema import watches
from bot.store.store import Store, open_store
from bot.store.timers import TimerService, percentile

WATCHERS_PER_PERSON = 4


class Throttles(logging.Handler):
    """Counts the 429s the transport waited out (its retry log lines) and timer handler failures."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.retried_429 = 0
        self.failed_polls = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.name == "bot.graph.transport" and "GraphThrottled" in message:
            self.retried_429 += 1
        elif record.name == "bot.store.timers" and record.levelno >= logging.WARNING:
            self.failed_polls += 1


# -- the watcher, measured ------------------------------------------------------------------------------
@dataclass
class Measured:
    report: PollReport
    cpu: float
    wall: float
    started: float  # monotonic


class MeasuredWatcher(Watcher):
    """The watcher, with each poll's CPU (this process) and wall time kept."""

    polls: list[Measured]

    async def poll(self, tenant_id: str | None, *, resume: str | None = None) -> PollReport:
        cpu, wall = time.process_time(), time.perf_counter()
        started = time.monotonic()
        report = await super().poll(tenant_id, resume=resume)
        self.polls.append(Measured(report, time.process_time() - cpu, time.perf_counter() - wall, started))
        return report


@dataclass
class Notices:
    """The notifier: when each watcher heard, and of whom."""

    met: list[tuple[float, str]] = field(default_factory=list)  # (monotonic, person)
    expired: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def watch_met(self, watch: Watch, presence: Presence) -> bool:
        self.met.append((time.monotonic(), watch.target.aad_id))
        self.arrived.set()
        return True

    async def watch_expired(self, watch: Watch) -> bool:
        self.expired += 1
        return True


# -- the tenant ------------------------------------------------------------------------------------------
class Tenant:
    """The simulator's control routes (loopback only): Teams clients signed in and out, faults, stats."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self._http = http
        self._root = base_url.rstrip("/").removesuffix("/v1.0")
        self.busy_clients: dict[str, str] = {}
        self.injected_429 = 0

    async def sign_in_busy(self, people: Sequence[str], width: int = 32) -> None:
        queue = list(people)

        async def worker() -> None:
            while queue:
                person = queue.pop()
                answer = await self._http.post(
                    f"{self._root}/_sim/users/{person}/clients",
                    json={"availability": "Busy", "activity": "Busy"},
                )
                answer.raise_for_status()
                self.busy_clients[person] = answer.json()["id"]

        await asyncio.gather(*(worker() for _ in range(width)))

    async def free(self, person: str) -> None:
        """Sign the Busy client out: the person's presence is Available again."""
        answer = await self._http.delete(
            f"{self._root}/_sim/users/{person}/clients/{self.busy_clients[person]}"
        )
        answer.raise_for_status()

    async def throttle_next(self, retry_after: float) -> None:
        fault = {"match": "getPresencesByUserId", "status": 429, "count": 1, "retry_after": retry_after}
        (await self._http.post(f"{self._root}/_sim/faults", json=fault)).raise_for_status()
        self.injected_429 += 1

    async def bulk_requests(self) -> int:
        answer = await self._http.get(f"{self._root}/_sim/stats")
        answer.raise_for_status()
        requests: dict[str, int] = answer.json()["requests"]
        return sum(count for key, count in requests.items() if "getPresencesByUserId" in key)


async def seed_watches(store: Store, tenant: str, people: Sequence[str], now: datetime) -> None:
    """Four distinct watchers per person, stored in bulk as `Store.add_watch` would have."""
    rows: list[dict[str, Any]] = [
        {
            "tenant_id": tenant,
            "user_id": f"bench-watcher-{number:06d}",
            "target_id": people[number % len(people)],
            "target_name": f"Person {number % len(people)}",
            "kind": "free",
            "created_at": now,
            "ends_at": now + timedelta(hours=2),
        }
        for number in range(len(people) * WATCHERS_PER_PERSON)
    ]
    for start in range(0, len(rows), 5000):
        async with store.write() as connection:
            await connection.execute(sa.insert(watches), rows[start : start + 5000])


# -- the run ---------------------------------------------------------------------------------------------
async def run(args: argparse.Namespace, workdir: Path) -> bool:
    async with simulator(workdir) as sim, database(args.database_url, workdir, "watch") as url:
        env = sim.environment
        settings = sim.bot_settings(workdir / "bot", url)
        mode = require_mode(settings)
        tls = ssl.create_default_context(cafile=env["GRAPH_CA_BUNDLE"])
        clock = SystemClock()
        tokens = MsalTokenProvider(
            client_id=mode.graph.client_id,
            credential=mode.graph.credential,
            default_tenant=mode.graph.default_tenant,
            authority_host=mode.graph.authority_host,
            ca_bundle=mode.graph.ca_bundle,
            clock=clock,
            scope=mode.graph.scope,
        )
        async with httpx.AsyncClient(verify=tls, timeout=30) as http:
            store = await open_store(url, settings.store.data_dir, clock)
            try:
                return await measure(args, env, http, tokens, store, clock)
            finally:
                await store.close()
                await tokens.aclose()


async def measure(
    args: argparse.Namespace,
    env: dict[str, str],
    http: httpx.AsyncClient,
    tokens: MsalTokenProvider,
    store: Store,
    clock: SystemClock,
) -> bool:
    tenant_id = env["GRAPH_TENANT_ID"]
    base_url = env["GRAPH_BASE_URL"]
    rng = random.Random(args.seed)
    people = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(args.people)]
    tenant = Tenant(http, base_url)
    started = time.perf_counter()
    await tenant.sign_in_busy(people)
    log(f"{len(people):,} people signed in on a Busy Teams client in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    await seed_watches(store, tenant_id, people, clock.now())
    total = len(people) * WATCHERS_PER_PERSON
    log(
        f"{total:,} watches stored ({WATCHERS_PER_PERSON} per person) "
        f"in {time.perf_counter() - started:.1f} s"
    )

    client = GraphClient(http, base_url=base_url, tokens=tokens, session_id=env["GRAPH_CLIENT_ID"])
    reader: PresenceReader = client
    notices = Notices()
    interval = timedelta(seconds=args.interval)
    watcher = MeasuredWatcher(store, reader, clock, notices, interval=interval)
    watcher.polls = []
    routes = TimerDispatcher()
    routes.route(watcher.kinds, watcher.fire, watcher.give_up)
    timers = TimerService(store, clock, routes.fire, owner="bench", on_give_up=routes.give_up)
    watcher.attach(timers)
    counter = Throttles()
    for name in ("bot.graph.transport", "bot.store.timers"):
        logging.getLogger(name).addHandler(counter)
        logging.getLogger(name).setLevel(logging.INFO)
    await tokens.token(tenant_id)  # the first token, before the clock starts
    # The first poll at once (a started bot's watcher would schedule it an interval after the first watch).
    await timers.schedule(poll_key(tenant_id), POLL_KIND, clock.now(), {"tenant": tenant_id})
    bulk_before = await tenant.bulk_requests()
    await timers.start()
    try:
        detected, p99 = await changes_and_notices(args, tenant, people, notices, rng)
        waited = await long_retry_after(args, tenant, watcher)
    finally:
        await timers.stop()
    bulk = await tenant.bulk_requests() - bulk_before
    return report(args, watcher, tenant, counter, bulk, total, p99) and detected and waited


async def changes_and_notices(
    args: argparse.Namespace,
    tenant: Tenant,
    people: list[str],
    notices: Notices,
    rng: random.Random,
) -> tuple[bool, float]:
    """People become free; returns whether every watcher of theirs heard (and nobody else's), and the
    p99 detection latency."""
    log(f"\n== {args.flips:,} people become free at random moments over {args.window:.0f} s ==")
    chosen = rng.sample(people, args.flips)
    moments = sorted(rng.uniform(0, args.window) for _ in chosen)
    flipped: dict[str, float] = {}
    begin = time.monotonic()

    async def flip_all() -> None:
        for person, at in zip(chosen, moments, strict=True):
            await asyncio.sleep(max(0.0, begin + at - time.monotonic()))
            flipped[person] = time.monotonic()  # just before the change: the latency is not flattered
            await tenant.free(person)

    async def inject() -> None:
        while time.monotonic() - begin < args.window:
            await asyncio.sleep(15)
            await tenant.throttle_next(1.0)

    injector = asyncio.create_task(inject())
    await flip_all()
    injector.cancel()
    deadline = time.monotonic() + args.interval + 15
    expected = len(chosen) * WATCHERS_PER_PERSON
    while len(notices.met) < expected and time.monotonic() < deadline:
        notices.arrived.clear()
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await notices.arrived.wait()
        except TimeoutError:
            break
    latencies = sorted(at - flipped[person] for at, person in notices.met if person in flipped)
    spurious = sum(1 for _, person in notices.met if person not in flipped)
    log(f"notices: {len(notices.met):,} of {expected:,} expected, {spurious} for people who had not changed")
    if latencies:
        log(
            "detection latency (change → notice): "
            f"p50 {percentile(latencies, 0.5, ordered=True):.2f} s, "
            f"p99 {percentile(latencies, 0.99, ordered=True):.2f} s, max {latencies[-1]:.2f} s "
            f"(interval {args.interval:.0f} s)"
        )
    p99 = percentile(latencies, 0.99, ordered=True) if latencies else float("inf")
    return len(notices.met) == expected and spurious == 0, p99


async def long_retry_after(args: argparse.Namespace, tenant: Tenant, watcher: MeasuredWatcher) -> bool:
    """A 429 the transport cannot wait out: the poll stops, and the next one waits what Graph asked."""
    wait = 20.0
    log(f"\n== A 429 with Retry-After {wait:.0f} s (longer than a call's budget) ==")
    polls_before = len(watcher.polls)
    await tenant.throttle_next(wait)
    deadline = time.monotonic() + 3 * args.interval + wait + 15
    while time.monotonic() < deadline:
        throttled = [m for m in watcher.polls[polls_before:] if m.report.throttled]
        if throttled and any(m.started > throttled[0].started for m in watcher.polls[polls_before:]):
            break
        await asyncio.sleep(0.2)
    throttled = [m for m in watcher.polls[polls_before:] if m.report.throttled]
    if not throttled:
        log("no poll was throttled: FAILED")
        return False
    cut = throttled[0]
    after = [m for m in watcher.polls[polls_before:] if m.started > cut.started]
    if not after:
        log("no poll after the throttled one: FAILED")
        return False
    gap = after[0].started - (cut.started + cut.wall)
    log(
        f"the throttled poll read {cut.report.read:,} of {cut.report.people:,} people "
        f"in {cut.report.calls} call(s) "
        f"and waited {gap:.1f} s; the next read {after[0].report.read:,} in {after[0].report.calls} call(s)"
    )
    return gap >= wait - 0.1 and after[0].report.read == after[0].report.people


def report(
    args: argparse.Namespace,
    watcher: MeasuredWatcher,
    tenant: Tenant,
    counter: Throttles,
    bulk_requests: int,
    total: int,
    p99: float,
) -> bool:
    polls = [m for m in watcher.polls if m.report.people]
    full = [m for m in polls if not m.report.throttled]
    expected_calls = -(-args.people // PRESENCES_PER_CALL)
    first = full[0].report if full else None
    # Fired watches end, so later polls watch fewer people: each still makes ⌈people/650⌉ calls.
    every = all(m.report.calls == -(-m.report.people // PRESENCES_PER_CALL) for m in full)
    shapes = sorted({(m.report.people, m.report.calls) for m in full}, reverse=True)
    cut_short = sum(1 for m in polls if m.report.throttled)
    log(f"\n== Figures ({len(polls)} polls, {total:,} watches, {args.people:,} distinct people) ==")
    if first is not None:
        log(
            f"Graph calls per poll: {first.calls} with {first.people:,} people watched "
            f"(⌈{args.people:,}/650⌉ = {expected_calls}); as watches fired: "
            + ", ".join(f"{people:,} people → {calls}" for people, calls in shapes[1:4])
            + (" …" if len(shapes) > 4 else "")
        )
    log(
        f"getPresencesByUserId requests the simulator received: {bulk_requests} "
        f"(the polls' calls, {sum(m.report.calls for m in polls)}, plus the transport's retries)"
    )
    log(
        f"429s: {tenant.injected_429} injected; "
        f"{counter.retried_429} waited out by the transport (Retry-After), "
        f"{cut_short} cut a poll short (the next poll waited), {counter.failed_polls} failed a poll"
    )
    cpu = sorted(m.cpu for m in full)
    wall = sorted(m.wall for m in full)
    if cpu:
        log(
            f"per poll (this process): CPU median {statistics.median(cpu) * 1000:.0f} ms, "
            f"max {cpu[-1] * 1000:.0f} ms; wall median {statistics.median(wall) * 1000:.0f} ms, "
            f"max {wall[-1] * 1000:.0f} ms"
        )
    checks = {
        f"Graph calls per poll = {expected_calls}, and ⌈people/650⌉ at every poll": (
            first is not None and first.calls == expected_calls and every
        ),
        f"latency p99 ≤ interval + 5 s ({args.interval + 5:.0f} s)": p99 <= args.interval + 5,
        "no 429 left unhandled": counter.failed_polls == 0,
    }
    for what, passed in checks.items():
        log(f"{'ok  ' if passed else 'FAIL'} {what}")
    return all(checks.values())


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.watch", description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None, help="postgresql+asyncpg://… (default: SQLite)")
    parser.add_argument("--people", type=int, default=5000, help="distinct people watched (4 watchers each)")
    parser.add_argument("--interval", type=float, default=5.0, help="the watcher's interval, seconds")
    parser.add_argument("--window", type=float, default=45.0, help="seconds over which people become free")
    parser.add_argument("--flips", type=int, default=1000, help="people who become free in the window")
    parser.add_argument("--seed", type=int, default=12, help="random seed (who and when)")
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds for the whole run")
    args = parser.parse_args(argv)
    if not 0 < args.flips <= args.people:
        parser.error("--flips must be between 1 and --people")
    store_name = "PostgreSQL" if args.database_url else "SQLite"
    log(
        f"Presence Bot watch benchmark: {store_name} store, "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    workdir = Path(tempfile.mkdtemp(prefix="presence-bot-watch-"))
    ok = False
    try:
        async with asyncio.timeout(args.deadline):
            ok = await run(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    log(f"\n{'verified' if ok else 'NOT verified'} ({datetime.now(UTC).isoformat(timespec='seconds')})")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
