"""The shared fixtures (`bot`, `connector`, `http`, `store_url`) come from one plugin:
tests/support/fixtures.py.

Test modules import helper functions from `tests.support.*` only, never from another test module.

`make test` runs the suite on three pytest-xdist workers (`-n 3 --dist loadgroup`). The tests that start
real `presence-bot serve` processes or headless Chromium each load both CPUs, so they share one
group ("heavy"): one worker runs them one after the other while the other worker runs the rest. A module
whose module-scoped fixture is expensive (the manifest validator's runs) is kept on one worker too.
"""

from __future__ import annotations

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadScopeScheduling

pytest_plugins = ["tests.support.fixtures"]

# Path prefix (from the repository root) → the group whose tests run on one worker, one after another.
XDIST_GROUPS = {
    "tests/processes/": "heavy",
    "tests/playground/": "heavy",
    "tests/cards/test_render.py": "heavy",
    "tests/manifest/test_manifest.py": "manifest",
}


class PathGroupScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist ships no types
    """`--dist loadgroup` with the groups above: a group's tests are one unit of work (one worker), every
    other test a unit of its own. (xdist's own loadgroup reads `xdist_group` marks through a node id
    suffix that pytest 9 no longer lets it write, so its groups would be ignored.) The biggest units go
    first, so the heavy group starts at once on one worker while the other takes the rest."""

    def _split_scope(self, nodeid: str) -> str:
        for prefix, group in XDIST_GROUPS.items():
            if nodeid.startswith(prefix):
                return group
        return nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> PathGroupScheduling | None:
    if config.getvalue("dist") != "loadgroup":
        return None
    return PathGroupScheduling(config, log)
