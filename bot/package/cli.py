"""`presence-bot package`: build the Teams app package from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.package.build import DEFAULT_OUT, build_package
from bot.package.errors import PackageError
from bot.package.manifest import DEFAULT_NAME, DEFAULT_VERSION, SHORT_NAME_MAX
from bot.package.publisher import DEVELOPER_NAME_MAX, PLACEHOLDER_HOST, Publisher


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
    defaults = Publisher()
    publisher = parser.add_argument_group(
        "publisher", "what Teams shows as the app's publisher (set these before you publish it to users)"
    )
    publisher.add_argument(
        "--developer-name",
        default=defaults.developer_name,
        help=f"your organization, at most {DEVELOPER_NAME_MAX} characters (default: %(default)s)",
    )
    publisher.add_argument("--website-url", default=defaults.website_url, help="https URL of your site")
    publisher.add_argument(
        "--privacy-url", default=defaults.privacy_url, help="https URL of your privacy notice"
    )
    publisher.add_argument("--terms-url", default=defaults.terms_url, help="https URL of your terms of use")
    publisher.add_argument(
        "--accent-color", default=defaults.accent_color, help="#RRGGBB behind the icon (default: %(default)s)"
    )
    return parser


def run_package(args: argparse.Namespace) -> int:
    """Carry out `presence-bot package`; returns the process exit code (0, or 2 with a message)."""
    publisher = Publisher(
        developer_name=args.developer_name,
        website_url=args.website_url,
        privacy_url=args.privacy_url,
        terms_url=args.terms_url,
        accent_color=args.accent_color,
    )
    try:
        path = build_package(
            args.app_id,
            name=args.name,
            bot_domain=args.domain,
            out=args.out,
            version=args.app_version,
            publisher=publisher,
        )
    except PackageError as error:
        print(f"presence-bot package: {error}", file=sys.stderr)
        return 2
    print(f"Wrote {path}")
    if publisher.uses_placeholders:
        print(
            f"Note: the website, privacy and terms links still point at {PLACEHOLDER_HOST}; set "
            "--website-url, --privacy-url and --terms-url before you publish the app to users."
        )
    print("Upload it in Teams admin center → Teams apps → Manage apps → Upload new app.")
    return 0
