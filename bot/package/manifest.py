"""The Teams app manifest: `manifest/manifest.template.json` filled and checked.

`render_manifest()` fills the template, generates the bot's `commandLists` from the command registry
(`bot.turns.commands.COMMANDS`, where each command is declared once) and checks what Teams admin center
checks on upload and the schema alone does not (GUID ids, name and description lengths, command limits).
"""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path
from typing import TypeAlias

from bot.core.tenants import GUID
from bot.core.views import CommandDoc
from bot.package.errors import PackageError
from bot.package.publisher import Publisher
from bot.turns.commands import COMMANDS

JsonValue: TypeAlias = "dict[str, JsonValue] | list[JsonValue] | str | int | float | bool | None"
JsonObject: TypeAlias = "dict[str, JsonValue]"

# manifest/manifest.template.json is on manifestVersion 1.30: the newest schema @microsoft/app-manifest
# ships (tests validate against it) and the current generally available version in Microsoft's
# manifest reference (August 2026). Nothing in it needs more than 1.19, so if a tenant's upload refused
# 1.30, setting "$schema" and "manifestVersion" to an older version is the whole change.
MANIFEST_DIR = Path(__file__).resolve().parent.parent.parent / "manifest"
TEMPLATE_NAME = "manifest.template.json"
DEFAULT_NAME = "Presence Bot"

# Teams' rules for what this package declares (the schema is looser on some: see the notes).
SHORT_NAME_MAX = 30
FULL_NAME_MAX = 100
SHORT_DESCRIPTION_MAX = 80
FULL_DESCRIPTION_MAX = 4000
# Command menu limits: 32-character titles and 128-character descriptions are the limits Teams has
# documented for bot commands all along; schemas from v1.24 on accept longer text (and 12 commands,
# for Copilot Studio starter prompts), but the compose box shows 10 and truncates long text, so the
# package keeps to the long-standing limits.
MAX_COMMANDS_PER_LIST = 10
COMMAND_TITLE_MAX = 32
COMMAND_DESCRIPTION_MAX = 128
BOT_SCOPES: tuple[str, ...] = ("personal", "groupChat", "team")

_NIL_GUID = "00000000-0000-0000-0000-000000000000"
# A host name as Teams' validDomains wants it: no scheme, no path, no port; `*.` allowed in front.
_HOST = re.compile(
    r"^(\*\.)?(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$"
)
# Teams accepts MAJOR.MINOR.PATCH only (a semver pre-release suffix is refused on upload).
_APP_VERSION = re.compile(r"^\d{1,9}\.\d{1,9}\.\d{1,9}$")
_PLACEHOLDER = re.compile(r"\$\{\{([A-Z0-9_]+)\}\}")


def _default_version() -> str:
    """The project's version as MAJOR.MINOR.PATCH (what Teams accepts), or 1.0.0."""
    try:
        found = re.match(r"\d+\.\d+\.\d+", metadata.version("presence-bot"))
    except metadata.PackageNotFoundError:
        found = None
    return found.group(0) if found else "1.0.0"


DEFAULT_VERSION = _default_version()


# --- inputs -----------------------------------------------------------------------------------------


def validate_app_id(app_id: str) -> str:
    """The app id, stripped, if it is a GUID (Teams requires one); `PackageError` otherwise."""
    value = app_id.strip()
    if not GUID.match(value):
        raise PackageError(
            f"app id {app_id!r} is not a GUID: Teams requires the bot's Microsoft Entra "
            "Application (client) ID, like 8c2b1e5a-3f4d-4e6b-9a7c-1d2e3f4a5b6c "
            "(Entra admin center → App registrations → your app → Overview)"
        )
    if value == _NIL_GUID:
        raise PackageError(
            "app id 00000000-0000-0000-0000-000000000000 is a placeholder: use the bot's Microsoft "
            "Entra Application (client) ID"
        )
    return value.lower()


def validate_domain(domain: str) -> str:
    """The bot's host name for `validDomains`, lower-cased; `PackageError` for a URL or a bad name."""
    value = domain.strip().lower()
    if "://" in value or "/" in value or ":" in value:
        raise PackageError(
            f"domain {domain!r} must be a host name only, like bot.contoso.com "
            "(no https://, no path, no port)"
        )
    if not _HOST.match(value):
        raise PackageError(f"domain {domain!r} is not a valid host name (expected e.g. bot.contoso.com)")
    return value


