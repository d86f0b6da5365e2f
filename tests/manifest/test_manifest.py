"""The Teams app package: what Teams admin center would check, and Microsoft's own schema.

The schema check runs tests/js/validate-manifest.mjs (the schemas shipped in the npm package
@microsoft/app-manifest, offline); see tests/support/nodejs.py for how Node and the packages are obtained.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import shutil
import struct
import subprocess
import zipfile
import zlib
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from PIL import Image

from bot.package import (
    BOT_SCOPES,
    COLOR_ICON_SIZE,
    COMMAND_DESCRIPTION_MAX,
    COMMAND_TITLE_MAX,
    MANIFEST_DIR,
    MAX_COMMANDS_PER_LIST,
    OUTLINE_ICON_SIZE,
    PackageError,
    add_package_command,
    build_package,
    check_color_icon,
    check_outline_icon,
    read_png,
    run_package,
)
from bot.turns.commands import COMMANDS
from tests.support.nodejs import node_tools, run_node

APP_ID = "8c2b1e5a-3f4d-4e6b-9a7c-1d2e3f4a5b6c"
DOMAIN = "presence-bot.contoso.com"


def _make_icons() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_icons", MANIFEST_DIR / "make_icons.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_icons = _make_icons()


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("package") / "presence-bot.zip"
    built = build_package(APP_ID, name="Presence Bot", bot_domain=DOMAIN, out=out, version="1.2.3")
    assert built == out
    return out


@pytest.fixture(scope="module")
def unzipped(package: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("unzipped")
    with zipfile.ZipFile(package) as archive:
        archive.extractall(target)
    return target


@pytest.fixture(scope="module")
def manifest(unzipped: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((unzipped / "manifest.json").read_text(encoding="utf-8"))
    return data


def validate(manifest_data: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest_data), encoding="utf-8")
    result = run_node("validate-manifest.mjs", str(path))
    assert result.stdout.strip(), f"validator printed nothing; stderr:\n{result.stderr}"
    report: dict[str, Any] = json.loads(result.stdout)
    assert (result.returncode == 0) == report["ok"], (result.returncode, report)
    return report


# --- the zip ------------------------------------------------------------------------------------------


def test_zip_holds_manifest_and_icons_at_its_root(package: Path) -> None:
    with zipfile.ZipFile(package) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        assert archive.testzip() is None


def test_package_bytes_are_reproducible(package: Path, tmp_path: Path) -> None:
    again = build_package(APP_ID, bot_domain=DOMAIN, out=tmp_path / "nested" / "again.zip", version="1.2.3")
    assert again.read_bytes() == package.read_bytes()


# --- Microsoft's schema -------------------------------------------------------------------------------


def test_manifest_passes_microsofts_schema(manifest: dict[str, Any], tmp_path: Path) -> None:
    report = validate(manifest, tmp_path)
    assert report == {
        "ok": True,
        "errors": [],
        "manifestVersion": manifest["manifestVersion"],
        "schema": report["schema"],
    }
    assert f"/teams/v{manifest['manifestVersion']}/MicrosoftTeams.schema.json" in report["schema"]


def test_manifest_without_a_domain_passes_too(tmp_path: Path) -> None:
    out = build_package(APP_ID, out=tmp_path / "p.zip")
    with zipfile.ZipFile(out) as archive:
        data = json.loads(archive.read("manifest.json"))
    assert data["validDomains"] == []
    assert validate(data, tmp_path)["ok"]


def _breakages() -> list[Any]:
    def bad_bot_id(m: dict[str, Any]) -> None:
        m["bots"][0]["botId"] = "presence-bot"

    def no_developer(m: dict[str, Any]) -> None:
        del m["developer"]

    def unknown_property(m: dict[str, Any]) -> None:
        m["bots"][0]["supportsTelepathy"] = True

    def long_title(m: dict[str, Any]) -> None:
        m["bots"][0]["commandLists"][0]["commands"][0]["title"] = "x" * 200

    def too_many_lists(m: dict[str, Any]) -> None:
        lists = m["bots"][0]["commandLists"]
        lists.append(copy.deepcopy(lists[0]))

    def bad_scope(m: dict[str, Any]) -> None:
        m["bots"][0]["scopes"].append("meeting")

    def bad_colour(m: dict[str, Any]) -> None:
        m["accentColor"] = "purple"

    def http_url(m: dict[str, Any]) -> None:
        m["developer"]["privacyUrl"] = "presence-bot.example.com/privacy"

    def bad_permission(m: dict[str, Any]) -> None:
        m["permissions"] = ["identity", "readEverything"]

    def long_short_name(m: dict[str, Any]) -> None:
        m["name"]["short"] = "Presence Bot with a name far too long"

    cases = [
        (bad_bot_id, "/bots/0/botId"),
        (no_developer, "developer"),
        (unknown_property, "supportsTelepathy"),
        (long_title, "/bots/0/commandLists/0/commands/0/title"),
        (too_many_lists, "/bots/0/commandLists"),
        (bad_scope, "/bots/0/scopes/3"),
        (bad_colour, "/accentColor"),
        (http_url, "/developer/privacyUrl"),
        (bad_permission, "/permissions/1"),
        (long_short_name, "/name/short"),
    ]
    return [pytest.param(change, where, id=change.__name__) for change, where in cases]


@pytest.mark.parametrize(("change", "where"), _breakages())
def test_validator_rejects_a_broken_manifest(
    manifest: dict[str, Any], tmp_path: Path, change: Any, where: str
) -> None:
    broken = copy.deepcopy(manifest)
    change(broken)
    report = validate(broken, tmp_path)
    assert report["ok"] is False
    assert any(where in error for error in report["errors"]), report["errors"]


def test_validator_rejects_a_schema_url_for_another_version(manifest: dict[str, Any], tmp_path: Path) -> None:
    broken = copy.deepcopy(manifest)
    broken["$schema"] = "https://developer.microsoft.com/json-schemas/teams/v1.17/MicrosoftTeams.schema.json"
    report = validate(broken, tmp_path)
    assert report["ok"] is False
    assert any("$schema names v1.17" in error for error in report["errors"])


def test_validator_refuses_an_unknown_manifest_version(manifest: dict[str, Any], tmp_path: Path) -> None:
    broken = copy.deepcopy(manifest)
    broken["manifestVersion"] = "9.99"
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    result = run_node("validate-manifest.mjs", str(path))
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert "no schema shipped for manifestVersion 9.99" in report["errors"][0]


def _can_drop_network() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True, check=False)
    return probe.returncode == 0


def test_validator_works_without_any_network(unzipped: Path) -> None:
    """Run the validator in a network namespace with no interfaces: nothing can be fetched."""
    tools = node_tools()
    if not _can_drop_network():
        pytest.skip("unshare -n is not permitted here (the validator's fetch guard still applies)")
    result = subprocess.run(
        ["unshare", "-n", tools.node, "validate-manifest.mjs", str(unzipped / "manifest.json")],
        cwd=tools.js_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["ok"] is True


# --- what an admin notices ----------------------------------------------------------------------------


def _ihdr(png: bytes) -> tuple[int, int, int, int]:
    """Width, height, bit depth and colour type, from the PNG's IHDR chunk (always the first)."""
    assert png[12:16] == b"IHDR"
    width, height, depth, color_type = struct.unpack(">IIBB", png[16:26])
    return width, height, depth, color_type


