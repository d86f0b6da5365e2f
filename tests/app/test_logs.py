"""Logs: one line per record in both formats whatever the values hold (newlines, NUL, ANSI escapes), no
secrets, and the activity and correlation ids on every line of an activity's handling; in a unit, and
in a real `presence-bot serve` process fed a hostile activity."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.logs import configure_logging, correlation_id, escape_control, log_context
from tests.support.builders import TENANT, activity, make_settings
from tests.support.connector import Connector
from tests.support.procs import BotProcess, running

SECRET = "s3cret-Value-of-the-app"
GRAPH_SECRET = "graph~Secret~Value~42"
DB_PASSWORD = "db-pass-9876"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGV4In0.c2lnbmF0dXJl"
# A tenant id that tries to end the line and write a record of its own, then clear the terminal.
FORGED = "2026-01-01 00:00:00,000 CRITICAL bot.app: forged"
SLY = f'evil\n{FORGED}\x00\x1b[2J\r\u2028{{"level": "CRITICAL"}}'
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: ")

log = logging.getLogger("tests.logs")


@pytest.fixture
def root_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def configured(tmp_path: Path, log_format: str) -> io.StringIO:
    stream = io.StringIO()
    settings = make_settings(
        tmp_path,
        logging={"format": log_format, "level": "DEBUG"},
        bot={"app_password": SECRET},
        graph={"client_secret": GRAPH_SECRET},
        store={"database_url": f"postgresql+asyncpg://bot:{DB_PASSWORD}@127.0.0.1/presence"},
    )
    configure_logging(settings, stream)
    return stream


def log_hostile_records() -> None:
    log.warning("refused tenant %s", SLY, extra={"tenant": SLY, "attempt": 2})
    try:
        raise ValueError(f"bad tenant {SLY}")
    except ValueError:
        log.exception("could not handle an activity from %s", SLY)


@pytest.mark.usefixtures("root_restored")
def test_json_lines_parse_and_hold_one_record_each(tmp_path: Path) -> None:
    stream = configured(tmp_path, "json")
    with log_context("activity-1", "cv-1"):
        log_hostile_records()
    lines = stream.getvalue().splitlines()  # splits on \u2028 and \r too: none may be left raw
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert set(first) >= {"time", "level", "logger", "message", "activity_id", "correlation_id"}
    assert first["level"] == "WARNING" and first["logger"] == "tests.logs"
    assert first["message"] == f"refused tenant {escape_control(SLY)}"
    assert "\\n2026-01-01" in first["message"] and "\\x00\\x1b[2J\\r\\u2028" in first["message"]
    assert first["tenant"] == escape_control(SLY) and first["attempt"] == 2  # extra fields, escaped too
    assert (first["activity_id"], first["correlation_id"]) == ("activity-1", "cv-1")
    assert "Traceback" in second["exception"] and "ValueError: bad tenant evil\\n" in second["exception"]
    assert all(ord(char) >= 0x20 for char in stream.getvalue().replace("\n", ""))


@pytest.mark.usefixtures("root_restored")
def test_text_lines_escape_control_characters_tracebacks_included(tmp_path: Path) -> None:
    stream = configured(tmp_path, "text")
    with log_context("activity-1", "cv-1"):
        log_hostile_records()
    log.info("outside any activity")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert all(TEXT_LINE.match(line) for line in lines), lines
    assert "refused tenant evil\\n2026-01-01 00:00:00,000 CRITICAL bot.app: forged\\x00\\x1b[2J" in lines[0]
    assert lines[0].endswith("[activity=activity-1 correlation=cv-1]")
    assert "Traceback (most recent call last):\\n" in lines[1]
    assert lines[2].endswith("outside any activity")


@pytest.mark.parametrize("log_format", ["json", "text"])
@pytest.mark.usefixtures("root_restored")
def test_secrets_never_reach_the_log(tmp_path: Path, log_format: str) -> None:
    stream = configured(tmp_path, log_format)
    log.info("token request with client_secret=%s&grant_type=client_credentials", SECRET)
    log.info("calling Graph with Authorization: Bearer %s", JWT)
    log.warning("a token in passing: %s", JWT, extra={"headers": {"Authorization": f"Bearer {JWT}"}})
    log.info("database at postgresql://bot:%s@db/presence", DB_PASSWORD)
    log.info("Graph secret %s", GRAPH_SECRET)
    try:
        raise RuntimeError(f"msal said: invalid secret {SECRET}")
    except RuntimeError:
        log.exception("token failure")
    text = stream.getvalue()
    for secret in (SECRET, GRAPH_SECRET, DB_PASSWORD, JWT, "eyJ"):
        assert secret not in text
    assert text.count("[redacted]") >= 6  # (json also shows the extra field, redacted)
    assert len(text.splitlines()) == 6


def test_the_correlation_id_is_the_callers_or_a_new_one() -> None:
    assert correlation_id({"MS-CV": "Ab12.3"}) == "Ab12.3"
    assert correlation_id({"x-ms-correlation-id": "c0ffee\n\x1b[2J forged"}) == "c0ffee2Jforged"
    assert correlation_id({"MS-CV": "x" * 500}) == "x" * 128
    made = correlation_id({})
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", made)
    assert correlation_id({}) != made


# -- a real process ------------------------------------------------------------------------------------
def records(output: str, log_format: str) -> list[dict[str, Any]]:
    """The log records in a process's output, each checked to be exactly one well-formed line (the
    lines the command line prints for people are left out)."""
    found: list[dict[str, Any]] = []
    for line in output.splitlines():
        if line.startswith(
            ("Mode:", "Presence Bot is listening", "Graph:", "Bot Framework Emulator:", "Stopping")
        ):
            continue
        if log_format == "json":
            found.append(json.loads(line))  # a line that is not one whole object fails here
        else:
            assert TEXT_LINE.match(line), f"not a record of its own: {line!r}"
            found.append({"message": line})
    return found


@pytest.mark.parametrize("log_format", ["json", "text"])
async def test_a_hostile_tenant_id_cannot_forge_a_line_in_a_real_process(
    tmp_path: Path, http: httpx.AsyncClient, connector: Connector, log_format: str
) -> None:
    bot = BotProcess(
        tmp_path / "data",
        {
            "PRESENCE_BOT_LOG_FORMAT": log_format,
            "PRESENCE_BOT_LOG_LEVEL": "DEBUG",
            "ALLOWED_TENANTS": TENANT,
            # A Graph secret configured (Graph on this machine, as a standalone simulated tenant would
            # be; the hostile tenant is refused before any Graph call): it must never reach the log.
            "GRAPH_CLIENT_ID": "5ad0b075-0000-4000-8000-0000000000aa",
            "GRAPH_CLIENT_SECRET": SECRET,
            "GRAPH_TENANT_ID": TENANT,
            "GRAPH_BASE_URL": "http://127.0.0.1:9/v1.0",
            "GRAPH_AUTHORITY_HOST": "https://127.0.0.1:9",
        },
        ready_path="/healthz",  # no Graph answers on port 9: never "ready", and not needed here
    )
    # Control characters in an id never get past the body check (400, tests/app/test_bad_requests.py);
    # what does get in and is logged (the tenant an activity names) is still escaped and redacted.
    refused = activity("/busy 30m", service_url=connector.url)
    refused["conversation"]["tenantId"] = f"{SLY}{SECRET}|{JWT}"
    hostile = f'evil {FORGED} {{"level": "CRITICAL"}} {SECRET}|{JWT}'
    body = activity("/busy 30m", service_url=connector.url)
    body["conversation"]["tenantId"] = hostile
    body["channelData"] = {"tenant": {"id": hostile}}
    async with running(bot):
        response = await http.post(f"{bot.url}/api/messages", json=refused)
        assert response.status_code == 400 and "conversation.tenantId" in response.text, response.text
        response = await http.post(f"{bot.url}/api/messages", json=body, headers={"MS-CV": "cv-from-teams.1"})
        assert response.status_code in (200, 201), response.text
        await connector.wait_for(1)  # the polite refusal
        await bot.stop()
    output = bot.log_text()
    found = records(output, log_format)
    about = [r for r in found if "evil" in json.dumps(r)]
    assert len(about) >= 2, output  # the activity's own line and the refusal
    assert not [line for line in output.splitlines() if line.startswith((FORGED, '{"level"', "\x1b"))]
    for secret in (SECRET, JWT):
        assert secret not in output
    for record in about:
        if log_format == "json":
            assert record["activity_id"] == body["id"] and record["correlation_id"] == "cv-from-teams.1"
        else:
            assert f"[activity={body['id']} correlation=cv-from-teams.1]" in record["message"]
