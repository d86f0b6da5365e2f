"""The Teams app package itself: `manifest.json`, `color.png` and `outline.png`, zipped at the root."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import IO

from bot.core.files import write_atomically
from bot.package.errors import PackageError
from bot.package.icons import COLOR_ICON, OUTLINE_ICON, check_color_icon, check_outline_icon
from bot.package.manifest import DEFAULT_NAME, DEFAULT_VERSION, MANIFEST_DIR, render_manifest
from bot.package.publisher import Publisher

DEFAULT_OUT = Path("build/presence-bot.zip")


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
    publisher: Publisher | None = None,
) -> Path:
    """Write the Teams app package (manifest.json, color.png, outline.png at the zip's root).

    Raises `PackageError` (a `ValueError`) with a message saying what to fix: an app id that is not a
    GUID, a bad domain, name or version, or icons Teams would refuse. Nothing is written then.
    """
    manifest = render_manifest(app_id, name=name, bot_domain=bot_domain, version=version, publisher=publisher)
    icons: dict[str, bytes] = {}
    for icon in (COLOR_ICON, OUTLINE_ICON):
        path = MANIFEST_DIR / icon
        try:
            icons[icon] = path.read_bytes()
        except FileNotFoundError:
            raise PackageError(f"{path} not found (python manifest/make_icons.py draws it)") from None
    check_color_icon(icons[COLOR_ICON])
    check_outline_icon(icons[OUTLINE_ICON])
    body = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    def write_zip(handle: IO[bytes]) -> None:
        with zipfile.ZipFile(handle, "w") as archive:
            archive.writestr(_zip_entry("manifest.json"), body)
            for icon in (COLOR_ICON, OUTLINE_ICON):
                archive.writestr(_zip_entry(icon), icons[icon])

    out = Path(out)
    write_atomically(out, write_zip)
    return out
