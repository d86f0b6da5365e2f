"""`presence-bot serve | simulator | package`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from pydantic import ValidationError

from bot.config import Settings

log = logging.getLogger("presence_bot")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            print(f"configuration error: {problem['msg']}", file=sys.stderr)
        raise SystemExit(2) from None


async def _serve(host: str, port: int) -> None:
    from bot.server import start_bot

    settings = _settings()
    running = await start_bot(settings, host, port)
    endpoint = f"{running.url}/api/messages"
    print(f"Presence Bot is listening on {endpoint}", flush=True)
    if settings.uses_simulator:
        print(
            f"Graph: the built-in simulated tenant at {running.url}/sim/v1.0 "
            f"(inspect a user: {running.url}/sim/_sim/users/<id>)",
            flush=True,
        )
    else:
        print(f"Graph: {settings.graph_base_url}", flush=True)
    print(
        f"Bot Framework Emulator: open a bot at {endpoint} with no App ID and no password.",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("Stopping…", flush=True)
    await running.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="presence-bot", description="Presence Bot for Microsoft Teams")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve", help="run the bot (with the simulated tenant when Graph is not configured)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3978)
    from bot.package import add_package_command, run_package

    add_package_command(sub)
    args = parser.parse_args(argv)
    if args.command == "package":  # needs no configuration
        raise SystemExit(run_package(args))
    logging.basicConfig(
        level=_settings().log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command == "serve":
        asyncio.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