def test_icons_have_teams_sizes_and_formats(unzipped: Path) -> None:
    color_png, outline_png = (unzipped / "color.png").read_bytes(), (unzipped / "outline.png").read_bytes()
    color, outline = read_png(color_png), read_png(outline_png)
    assert color.size == (COLOR_ICON_SIZE, COLOR_ICON_SIZE) == (192, 192)
    assert outline.size == (OUTLINE_ICON_SIZE, OUTLINE_ICON_SIZE) == (32, 32)
    assert (color.format, color.mode) == ("PNG", "RGB")
    assert (outline.format, outline.mode) == ("PNG", "RGBA")
    assert _ihdr(color_png) == (192, 192, 8, 2)  # 8-bit RGB: a full-colour, opaque icon
    assert _ihdr(outline_png) == (32, 32, 8, 6)  # 8-bit RGBA: needs transparency


def test_outline_is_white_on_transparent(unzipped: Path) -> None:
    outline = read_png((unzipped / "outline.png").read_bytes()).tobytes()
    pixels = [outline[i : i + 4] for i in range(0, len(outline), 4)]
    assert {bytes(p[:3]) for p in pixels} == {b"\xff\xff\xff"}
    alphas = {p[3] for p in pixels}
    assert 0 in alphas and 255 in alphas  # a real shape on a transparent background
    check_outline_icon((unzipped / "outline.png").read_bytes())


def test_committed_icons_are_what_make_icons_draws() -> None:
    color = read_png((MANIFEST_DIR / "color.png").read_bytes())
    outline = read_png((MANIFEST_DIR / "outline.png").read_bytes())
    drawn_color = make_icons.color_pixels()
    rgb = b"".join(drawn_color[i : i + 3] for i in range(0, len(drawn_color), 4))
    assert color.mode == "RGB" and color.tobytes() == rgb
    assert outline.mode == "RGBA" and outline.tobytes() == make_icons.outline_pixels()


