"""The shared fixtures (`bot`, `connector`, `http`, `store_url`) come from one plugin:
tests/support/fixtures.py.

Test modules import helper functions from `tests.support.*` only, never from another test module.
"""

pytest_plugins = ["tests.support.fixtures"]