def validate_version(version: str) -> str:
    value = version.strip()
    if not _APP_VERSION.match(value):
        raise PackageError(
            f"version {version!r} must be MAJOR.MINOR.PATCH, like 1.0.0 "
            "(Teams refuses pre-release suffixes); raise it for every update you upload"
        )
    return value


def validate_name(name: str) -> str:
    value = name.strip()
    if not value:
        raise PackageError("the app name is empty")
    if len(value) > SHORT_NAME_MAX:
        raise PackageError(
            f"app name {value!r} has {len(value)} characters; Teams allows at most {SHORT_NAME_MAX}"
        )
    return value


# --- manifest ---------------------------------------------------------------------------------------


def _menu_description(doc: CommandDoc) -> str:
    """The catalog's one-line description, with its first example when that adds something (an
    argument) and still fits."""
    if doc.examples and doc.examples[0] != doc.usage:
        with_example = f"{doc.description} e.g. {doc.examples[0]}"
        if len(with_example) <= COMMAND_DESCRIPTION_MAX:
            return with_example
    return doc.description


def menu_commands() -> list[JsonObject]:
    """The compose-box command menu: the commands whose declaration gives them a place in it
    (`bot.turns.commands`), most useful first. Left out on purpose (all still work, and /help lists
    them): `conference` and `presenting` (rarer flavours of /busy and /dnd), `clear` (/reset is what
    people want when "back to normal"), `offline` (the picker offers it), `reset` (a held state's card has
    "End now"), `unwatch` (/watch's answer has "Stop watching"), `presence` (every answer shows it)."""
    return [{"title": doc.name, "description": _menu_description(doc)} for doc in COMMANDS.menu()]


def command_lists() -> list[JsonValue]:
    """One commandList per bot scope, as Teams asks ("a separate command list for each scope")."""
    commands = menu_commands()
    return [{"scopes": [scope], "commands": list(commands)} for scope in BOT_SCOPES]


def _fill(value: JsonValue, values: dict[str, JsonValue]) -> JsonValue:
    """Replace `${{NAME}}` placeholders: a string that is only a placeholder takes any JSON value;
    a placeholder inside a longer string takes a string."""
    if isinstance(value, dict):
        return {key: _fill(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, values) for item in value]
    if not isinstance(value, str):
        return value
    whole = _PLACEHOLDER.fullmatch(value)
    if whole:
        key = whole.group(1)
        if key not in values:
            raise PackageError(f"{TEMPLATE_NAME} has a placeholder the builder does not fill: {value}")
        return values[key]

    def inline(match: re.Match[str]) -> str:
        key = match.group(1)
        filled = values.get(key)
        if not isinstance(filled, str):
            raise PackageError(f"{TEMPLATE_NAME}: {match.group(0)} cannot be used inside a string")
        return filled

    return _PLACEHOLDER.sub(inline, value)


def load_template(manifest_dir: Path = MANIFEST_DIR) -> JsonObject:
    path = manifest_dir / TEMPLATE_NAME
    try:
        template = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PackageError(
            f"{path} not found: run from a checkout of Presence Bot (the manifest/ folder)"
        ) from None
    if not isinstance(template, dict):
        raise PackageError(f"{path} is not a JSON object")
    return template


def render_manifest(
    app_id: str,
    *,
    name: str = DEFAULT_NAME,
    bot_domain: str | None = None,
    version: str = DEFAULT_VERSION,
    manifest_dir: Path = MANIFEST_DIR,
    publisher: Publisher | None = None,
) -> JsonObject:
    """The filled and checked manifest (what goes into the zip as manifest.json)."""
    app_id = validate_app_id(app_id)
    by = (publisher or Publisher()).checked()
    short_name = validate_name(name)
    full_name = f"{short_name}: set your Teams presence from chat"
    if len(full_name) > FULL_NAME_MAX:
        full_name = short_name
    domains: list[JsonValue] = [validate_domain(bot_domain)] if bot_domain else []
    values: dict[str, JsonValue] = {
        "APP_ID": app_id,
        "APP_VERSION": validate_version(version),
        "SHORT_NAME": short_name,
        "FULL_NAME": full_name,
        "COMMAND_LISTS": command_lists(),
        "VALID_DOMAINS": domains,
        # The bot does not use Teams SSO; Teams still wants a resource it can trust, and the bot
        # form of an Application ID URI is always under the app owner's control.
        "WEB_APP_RESOURCE": f"api://botid-{app_id}",
        "DEVELOPER_NAME": by.developer_name,
        "WEBSITE_URL": by.website_url,
        "PRIVACY_URL": by.privacy_url,
        "TERMS_URL": by.terms_url,
        "ACCENT_COLOR": by.accent_color,
    }
    manifest = _fill(load_template(manifest_dir), values)
    assert isinstance(manifest, dict)
    check_manifest(manifest)
    return manifest


