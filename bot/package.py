"""The Teams app package: `manifest.json`, `color.png` and `outline.png`, zipped at the root.

`build_package()` fills `manifest/manifest.template.json`, generates the bot's `commandLists` from the
command catalog (`bot.core.catalog.COMMANDS`, the one place command text lives), checks what Teams
admin center checks on upload (GUID ids, name and description lengths, command limits, icon sizes and
formats, an outline icon that is white on transparent), and writes the zip.

`add_package_command()` / `run_package()` are the `presence-bot package` sub-command.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TypeAlias

from bot.core.catalog import COMMANDS
from bot.core.views import CommandDoc

JsonValue: TypeAlias = "dict[str, JsonValue] | list[JsonValue] | str | int | float | bool | None"
JsonObject: TypeAlias = "dict[str, JsonValue]"

# manifest/manifest.template.json is on manifestVersion 1.30: the newest schema @microsoft/app-manifest
# ships (tests validate against it) and the current generally available version in Microsoft's
# manifest reference (August 2026). Nothing in it needs more than 1.19, so if a tenant's upload refused
# 1.30, setting "$schema" and "manifestVersion" to an older version is the whole change.
MANIFEST_DIR = Path(__file__).resolve().parent.parent / "manifest"
TEMPLATE_NAME = "manifest.template.json"
COLOR_ICON = "color.png"
OUTLINE_ICON = "outline.png"
DEFAULT_OUT = Path("build/presence-bot.zip")
DEFAULT_NAME = "Presence Bot"

# Teams' rules for what this package declares (the schema is looser on some: see the notes).
COLOR_ICON_SIZE = 192
OUTLINE_ICON_SIZE = 32
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

# The 10 commands offered in the compose box's command menu, most useful first. Text comes from the
# catalog; this only picks and orders. Left out (all still work, and /help lists them):
# - `conference`: a rarer flavour of Busy (`/busy` covers "in a call"),
# - `presenting`: a rarer flavour of Do not disturb (`/dnd` covers it),
# - `clear`: ends only the bot's session; `/reset` is what people want when "back to normal".
MENU_COMMANDS: tuple[str, ...] = (
    "busy",
    "dnd",
    "available",
    "away",
    "brb",
    "offline",
    "status",
    "reset",
    "presence",
    "help",
)

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NIL_GUID = "00000000-0000-0000-0000-000000000000"
# A host name as Teams' validDomains wants it: no scheme, no path, no port; `*.` allowed in front.
_HOST = re.compile(
    r"^(\*\.)?(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$"
)
# Teams accepts MAJOR.MINOR.PATCH only (a semver pre-release suffix is refused on upload).
_APP_VERSION = re.compile(r"^\d{1,9}\.\d{1,9}\.\d{1,9}$")
_PLACEHOLDER = re.compile(r"\$\{\{([A-Z0-9_]+)\}\}")


class PackageError(ValueError):
    """The package cannot be built as asked: the message says what to change."""


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
    if not _GUID.match(value):
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
    """The compose-box command menu, from the catalog (`MENU_COMMANDS` picks and orders)."""
    by_name = {doc.name: doc for doc in COMMANDS}
    missing = [name for name in MENU_COMMANDS if name not in by_name]
    if missing:
        raise PackageError(f"MENU_COMMANDS names commands the catalog does not have: {missing}")
    commands: list[JsonObject] = []
    for name in MENU_COMMANDS:
        doc = by_name[name]
        commands.append({"title": doc.name, "description": _menu_description(doc)})
    return commands


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
) -> JsonObject:
    """The filled and checked manifest (what goes into the zip as manifest.json)."""
    app_id = validate_app_id(app_id)
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
    if not _GUID.match(app_id):
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


# --- icons ------------------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type → samples per pixel (palette, 3, not decoded)
_COLOR_TYPE_NAMES = {0: "greyscale", 2: "RGB", 3: "palette", 4: "greyscale+alpha", 6: "RGBA"}


@dataclass(frozen=True)
class PngImage:
    width: int
    height: int
    bit_depth: int
    color_type: int
    interlaced: bool
    pixels: bytes | None = None  # 8-bit samples, row after row, filters undone (when decoded)

    @property
    def channels(self) -> int:
        return _CHANNELS.get(self.color_type, 1)

    @property
    def has_alpha(self) -> bool:
        return self.color_type in (4, 6)

    def describe(self) -> str:
        kind = _COLOR_TYPE_NAMES.get(self.color_type, f"colour type {self.color_type}")
        return f"{self.width}×{self.height} {self.bit_depth}-bit {kind}"


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(raw: bytes, width: int, height: int, bpp: int) -> bytes:
    stride = width * bpp
    if len(raw) != height * (stride + 1):
        raise PackageError(f"PNG image data has {len(raw)} bytes, expected {height * (stride + 1)}")
    out = bytearray(height * stride)
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            up_left = previous[i - bpp] if i >= bpp else 0
            if kind == 0:
                continue
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + _paeth(left, up, up_left)) & 0xFF
            else:
                raise PackageError(f"PNG row {y} has unknown filter type {kind}")
        out[y * stride : (y + 1) * stride] = line
        previous = line
    return bytes(out)


def read_png(data: bytes, *, decode: bool = False) -> PngImage:
    """Read a PNG's header (and with `decode`, its 8-bit pixels); `PackageError` if it is not a PNG."""
    if not data.startswith(_PNG_SIGNATURE):
        raise PackageError("not a PNG file (bad signature)")
    pos = len(_PNG_SIGNATURE)
    header: tuple[int, int, int, int, int] | None = None
    idat = bytearray()
    seen_end = False
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        crc_bytes = data[pos + 8 + length : pos + 12 + length]
        if len(body) != length or len(crc_bytes) != 4:
            raise PackageError(f"PNG chunk {kind!r} is truncated")
        if struct.unpack(">I", crc_bytes)[0] != zlib.crc32(kind + body):
            raise PackageError(f"PNG chunk {kind!r} has a bad CRC")
        if header is None and kind != b"IHDR":
            raise PackageError("PNG does not start with an IHDR chunk")
        if kind == b"IHDR":
            if length != 13:
                raise PackageError("PNG IHDR chunk has the wrong length")
            width, height, depth, color_type, _compression, _filter, interlace = struct.unpack(
                ">IIBBBBB", body
            )
            header = (width, height, depth, color_type, interlace)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            seen_end = True
            break
        pos += 12 + length
    if header is None or not seen_end:
        raise PackageError("PNG is incomplete (no IHDR or no IEND)")
    width, height, depth, color_type, interlace = header
    if color_type not in _COLOR_TYPE_NAMES:
        raise PackageError(f"PNG has an invalid colour type {color_type}")
    image = PngImage(width, height, depth, color_type, interlace == 1)
    if not decode:
        return image
    if depth != 8 or color_type not in _CHANNELS or image.interlaced:
        raise PackageError(
            f"cannot check the pixels of a {image.describe()}{' interlaced' if image.interlaced else ''} "
            "PNG: save it as 8-bit RGBA, not interlaced"
        )
    try:
        raw = zlib.decompress(bytes(idat))
    except zlib.error as error:
        raise PackageError(f"PNG image data is corrupt: {error}") from None
    pixels = _unfilter(raw, width, height, image.channels)
    return PngImage(width, height, depth, color_type, False, pixels)


