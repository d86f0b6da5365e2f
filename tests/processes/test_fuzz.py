"""Fuzzing the real `presence-bot serve` process: thousands of seeded hostile and odd activities
(tests/support/fuzz.py), 16 at a time: 3,000 in `make test`, 10,000 in `make bench`'s soak
(`FUZZ_ACTIVITIES`). No answer is a 5xx, the process logs no traceback, its memory
levels off, and afterwards it is healthy and sets `/busy 30m` correctly.

The figures printed at the end go in docs/security.md (`pytest tests/processes/test_fuzz.py -s`).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from pathlib import Path

import httpx

from bot.core.net import free_port
from tests.support.builders import activity
from tests.support.connector import Connector
from tests.support.e2e import card_of, say, sim_user, texts
from tests.support.fuzz import Fuzzer
from tests.support.procs import BotProcess, running
from tests.support.timers import health
from tests.support.waiting import eventually

SEED = int(os.environ.get("FUZZ_SEED", "20261122"))
ACTIVITIES = int(os.environ.get("FUZZ_ACTIVITIES", "3000"))
CONCURRENCY = 16
# A guard against a hang, not a speed limit: the rate is printed, and measured figures go in docs/security.md.
DEADLINE_SECONDS = float(os.environ.get("FUZZ_DEADLINE", "600"))
AFTER_USER = "fuzz-after-0000-0000-0000-000000000001"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def test_thousands_of_hostile_activities(tmp_path: Path, connector: Connector) -> None:
    bot = BotProcess(tmp_path / "data", name="fuzz")
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    fuzzer = Fuzzer(SEED, connector.url, closed)
    statuses: Counter[int | str] = Counter()
    failures: list[str] = []
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with running(bot), httpx.AsyncClient(timeout=30, limits=limits) as http:
        assert bot.process is not None
        pid = bot.process.pid
        rss = {"start": rss_kib(pid)}
        cases = fuzzer.cases(ACTIVITIES)
        sent = 0
        started = time.monotonic()
        deadline = started + DEADLINE_SECONDS

        async def worker() -> None:
            nonlocal sent
            for content, headers in cases:  # one shared iterator: each case is taken once
                if time.monotonic() > deadline:
                    return
                try:
                    response = await http.post(f"{bot.url}/api/messages", content=content, headers=headers)
                    statuses[response.status_code] += 1
                except httpx.HTTPError as error:
                    statuses[type(error).__name__] += 1
                    failures.append(f"{type(error).__name__} {headers} {len(content)} {content[:80]!r}")
                sent += 1
                if sent == ACTIVITIES // 3:
                    rss["first third"] = rss_kib(pid)
                elif sent == 2 * ACTIVITIES // 3:
                    rss["second third"] = rss_kib(pid)

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        duration = time.monotonic() - started

        # Notices to the closed port finish their retries: nothing left in the sender, no timer firing.
        async def idle() -> bool:
            return (await health(http, bot))[1] == 0

        await eventually(idle, seconds=60, what="the bot's sender and timers going idle")
        rss["end"] = rss_kib(pid)

        healthz = await http.get(f"{bot.url}/healthz")
        after = await say(http, bot, connector, "/busy 30m", aad=AFTER_USER)
        presence = (await sim_user(http, bot, AFTER_USER))["presence"]
        log = bot.log_text()

    print(
        f"\nfuzz: seed {SEED}, {sent} activities in {duration:.1f} s ({sent / duration:.0f}/s, "
        f"concurrency {CONCURRENCY}); status counts {dict(sorted(statuses.items(), key=str))}; "
        f"RSS KiB {rss}; log {len(log.splitlines())} lines, {log.count('Traceback')} tracebacks, "
        f"{log.count(' WARNING ')} warnings, {log.count(' ERROR ')} errors"
    )
    assert sent >= ACTIVITIES, f"only {sent} activities in {DEADLINE_SECONDS} s"
    server_errors = {code: n for code, n in statuses.items() if not isinstance(code, int) or code >= 500}
    assert server_errors == {}, (server_errors, failures[:10])
    assert log.count("Traceback") == 0, log[log.index("Traceback") - 2000 :][:6000]
    assert " ERROR " not in log, [line for line in log.splitlines() if " ERROR " in line][:5]
    assert rss["end"] < rss["first third"] * 1.10, f"memory still growing: {rss}"
    assert healthz.status_code == 200
    assert "In a call" in texts(card_of(after))
    assert (presence["availability"], presence["activity"]) == ("Busy", "InACall")


def test_the_fuzzer_is_seeded() -> None:
    first = list(Fuzzer(7, "http://127.0.0.1:1", "http://127.0.0.1:2").cases(200))
    again = list(Fuzzer(7, "http://127.0.0.1:1", "http://127.0.0.1:2").cases(200))
    assert first == again
    assert len({h.get("Content-Encoding") for _, h in first}) > 1
    body = activity("/busy", service_url="http://127.0.0.1:1")
    assert body["serviceUrl"].startswith("http://127.0.0.1")
