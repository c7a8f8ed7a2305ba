"""Every schema change must stay BACKWARD compatible with every released version.

BACKWARD: a consumer on the current schema reads everything written under any
released version (so processors and sinks can be upgraded before producers, and a
replay of 30 days of raw topics still decodes).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import avro.schema
import pytest
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from schemas import SchemaStore


def _incompatibilities(reader: dict[str, Any], writer: dict[str, Any]) -> list[str]:
    result = ReaderWriterCompatibilityChecker().get_compatibility(
        avro.schema.parse(json.dumps(reader)), avro.schema.parse(json.dumps(writer))
    )
    if result.compatibility is SchemaCompatibilityType.compatible:
        return []
    return sorted(str(m) for m in result.messages) or ["incompatible"]


STORE = SchemaStore.default()


@pytest.mark.parametrize("name", STORE.names())
def test_current_schema_reads_every_released_version(name: str) -> None:
    history = STORE.history(name)
    assert history, f"schemas/history/{name}/ has no released version"
    for old in history:
        assert _incompatibilities(STORE.current(name).raw, old.raw) == [], f"{name} v{old.version:04d}"


@pytest.mark.parametrize("name", STORE.names())
def test_current_schema_is_released(name: str) -> None:
    latest = STORE.history(name)[-1]
    assert STORE.current(name).canonical == latest.canonical, (
        f"schemas/{name}.avsc differs from its last release v{latest.version:04d}: "
        f"copy it to schemas/history/{name}/v{latest.version + 1:04d}.avsc"
    )


def test_a_new_required_field_is_caught() -> None:
    changed = copy.deepcopy(STORE.current("clean_encounter").raw)
    changed["fields"].append({"name": "district_code", "type": "string"})
    problems = _incompatibilities(changed, STORE.current("clean_encounter").raw)
    assert problems and "district_code" in " ".join(problems)


def test_a_new_optional_field_is_accepted() -> None:
    changed = copy.deepcopy(STORE.current("clean_encounter").raw)
    changed["fields"].append({"name": "district_code", "type": ["null", "string"], "default": None})
    assert _incompatibilities(changed, STORE.current("clean_encounter").raw) == []


def test_a_narrowed_type_is_caught() -> None:
    changed = copy.deepcopy(STORE.current("sheet_row").raw)
    for field in changed["fields"]:
        if field["name"] == "polled_at":
            field["type"] = "int"
    assert _incompatibilities(changed, STORE.current("sheet_row").raw)
