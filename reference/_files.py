"""Reads the data files shipped inside the package (``reference/data``)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from reference.errors import ReferenceDataError

__all__ = ["read_json", "read_text"]


def read_text(name: str) -> str:
    """The text of ``reference/data/<name>``; a missing file is a broken release."""
    try:
        return resources.files("reference").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise ReferenceDataError(f"reference data file data/{name} cannot be read: {exc}") from exc


def read_json(name: str) -> dict[str, Any]:
    """The top-level JSON object of ``reference/data/<name>``."""
    try:
        document = json.loads(read_text(name))
    except json.JSONDecodeError as exc:
        raise ReferenceDataError(f"data/{name} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ReferenceDataError(f"data/{name} must hold a JSON object at the top level")
    return document