def check_color_icon(data: bytes) -> PngImage:
    """color.png: a PNG of 192×192 pixels."""
    try:
        image = read_png(data)
    except PackageError as error:
        raise PackageError(f"{COLOR_ICON}: {error}") from None
    if (image.width, image.height) != (COLOR_ICON_SIZE, COLOR_ICON_SIZE):
        raise PackageError(
            f"{COLOR_ICON} is {image.width}×{image.height}; Teams requires "
            f"{COLOR_ICON_SIZE}×{COLOR_ICON_SIZE}"
        )
    return image


def check_outline_icon(data: bytes) -> PngImage:
    """outline.png: a 32×32 PNG with transparency whose every visible pixel is white."""
    try:
        image = read_png(data, decode=True)
    except PackageError as error:
        raise PackageError(f"{OUTLINE_ICON}: {error}") from None
    if (image.width, image.height) != (OUTLINE_ICON_SIZE, OUTLINE_ICON_SIZE):
        raise PackageError(
            f"{OUTLINE_ICON} is {image.width}×{image.height}; Teams requires "
            f"{OUTLINE_ICON_SIZE}×{OUTLINE_ICON_SIZE}"
        )
    if not image.has_alpha:
        raise PackageError(
            f"{OUTLINE_ICON} is {image.describe()} with no transparency; Teams requires white on a "
            "transparent background (save it as RGBA)"
        )
    assert image.pixels is not None
    step = image.channels
    colour = step - 1
    visible = 0
    for index in range(0, len(image.pixels), step):
        alpha = image.pixels[index + colour]
        if alpha == 0:
            continue
        visible += 1
        if any(sample != 0xFF for sample in image.pixels[index : index + colour]):
            pixel = index // step
            x, y = pixel % image.width, pixel // image.width
            raise PackageError(
                f"{OUTLINE_ICON} has a non-white pixel at ({x}, {y}); Teams requires only white "
                "and transparent pixels"
            )
    if visible == 0:
        raise PackageError(f"{OUTLINE_ICON} is fully transparent")
    return image


# --- the zip ----------------------------------------------------------------------------------------


def _zip_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible bytes
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def build_package(
    app_id: str,
    *,
    name: str = DEFAULT_NAME,
    bot_domain: str | None = None,
    out: Path = DEFAULT_OUT,
    version: str = DEFAULT_VERSION,
) -> Path:
    """Write the Teams app package (manifest.json, color.png, outline.png at the zip's root).

    Raises `PackageError` (a `ValueError`) with a message saying what to fix: an app id that is not a
    GUID, a bad domain, name or version, or icons Teams would refuse.
    """
    manifest = render_manifest(app_id, name=name, bot_domain=bot_domain, version=version)
    icons: dict[str, bytes] = {}
    for icon in (COLOR_ICON, OUTLINE_ICON):
        path = MANIFEST_DIR / icon
        try:
            icons[icon] = path.read_bytes()
        except FileNotFoundError:
            raise PackageError(f"{path} not found (python manifest/make_icons.py draws it)") from None
    check_color_icon(icons[COLOR_ICON])
    check_outline_icon(icons[OUTLINE_ICON])

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    body = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    fd, temp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w") as archive:
            archive.writestr(_zip_entry("manifest.json"), body)
            for icon in (COLOR_ICON, OUTLINE_ICON):
                archive.writestr(_zip_entry(icon), icons[icon])
        os.replace(temp_name, out)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return out


# --- CLI --------------------------------------------------------------------------------------------


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