def test_every_scope_has_a_command_list(manifest: dict[str, Any]) -> None:
    bot = manifest["bots"][0]
    assert sorted(bot["scopes"]) == sorted(BOT_SCOPES) == ["groupChat", "personal", "team"]
    listed = [scope for entry in bot["commandLists"] for scope in entry["scopes"]]
    assert sorted(listed) == sorted(bot["scopes"])  # each scope exactly once
    assert bot["supportsFiles"] is False
    assert bot["isNotificationOnly"] is False


def test_commands_come_from_the_catalog_within_teams_limits(manifest: dict[str, Any]) -> None:
    catalog = {doc.name: doc for doc in COMMANDS.docs()}
    menu = [doc.name for doc in COMMANDS.menu()]
    for entry in manifest["bots"][0]["commandLists"]:
        commands = entry["commands"]
        assert len(commands) <= MAX_COMMANDS_PER_LIST == 10
        assert [c["title"] for c in commands] == menu
        for command in commands:
            assert 1 <= len(command["title"]) <= COMMAND_TITLE_MAX == 32
            assert 1 <= len(command["description"]) <= COMMAND_DESCRIPTION_MAX == 128
            doc = catalog[command["title"]]
            assert command["description"].startswith(doc.description)
            rest = command["description"][len(doc.description) :]
            assert rest in ("", f" e.g. {doc.examples[0]}")


def test_menu_leaves_out_the_rarer_commands() -> None:
    menu = [doc.name for doc in COMMANDS.menu()]
    assert menu == ["busy", "dnd", "available", "away", "lunch", "set", "status", "who", "watch", "help"]
    left_out = {doc.name for doc in COMMANDS.docs()} - set(menu)
    assert left_out == {
        "presence",
        "conference",
        "presenting",
        "brb",
        "offline",
        "extend",
        "clear",
        "reset",
        "unwatch",
        "timezone",
        "notify",
    }


def test_ids_are_the_app_id(manifest: dict[str, Any]) -> None:
    assert manifest["id"] == APP_ID
    assert manifest["bots"][0]["botId"] == APP_ID
    assert manifest["webApplicationInfo"]["id"] == APP_ID
    assert manifest["webApplicationInfo"]["resource"] == f"api://botid-{APP_ID}"


def test_names_versions_domains_and_permissions(manifest: dict[str, Any]) -> None:
    assert manifest["name"]["short"] == "Presence Bot"
    assert len(manifest["name"]["short"]) <= 30 and len(manifest["name"]["full"]) <= 100
    assert len(manifest["description"]["short"]) <= 80 and len(manifest["description"]["full"]) <= 4000
    assert manifest["version"] == "1.2.3"
    assert manifest["validDomains"] == [DOMAIN]
    assert manifest["permissions"] == ["identity", "messageTeamMembers"]
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    developer = manifest["developer"]
    assert all(developer[k].startswith("https://") for k in ("websiteUrl", "privacyUrl", "termsOfUseUrl"))
    assert "${{" not in json.dumps(manifest)


# --- refusals with a clear message --------------------------------------------------------------------


@pytest.mark.parametrize(
    "app_id",
    [
        "",
        "presence-bot",
        "8c2b1e5a3f4d4e6b9a7c1d2e3f4a5b6c",
        "{8c2b1e5a-3f4d-4e6b-9a7c-1d2e3f4a5b6c}",
        "8c2b1e5a-3f4d-4e6b-9a7c-1d2e3f4a5b6g",
    ],
)
def test_a_non_guid_app_id_is_refused(app_id: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"is not a GUID: Teams requires the bot's Microsoft Entra"):
        build_package(app_id, out=tmp_path / "p.zip")
    assert not (tmp_path / "p.zip").exists()


def test_the_nil_guid_is_refused_as_a_placeholder(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match="placeholder"):
        build_package("00000000-0000-0000-0000-000000000000", out=tmp_path / "p.zip")


def test_an_upper_case_guid_is_accepted_and_normalised(tmp_path: Path) -> None:
    out = build_package(APP_ID.upper(), out=tmp_path / "p.zip")
    with zipfile.ZipFile(out) as archive:
        assert json.loads(archive.read("manifest.json"))["id"] == APP_ID


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bot_domain": "https://bot.contoso.com/"}, "host name only"),
        ({"bot_domain": "bot.contoso.com:3978"}, "host name only"),
        ({"bot_domain": "not a host"}, "not a valid host name"),
        ({"name": "x" * 31}, "at most 30"),
        ({"name": "  "}, "empty"),
        ({"version": "1.0"}, "MAJOR.MINOR.PATCH"),
        ({"version": "1.0.0-beta.1"}, "pre-release"),
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, Any], message: str, tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=message):
        build_package(APP_ID, out=tmp_path / "p.zip", **kwargs)