def _text(manifest: JsonObject, *keys: str) -> str:
    node: JsonValue = manifest
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            raise PackageError(f"manifest: {'.'.join(keys)} is missing")
        node = node[key]
    if not isinstance(node, str):
        raise PackageError(f"manifest: {'.'.join(keys)} is not a string")
    return node


def check_manifest(manifest: JsonObject) -> None:
    """What Teams refuses on upload and the schema alone does not say (or says more loosely)."""
    leftover = _PLACEHOLDER.findall(json.dumps(manifest))
    if leftover:
        raise PackageError(f"manifest: unfilled placeholders {sorted(set(leftover))}")
    limits = {
        ("name", "short"): SHORT_NAME_MAX,
        ("name", "full"): FULL_NAME_MAX,
        ("description", "short"): SHORT_DESCRIPTION_MAX,
        ("description", "full"): FULL_DESCRIPTION_MAX,
    }
    for keys, limit in limits.items():
        text = _text(manifest, *keys)
        if not text.strip() or len(text) > limit:
            raise PackageError(f"manifest: {'.'.join(keys)} must have 1–{limit} characters, has {len(text)}")
    app_id = _text(manifest, "id")
    if not GUID.match(app_id):
        raise PackageError(f"manifest: id {app_id!r} is not a GUID")
    bots = manifest.get("bots")
    if not isinstance(bots, list) or len(bots) != 1 or not isinstance(bots[0], dict):
        raise PackageError("manifest: expected exactly one bot")
    bot = bots[0]
    if bot.get("botId") != app_id:
        raise PackageError("manifest: the bot id must be the app id")
    scopes = bot.get("scopes")
    lists = bot.get("commandLists")
    if not isinstance(scopes, list) or not isinstance(lists, list):
        raise PackageError("manifest: the bot needs scopes and commandLists")
    covered: list[JsonValue] = []
    for entry in lists:
        if not isinstance(entry, dict):
            raise PackageError("manifest: a commandList is not an object")
        entry_scopes = entry.get("scopes")
        commands = entry.get("commands")
        if not isinstance(entry_scopes, list) or not isinstance(commands, list):
            raise PackageError("manifest: a commandList needs scopes and commands")
        covered.extend(entry_scopes)
        if not 1 <= len(commands) <= MAX_COMMANDS_PER_LIST:
            raise PackageError(
                f"manifest: a commandList has {len(commands)} commands; Teams shows at most "
                f"{MAX_COMMANDS_PER_LIST}"
            )
        for command in commands:
            if not isinstance(command, dict):
                raise PackageError("manifest: a command is not an object")
            title = command.get("title")
            description = command.get("description")
            if not isinstance(title, str) or not 1 <= len(title) <= COMMAND_TITLE_MAX:
                raise PackageError(
                    f"manifest: command title {title!r} must have 1–{COMMAND_TITLE_MAX} characters"
                )
            if not isinstance(description, str) or len(description) > COMMAND_DESCRIPTION_MAX:
                raise PackageError(
                    f"manifest: the description of {title!r} must have at most "
                    f"{COMMAND_DESCRIPTION_MAX} characters"
                )
    if sorted(map(str, covered)) != sorted(map(str, scopes)):
        raise PackageError(f"manifest: commandLists cover {covered}, the bot's scopes are {scopes}")
    web_app = manifest.get("webApplicationInfo")
    if isinstance(web_app, dict) and web_app.get("id") != app_id:
        raise PackageError("manifest: webApplicationInfo.id must be the app id")
