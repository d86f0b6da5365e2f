"""The Teams app package: `manifest.json`, `color.png` and `outline.png`, zipped at the root.

One module per job:
- `manifest`: fills `manifest/manifest.template.json`, generates the bot's `commandLists` from the
  command catalog and checks what Teams admin center checks on upload (GUID ids, name and description
  lengths, command limits);
- `icons`: checks the icons' sizes and formats, and that the outline icon is white on transparent;
- `build`: `build_package()`, which writes the zip;
- `cli`: `add_package_command()` / `run_package()`, the `presence-bot package` sub-command.
"""

from bot.package.build import DEFAULT_OUT, build_package
from bot.package.cli import add_package_command, run_package
from bot.package.errors import PackageError
from bot.package.icons import (
    COLOR_ICON,
    COLOR_ICON_SIZE,
    OUTLINE_ICON,
    OUTLINE_ICON_SIZE,
    check_color_icon,
    check_outline_icon,
    read_png,
)
from bot.package.manifest import (
    BOT_SCOPES,
    COMMAND_DESCRIPTION_MAX,
    COMMAND_TITLE_MAX,
    DEFAULT_NAME,
    DEFAULT_VERSION,
    FULL_DESCRIPTION_MAX,
    FULL_NAME_MAX,
    MANIFEST_DIR,
    MAX_COMMANDS_PER_LIST,
    SHORT_DESCRIPTION_MAX,
    SHORT_NAME_MAX,
    TEMPLATE_NAME,
    check_manifest,
    command_lists,
    load_template,
    menu_commands,
    render_manifest,
    validate_app_id,
    validate_domain,
    validate_name,
    validate_version,
)

__all__ = [
    "BOT_SCOPES",
    "COLOR_ICON",
    "COLOR_ICON_SIZE",
    "COMMAND_DESCRIPTION_MAX",
    "COMMAND_TITLE_MAX",
    "DEFAULT_NAME",
    "DEFAULT_OUT",
    "DEFAULT_VERSION",
    "FULL_DESCRIPTION_MAX",
    "FULL_NAME_MAX",
    "MANIFEST_DIR",
    "MAX_COMMANDS_PER_LIST",
    "OUTLINE_ICON",
    "OUTLINE_ICON_SIZE",
    "SHORT_DESCRIPTION_MAX",
    "SHORT_NAME_MAX",
    "TEMPLATE_NAME",
    "PackageError",
    "add_package_command",
    "build_package",
    "check_color_icon",
    "check_manifest",
    "check_outline_icon",
    "command_lists",
    "load_template",
    "menu_commands",
    "read_png",
    "render_manifest",
    "run_package",
    "validate_app_id",
    "validate_domain",
    "validate_name",
    "validate_version",
]
