"""The shared fixtures (`bot`, `connector`, `http`, `store_url`) come from one plugin:
tests/support/fixtures.py.

Test modules import helper functions from `tests.support.*` only, never from another test module.

`make test` runs the suite on two pytest-xdist workers (`-n 2 --dist loadgroup`). The tests that start
real `presence-bot serve` processes or headless Chromium each load both CPUs, so they share one
`xdist_group` ("heavy"): one worker runs them one after the other while the other worker runs the rest.
A module whose module-scoped fixture is expensive (the manifest validator's runs) is kept on one worker.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.support.fixtures"]

# Path prefix (from the repository root) → xdist group.
XDIST_GROUPS = {
    "tests/processes/": "heavy",
    "tests/playground/": "heavy",
    "tests/cards/test_render.py": "heavy",
    "tests/manifest/test_manifest.py": "manifest",
}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks (`--dist loadgroup`)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = config.rootpath
    for item in items:
        where = item.path.relative_to(root).as_posix()
        for prefix, group in XDIST_GROUPS.items():
            if where.startswith(prefix):
                item.add_marker(pytest.mark.xdist_group(group))
                break
