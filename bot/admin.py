"""`presence-bot audit` and `presence-bot forget`: a user's data, exported or erased (privacy requests).

Both open the bot's own store, SQLite in `PRESENCE_BOT_DATA_DIR` or `DATABASE_URL`, and may run while
the bot runs. A user is their Entra object id (as Teams sends it, and as the audit log keeps it); without
`--tenant` every tenant's rows for that id are meant.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.clock import SystemClock
from bot.config import Settings
from bot.logs import escape_control, one_line
from bot.store.engine import DB_FILE
from bot.store.records import AuditEntry
from bot.store.store import Store, open_store

_MAX_ID = 256


def add_admin_commands(sub: Any) -> None:
    """Register `audit` and `forget` on the `presence-bot` subcommands; each sets `args.admin`."""
    audit = sub.add_parser(
        "audit", help="print a user's audit entries (the bot's Graph writes for them), newest first"
    )
    _who(audit)
    audit.add_argument("--json", action="store_true", help="one JSON array, with each request sent")
    audit.set_defaults(admin=_audit)
    forget = sub.add_parser(
        "forget", help="remove everything stored about a user (a privacy request) and print what went"
    )
    _who(forget)
    forget.set_defaults(admin=_forget)


def _who(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", required=True, help="the user's Entra object id (as in the audit log)")
    parser.add_argument("--tenant", default=None, help="only this tenant id (default: every tenant)")


def run_admin(args: argparse.Namespace, settings: Settings) -> int:
    """Run the subcommand `args.admin`; returns the exit status."""
    user = args.user.strip()
    tenant = args.tenant.strip() if args.tenant is not None else None
    if not user or len(user) > _MAX_ID or (tenant is not None and len(tenant) > _MAX_ID):
        print(
            f"--user must be an id of 1 to {_MAX_ID} characters (and --tenant at most {_MAX_ID})",
            file=sys.stderr,
        )
        return 2
    command: Callable[[Store, argparse.Namespace, str, str | None], Awaitable[int]] = args.admin
    return asyncio.run(_with_store(settings, lambda store: command(store, args, user, tenant)))


async def _with_store(settings: Settings, work: Callable[[Store], Awaitable[int]]) -> int:
    if settings.store.database_url is None and not (settings.store.data_dir / DB_FILE).is_file():
        print(
            f"no store at {settings.store.data_dir / DB_FILE}: set PRESENCE_BOT_DATA_DIR (or DATABASE_URL) "
            "as the bot has it",
            file=sys.stderr,
        )
        return 1
    try:
        store = await open_store(settings.store.database_url, settings.store.data_dir, SystemClock())
    except (OSError, ValueError, SQLAlchemyError) as error:
        print(f"could not open the store: {escape_control(one_line(error))}", file=sys.stderr)
        return 1
    try:
        return await work(store)
    except (OSError, SQLAlchemyError) as error:
        print(f"the store failed: {escape_control(one_line(error))}", file=sys.stderr)
        return 1
    finally:
        await store.close()


def _whom(user: str, tenant: str | None) -> str:
    where = f"tenant {tenant}" if tenant is not None else "every tenant"
    return escape_control(f"user {user} ({where})")


async def _audit(store: Store, args: argparse.Namespace, user: str, tenant: str | None) -> int:
    entries = await store.user_audit(user, tenant)
    if args.json:
        print(json.dumps([_exported(entry) for entry in entries], indent=2))
        return 0
    if not entries:
        print(f"no audit entries for {_whom(user, tenant)}")
        return 0
    count = f"{len(entries)} audit entr{'y' if len(entries) == 1 else 'ies'}"
    print(f"{count} for {_whom(user, tenant)}, newest first:")
    print(f"{'time (UTC)':<20}  {'operation':<24}  {'outcome':<24}  status")
    for entry in entries:
        status = str(entry.status_code) if entry.status_code is not None else "-"
        line = f"{entry.at:%Y-%m-%d %H:%M:%S}  {entry.operation:<24}  {entry.outcome:<24}  {status}"
        print(escape_control(line))
    return 0


def _exported(entry: AuditEntry) -> dict[str, Any]:
    return {
        "time": entry.at.isoformat(),
        "tenant": entry.tenant_id,
        "user": entry.user_id,
        "operation": entry.operation,
        "outcome": entry.outcome,
        "status": entry.status_code,
        "request": entry.request,
        "detail": entry.detail,
    }


async def _forget(store: Store, args: argparse.Namespace, user: str, tenant: str | None) -> int:
    report = await store.forget_user(user, tenant)
    if report.total == 0:
        print(f"nothing stored about {_whom(user, tenant)}")
        return 0
    print(f"removed everything stored about {_whom(user, tenant)}:")
    for label, count in (
        ("settings (time zone, notices)", report.users),
        ("holds", report.holds),
        ("their timers", report.timers),
        ("conversation references", report.conversation_references),
        ("audit entries", report.audit_entries),
        ("user leases", report.user_leases),
        ("watches (theirs, and others' on them)", report.watches),
        ("others' audit entries naming them (name and id taken out)", report.audit_mentions),
    ):
        print(f"  {label}: {count}")
    if report.active_holds:
        print(
            f"  {report.active_holds} of the holds still active: the bot no longer keeps it, and Teams may "
            "show its state until Microsoft Graph lets it lapse (at most 4 hours)"
        )
    return 0