def _rgba(size: int, pixel: tuple[int, int, int, int]) -> bytes:
    return bytes(pixel) * (size * size)


def test_icon_checks_refuse_what_teams_refuses() -> None:
    encode = make_icons.encode_png
    with pytest.raises(PackageError, match=r"color.png is 32×32; Teams requires 192×192"):
        check_color_icon(encode(32, 32, _rgba(32, (1, 2, 3, 255)), alpha=False))
    with pytest.raises(PackageError, match="not a PNG"):
        check_color_icon(b"GIF89a" + bytes(100))
    with pytest.raises(PackageError, match=r"outline.png is 192×192"):
        check_outline_icon(encode(192, 192, _rgba(192, (255, 255, 255, 255)), alpha=True))
    with pytest.raises(PackageError, match="no transparency"):
        check_outline_icon(encode(32, 32, _rgba(32, (255, 255, 255, 255)), alpha=False))
    with pytest.raises(PackageError, match=r"non-white pixel at \(0, 0\)"):
        check_outline_icon(encode(32, 32, _rgba(32, (0x4F, 0x52, 0xB2, 128)), alpha=True))
    with pytest.raises(PackageError, match="fully transparent"):
        check_outline_icon(encode(32, 32, _rgba(32, (0, 0, 0, 0)), alpha=True))
    good = encode(32, 32, _rgba(32, (255, 255, 255, 0)), alpha=True)
    idat = good.index(b"IDAT")
    corrupt = bytearray(good)
    corrupt[idat + 6] ^= 0xFF  # inside the IDAT chunk's data
    with pytest.raises(PackageError, match="bad CRC"):
        check_outline_icon(bytes(corrupt))
    corrupt = bytearray(good)
    corrupt[idat + 3] ^= 0xFF  # the chunk's type: "IDA\xab" is no chunk at all
    with pytest.raises(PackageError, match=r"outline.png: not a PNG file, or one whose header is damaged"):
        check_outline_icon(bytes(corrupt))
    with pytest.raises(PackageError, match="truncated"):
        check_outline_icon(good[: len(good) - 12])  # no IEND


def test_outline_check_names_the_first_visible_non_white_pixel() -> None:
    pixels = bytearray(_rgba(32, (255, 255, 255, 0)))

    def put(x: int, y: int, pixel: tuple[int, int, int, int]) -> None:
        pixels[(y * 32 + x) * 4 : (y * 32 + x + 1) * 4] = bytes(pixel)

    put(20, 3, (255, 255, 255, 255))
    put(1, 5, (0, 0, 0, 0))  # not white, but invisible: fine
    put(9, 7, (255, 254, 255, 1))  # barely visible and barely off-white: the first offender
    put(2, 8, (0, 0, 0, 255))
    with pytest.raises(PackageError, match=r"non-white pixel at \(9, 7\)"):
        check_outline_icon(make_icons.encode_png(32, 32, bytes(pixels), alpha=True))
    put(9, 7, (255, 255, 255, 1))
    put(2, 8, (255, 255, 255, 255))
    check_outline_icon(make_icons.encode_png(32, 32, bytes(pixels), alpha=True))


def test_outline_transparency_may_come_from_a_palette() -> None:
    """A palette PNG with a transparent entry (tRNS) is white on transparent too: Pillow reads it."""
    image = Image.new("P", (32, 32), 0)
    image.putpalette([0, 0, 0, 255, 255, 255])
    image.paste(1, (8, 8, 24, 24))
    out = BytesIO()
    image.save(out, format="PNG", transparency=0)
    check_outline_icon(out.getvalue())
    out = BytesIO()
    image.save(out, format="PNG")  # the same, with no transparent entry
    with pytest.raises(PackageError, match="no transparency"):
        check_outline_icon(out.getvalue())


def test_png_reader_undoes_every_filter() -> None:
    """Icons saved by other tools use PNG filters 1–4: the outline check must decode them."""
    width = height = 4
    pixels = b"".join(
        bytes((255, 255, 255, (x * 60 + y * 7) % 256)) for y in range(height) for x in range(width)
    )
    stride, bpp = width * 4, 4
    raw = bytearray()
    previous = bytes(stride)
    for y in range(height):
        line = pixels[y * stride : (y + 1) * stride]
        kind = y % 4 + 1  # Sub, Up, Average, Paeth
        out = bytearray()
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            p = a + b - c
            paeth = (
                a
                if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c)
                else (b if abs(p - b) <= abs(p - c) else c)
            )
            predictor = {1: a, 2: b, 3: (a + b) // 2, 4: paeth}[kind]
            out.append((line[i] - predictor) & 0xFF)
        raw += bytes([kind]) + out
        previous = line

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(bytes(raw)))
        + chunk(b"IEND", b"")
    )
    assert read_png(png).tobytes() == pixels


