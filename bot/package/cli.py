"""`presence-bot package`: build the Teams app package from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.package.build import DEFAULT_OUT, build_package
from bot.package.errors import PackageError
from bot.package.manifest import DEFAULT_NAME, DEFAULT_VERSION, SHORT_NAME_MAX


def add_package_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add `package` to the `presence-bot` sub-commands; `run_package(args)` carries it out."""
    parser = subparsers.add_parser(
        "package",
        help="build the Teams app package to upload in Teams admin center",
        description=(
            "Build the Teams app package: manifest.json, color.png and outline.png in one zip, "
            "ready for Teams admin center → Teams apps → Manage apps → Upload new app."
        ),
    )
    parser.add_argument(
        "--app-id",
        required=True,
        help="the bot's Microsoft Entra Application (client) ID, a GUID (also the Teams app id)",
    )
    parser.add_argument(
        "--name",
        default=DEFAULT_NAME,
        help=f"the app name people see in Teams, at most {SHORT_NAME_MAX} characters (default: %(default)s)",
    )
    parser.add_argument(
        "--domain",
        default=None,
        help="the bot's host name, e.g. bot.contoso.com (listed in validDomains)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="where to write the zip (default: %(default)s)",
    )
    parser.add_argument(
        "--app-version",
        default=DEFAULT_VERSION,
        help="the app package version, MAJOR.MINOR.PATCH; raise it for every update (default: %(default)s)",
    )
    return parser


def run_package(args: argparse.Namespace) -> int:
    """Carry out `presence-bot package`; returns the process exit code (0, or 2 with a message)."""
    try:
        path = build_package(
            args.app_id,
            name=args.name,
            bot_domain=args.domain,
            out=args.out,
            version=args.app_version,
        )
    except PackageError as error:
        print(f"presence-bot package: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {path}")
    print("Upload it in Teams admin center → Teams apps → Manage apps → Upload new app.")
    return 0
