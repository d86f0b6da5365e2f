"""`presence-bot audit` and `presence-bot forget` through the real command line, on SQLite (the data
directory) and PostgreSQL (`DATABASE_URL`); and the retention the running app keeps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bot.app import RUNTIME
from bot.clock import AdjustableClock
from bot.core.colleagues import Colleague, WatchKind
from bot.core.users import UserRef
from bot.server import RunningBot
from bot.store import Store, open_store
from bot.store.records import SavedConversation
from bot.store.retention import PRUNE_KEY, PRUNE_KIND
from tests.support.builders import ALEX as ALEX_ID
from tests.support.builders import TENANT
from tests.support.connector import Connector
from tests.support.e2e import say
from tests.support.procs import ROOT
from tests.support.store import list_audit, list_holds, start_hold
from tests.support.waiting import eventually

OTHER_TENANT = "99999999-2222-3333-4444-555555555555"
ALEX = UserRef(user_id="aaaaaaaa-0000-0000-0000-000000000001", tenant_id=TENANT)
ALEX_ELSEWHERE = UserRef(user_id=ALEX.user_id, tenant_id=OTHER_TENANT)
BLAKE = UserRef(user_id="bbbbbbbb-0000-0000-0000-000000000002", tenant_id=TENANT)


def cli(
    tmp_path: Path, store_url: str | None, *args: str, data_dir: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`presence-bot <args>` as an admin runs it: SQLite through the data directory, PostgreSQL through
    DATABASE_URL."""
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("GRAPH_", "PRESENCE_BOT_", "DATABASE_URL"))
    }
    environment.update(
        {"PRESENCE_BOT_DATA_DIR": str(data_dir or tmp_path), "PRESENCE_BOT_LOG_LEVEL": "WARNING"}
    )
    if store_url is not None and store_url.startswith("postgresql"):
        environment["DATABASE_URL"] = store_url
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=tmp_path,  # no developer .env
        env={**environment, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


async def remember(store: Store, user: UserRef, clock: AdjustableClock, operations: list[str]) -> None:
    conversation = SavedConversation(f"a:{user.user_id}:{user.tenant_id}", "personal", {"serviceUrl": "x"})
    await store.record_turn(user, activity_key=None, conversation=conversation, reported_zone="Europe/Paris")
    await start_hold(
        store,
        user,
        state="busy",
        layer="session",
        availability="Busy",
        activity="Busy",
        requested_end=clock.now() + timedelta(hours=1),
    )
    for operation in operations:
        await store.record_audit(
            user, operation=operation, outcome="ok", status_code=200, request={"availability": "Busy"}
        )
        clock.advance(60)


@pytest.fixture
async def filled(store_url: str, tmp_path: Path) -> str:
    """A store (the `store_url` one) where Alex (in two tenants) and Blake have used the bot."""
    clock = AdjustableClock()
    store = await open_store(store_url, tmp_path, clock)
    try:
        await remember(store, ALEX, clock, ["setPresence", "clearPresence"])
        await remember(store, ALEX_ELSEWHERE, clock, ["setUserPreferredPresence"])
        await remember(store, BLAKE, clock, ["setPresence"])
    finally:
        await store.close()
    return store_url


async def test_audit_prints_a_users_entries_newest_first(filled: str, tmp_path: Path) -> None:
    result = cli(tmp_path, filled, "audit", "--user", ALEX.user_id)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("3 audit entries for user aaaaaaaa")
    rows = [line.split() for line in lines[2:]]
    assert [row[2] for row in rows] == ["setUserPreferredPresence", "clearPresence", "setPresence"]
    assert all(row[3] == "ok" and row[4] == "200" for row in rows)

    one_tenant = cli(tmp_path, filled, "audit", "--user", ALEX.user_id, "--tenant", TENANT, "--json")
    assert one_tenant.returncode == 0, one_tenant.stderr
    exported = json.loads(one_tenant.stdout)
    assert [e["operation"] for e in exported] == ["clearPresence", "setPresence"]
    assert {e["tenant"] for e in exported} == {TENANT}
    assert exported[0]["request"] == {"availability": "Busy"} and exported[0]["status"] == 200
    assert exported[0]["time"] > exported[1]["time"]


async def test_forget_removes_one_users_data_and_says_how_much(filled: str, tmp_path: Path) -> None:
    result = cli(tmp_path, filled, "forget", "--user", ALEX.user_id, "--tenant", TENANT)
    assert result.returncode == 0, result.stderr
    said = result.stdout
    assert "removed everything stored about user aaaaaaaa" in said
    for line in (
        "settings (time zone, notices): 1",
        "holds: 1",
        "conversation references: 1",
        "audit entries: 2",
        "user leases: 0",
    ):
        assert line in said
    assert "still active" in said  # the hold was active: Teams may show it until Graph lets it lapse

    left = json.loads(cli(tmp_path, filled, "audit", "--user", ALEX.user_id, "--json").stdout)
    assert [(e["tenant"], e["operation"]) for e in left] == [(OTHER_TENANT, "setUserPreferredPresence")]
    store = await open_store(filled, tmp_path, AdjustableClock())
    try:
        assert await store.get_user(ALEX) is None
        assert await store.latest_conversation_reference(ALEX) is None
        assert await list_holds(store, ALEX) == []
        assert await store.get_user(BLAKE) is not None  # the others are untouched
        assert len(await list_audit(store, BLAKE)) == 1
        assert await store.get_active_hold(ALEX_ELSEWHERE) is not None
    finally:
        await store.close()

    everywhere = cli(tmp_path, filled, "forget", "--user", ALEX.user_id.upper())
    assert everywhere.returncode == 0 and "audit entries: 1" in everywhere.stdout
    nothing = cli(tmp_path, filled, "forget", "--user", ALEX.user_id)
    assert nothing.returncode == 0 and nothing.stdout.startswith("nothing stored about user")


async def test_forget_says_what_went_of_watches_on_the_user(store_url: str, tmp_path: Path) -> None:
    clock = AdjustableClock()
    store = await open_store(store_url, tmp_path, clock)
    try:
        now = clock.now()
        alex = Colleague(aad_id=ALEX.user_id, name="Alex Wilber")
        await store.add_watch(
            BLAKE,
            alex,
            WatchKind.FREE,
            ends_at=now + timedelta(hours=1),
            conversation_id=None,
            now=now,
            cap=20,
        )
    finally:
        await store.close()
    result = cli(tmp_path, store_url, "forget", "--user", ALEX.user_id)
    assert result.returncode == 0, result.stderr
    assert "watches (theirs, and others' on them): 1" in result.stdout
    assert "others' audit entries naming them (name and id taken out): 1" in result.stdout
    blakes = json.loads(cli(tmp_path, store_url, "audit", "--user", BLAKE.user_id, "--json").stdout)
    assert [(e["operation"], e["outcome"]) for e in blakes] == [("watch", "started")]
    assert "Alex" not in json.dumps(blakes) and ALEX.user_id not in json.dumps(blakes)


def test_no_store_or_no_user_is_one_clear_line(tmp_path: Path) -> None:
    missing = cli(tmp_path, None, "audit", "--user", "someone", data_dir=tmp_path / "elsewhere")
    assert missing.returncode == 1
    assert "no store at" in missing.stderr and "PRESENCE_BOT_DATA_DIR" in missing.stderr
    assert not (tmp_path / "elsewhere").exists()  # nothing created where the admin pointed by mistake
    blank = cli(tmp_path, None, "forget", "--user", "  ")
    assert blank.returncode == 2 and "--user must be an id" in blank.stderr
    unreachable = subprocess.run(
        [sys.executable, "-m", "bot.cli", "audit", "--user", "x"],
        cwd=tmp_path,
        env={
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/x",
            "PRESENCE_BOT_LOG_LEVEL": "CRITICAL",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unreachable.returncode == 1 and "could not open the store" in unreachable.stderr
    for result in (missing, blank, unreachable):
        assert "Traceback" not in result.stderr


async def test_control_characters_in_stored_ids_are_printed_escaped(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'presence-bot.db'}"
    sly = UserRef(user_id="mallory\n\x1b[2Jforged", tenant_id=TENANT)
    store = await open_store(url, tmp_path, AdjustableClock())
    try:
        await store.record_audit(sly, operation="setPresence", outcome="ok\r\nforged", status_code=200)
    finally:
        await store.close()
    result = cli(tmp_path, url, "audit", "--user", sly.user_id)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\r" not in result.stdout
    assert len(result.stdout.splitlines()) == 3  # heading, column names, one entry
    assert "mallory\\n\\x1b[2Jforged" in result.stdout and "ok\\r\\nforged" in result.stdout


async def test_the_running_bot_keeps_a_retention_timer_and_prunes_the_audit(
    http: httpx.AsyncClient, bot: RunningBot, connector: Connector
) -> None:
    runtime = bot.app[RUNTIME]
    assert runtime.settings.store.audit_days == 90
    timer = await runtime.services.timers.get(PRUNE_KEY)
    assert timer is not None and timer.kind == PRUNE_KIND
    await say(http, bot, connector, "/busy 30m")
    audit = await runtime.services.store.user_audit(ALEX_ID)
    assert audit, "the command's Graph write is audited"
    clock = runtime.clock
    assert isinstance(clock, AdjustableClock)
    clock.advance(timedelta(days=91).total_seconds())

    async def pruned() -> bool:
        # The hold's end (now overdue) audits a new write; the entries older than 90 days are to go.
        left = await runtime.services.store.user_audit(ALEX_ID)
        return all(entry.at > clock.now() - timedelta(days=90) for entry in left)

    await eventually(pruned, seconds=10, what="the retention timer pruning the audit")
    following = await runtime.services.timers.get(PRUNE_KEY)
    assert following is not None and following.due_at > clock.now() + timedelta(hours=23)