# --- the CLI ------------------------------------------------------------------------------------------


def _cli() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="presence-bot")
    add_package_command(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_builds_the_package(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "build" / "presence-bot.zip"
    args = _cli().parse_args(
        ["package", "--app-id", APP_ID, "--name", "Presence", "--domain", DOMAIN, "--out", str(out)]
    )
    assert run_package(args) == 0
    assert f"Wrote {out}" in capsys.readouterr().out
    with zipfile.ZipFile(out) as archive:
        data = json.loads(archive.read("manifest.json"))
    assert data["name"]["short"] == "Presence"
    assert data["validDomains"] == [DOMAIN]


def test_cli_explains_a_bad_app_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _cli().parse_args(["package", "--app-id", "my-bot", "--out", str(tmp_path / "p.zip")])
    assert run_package(args) == 2
    err = capsys.readouterr().err
    assert "presence-bot package: app id 'my-bot' is not a GUID" in err
    assert not (tmp_path / "p.zip").exists()


def test_cli_requires_an_app_id(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _cli().parse_args(["package"])
    assert exit_info.value.code == 2
    assert "--app-id" in capsys.readouterr().err


# --- the Node helper ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("ci", "outcome"), [("true", "fails"), ("", "skips")])
def test_node_helper_skips_locally_but_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str, outcome: str
) -> None:
    import tests.support.nodejs as nodejs

    monkeypatch.setattr(nodejs, "_outcome", None)
    monkeypatch.setattr(shutil, "which", lambda name: None)  # no node, no npm, no apt-get
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if outcome == "fails" else pytest.skip.Exception
    with pytest.raises(expected, match="no apt-get to install them"):
        nodejs.ensure_node_packages()
    with pytest.raises(expected):  # the outcome is cached: no second attempt
        nodejs.ensure_node_packages()
    assert isinstance(nodejs._outcome, str)


# --- the publisher -----------------------------------------------------------------------------------


def test_cli_sets_the_publisher_and_the_manifest_still_passes_microsofts_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "contoso.zip"
    args = _cli().parse_args(
        [
            "package",
            "--app-id",
            APP_ID,
            "--out",
            str(out),
            "--developer-name",
            "Contoso IT",
            "--website-url",
            "https://it.contoso.com/",
            "--privacy-url",
            "https://it.contoso.com/privacy",
            "--terms-url",
            "https://it.contoso.com/terms",
            "--accent-color",
            "#107c10",
        ]
    )
    assert run_package(args) == 0
    printed = capsys.readouterr().out
    assert "example.com" not in printed, "no placeholder warning once the links are set"
    with zipfile.ZipFile(out) as archive:
        data = json.loads(archive.read("manifest.json"))
    assert data["developer"] == {
        "name": "Contoso IT",
        "websiteUrl": "https://it.contoso.com/",
        "privacyUrl": "https://it.contoso.com/privacy",
        "termsOfUseUrl": "https://it.contoso.com/terms",
    }
    assert data["accentColor"] == "#107C10"
    assert validate(data, tmp_path)["ok"]


def test_cli_warns_while_the_links_are_placeholders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _cli().parse_args(["package", "--app-id", APP_ID, "--out", str(tmp_path / "p.zip")])
    assert run_package(args) == 0
    assert "still point at presence-bot.example.com" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--developer-name", "x" * 33, "at most 32"),
        ("--developer-name", "   ", "empty"),
        ("--website-url", "http://it.contoso.com/", "must be an https:// URL"),
        ("--privacy-url", "contoso.com/privacy", "must be an https:// URL"),
        ("--terms-url", "https://it.contoso.com/" + "t" * 2100, "at most 2048"),
        ("--accent-color", "green", "hex colour"),
        ("--accent-color", "#12345", "hex colour"),
    ],
)
def test_cli_refuses_a_publisher_teams_would_refuse(
    option: str, value: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "p.zip"
    args = _cli().parse_args(["package", "--app-id", APP_ID, "--out", str(out), option, value])
    assert run_package(args) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"presence-bot package: {option}") and message in error
    assert len(error.splitlines()) == 1 and not out.exists()
