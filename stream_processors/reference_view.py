"""The reference data the processors validate against, in the shape the transforms use."""

from __future__ import annotations

from collections.abc import Mapping

from stream_processors.transform import Facility, IcdEntry

__all__ = ["load_reference"]


def load_reference() -> tuple[Mapping[str, Facility], Mapping[str, IcdEntry]]:
    """Facility register (by id) and ICD-10 list (by code), from the `reference` package."""
    from reference import load_geography, load_icd10

    return load_geography().facilities, load_icd10()
