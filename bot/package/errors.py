"""The one error of the package builder."""

from __future__ import annotations


class PackageError(ValueError):
    """The package cannot be built as asked: the message says what to change."""
