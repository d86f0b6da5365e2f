"""`presence-bot serve | simulator | package | audit | forget`."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import signal
import sys
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bot.config import SIM_TENANT_ID, Settings, explain
from bot.core.net import is_loopback_host
from bot.modes import ConfigurationError, Mode, bind_refusal, decide_mode

log = logging.getLogger("presence_bot")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        for line in explain(error):
            print(f"configuration error: {line}", file=sys.stderr)
        raise SystemExit(2) from None


def _mode(settings: Settings, host: str, allow_unauthenticated: bool) -> Mode:
    """The start-up mode, or one line naming what to fix and exit status 2."""
    mode = decide_mode(settings)
    if isinstance(mode, ConfigurationError):
        print(f"configuration error: {mode}", file=sys.stderr)
        raise SystemExit(2)
    refusal = bind_refusal(mode, host, allow_unauthenticated=allow_unauthenticated)
    if refusal is not None:
        print(f"configuration error: {refusal}", file=sys.stderr)
        raise SystemExit(2)
    if not mode.authenticated and not is_loopback_host(host):
        log.warning(
            "listening on %s WITHOUT authentication (--allow-unauthenticated): anyone who reaches this "
            "port can use the bot; replies go only to a serviceUrl on this machine",
            host,
        )
    return mode


async def _serve(settings: Settings, host: str, port: int, allow_unauthenticated: bool) -> None:
    from bot.logs import one_line
    from bot.server import start_bot

    mode = _mode(settings, host, allow_unauthenticated)
    print(mode.line(), flush=True)
    try:
        running = await start_bot(settings, host, port, mode=mode)
    except OSError as error:
        if error.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            print(f"could not listen on {host}:{port}: {error.strerror}", file=sys.stderr)
        else:  # most likely the database (DATABASE_URL) could not be reached
            print(f"could not start Presence Bot: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    except (ValueError, SQLAlchemyError) as error:  # the store: an unsupported or unreachable database
        print(f"could not start Presence Bot: {one_line(error)}", file=sys.stderr)
        raise SystemExit(1) from None
    endpoint = f"{running.url}/api/messages"
    print(f"Presence Bot is listening on {endpoint}", flush=True)
    if mode.simulated_graph:
        print(
            f"Graph: the built-in simulated tenant at {running.url}/sim/v1.0 "
            f"(inspect a user: {running.url}/sim/_sim/users/<id>, from this machine)",
            flush=True,
        )
    if not mode.authenticated:
        print(
            f"Bot Framework Emulator: open a bot at {endpoint} with no App ID and no password.",
            flush=True,
        )
    await _until_signalled()
    await running.stop()


async def _until_signalled() -> None:
    """Wait for SIGINT or SIGTERM, then say so."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("Stopping…", flush=True)


async def _simulator(
    settings: Settings,
    host: str,
    port: int,
    identity_port: int | None,
    data_dir: Path | None,
    tenants: list[str] | None,
) -> None:
    """The simulated tenant alone, to point a bot at as at a real tenant (docs/simulator.md)."""
    from bot.sim.standalone import start_standalone

    directory = data_dir if data_dir is not None else settings.store.data_dir / "simulator"
    try:
        simulator = await start_standalone(
            directory,
            host=host,
            port=port,
            identity_port=identity_port,
            tenant_ids=tenants or [SIM_TENANT_ID],
        )
    except OSError as error:
        print(f"could not start the simulated tenant: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"Simulated Graph tenant: Graph at {simulator.graph_base_url}", flush=True)
    print(f"  control routes at {simulator.url}/_sim (users, clock, faults, stats)", flush=True)
    print(f"  identity platform at {simulator.identity_url}, state in {directory}", flush=True)
    print("Point the bot at it as at a real tenant (a shell, or a .env file):", flush=True)
    for line in simulator.environment_lines():
        print(line, flush=True)
    await _until_signalled()
    await simulator.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="presence-bot", description="Presence Bot for Microsoft Teams")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve", help="run the bot (development mode, with the simulated tenant, when nothing is configured)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3978)
    serve.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="let development mode (no MicrosoftAppId: nothing is authenticated) listen on a non-loopback "
        "address; anyone who reaches the port can then use the bot",
    )
    simulator = sub.add_parser(
        "simulator", help="run the simulated Graph tenant alone, to point a bot at as at a real tenant"
    )
    simulator.add_argument("--host", default="127.0.0.1")
    simulator.add_argument("--port", type=int, default=3980, help="Graph's port (0: any free port)")
    simulator.add_argument(
        "--identity-port", type=int, default=None, help="the identity platform's TLS port (default: port+1)"
    )
    simulator.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="state, keys and CA (default: $PRESENCE_BOT_DATA_DIR/simulator)",
    )
    simulator.add_argument(
        "--tenant",
        action="append",
        default=None,
        help=f"a tenant id where the app is registered (repeatable; default {SIM_TENANT_ID})",
    )
    from bot.admin import add_admin_commands, run_admin
    from bot.logs import configure_logging
    from bot.package import add_package_command, run_package

    add_package_command(sub)
    add_admin_commands(sub)  # audit, forget: a user's data exported or erased
    args = parser.parse_args(argv)
    if args.command == "package":  # needs no configuration
        raise SystemExit(run_package(args))
    settings = _settings()  # read once: the environment and .env
    configure_logging(settings)
    if getattr(args, "admin", None) is not None:
        raise SystemExit(run_admin(args, settings))
    # A reply to an unreachable channel is retried by urllib3, one WARNING per try; the bot logs the
    # outcome once (bot/teams/handler.py).
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    if args.command == "serve":
        asyncio.run(_serve(settings, args.host, args.port, args.allow_unauthenticated))
    elif args.command == "simulator":
        asyncio.run(
            _simulator(settings, args.host, args.port, args.identity_port, args.data_dir, args.tenant)
        )


if __name__ == "__main__":
    main()
