"""Errors raised by the reference-data package.

A broken shipped file is a :class:`ReferenceDataError` (fatal: the release is
wrong); looking up an id or code the reference does not know is an
:class:`UnknownReferenceError`, a :class:`~daas.errors.ValidationError` so that
processors can dead-letter the record that carried it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from daas.errors import DaasError, ValidationError

__all__ = ["ReferenceDataError", "UnknownReferenceError"]


class ReferenceDataError(DaasError):
    """A reference data file is missing, malformed or inconsistent."""


class UnknownReferenceError(ValidationError, LookupError):
    """An id or code is not in the reference data; the message suggests close matches."""

    def __init__(self, kind: str, value: str, known: Iterable[str], *, hint: str | None = None) -> None:
        if hint is None:
            close = difflib.get_close_matches(value, list(known), n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(close)}?" if close else None
        super().__init__(f"unknown {kind} {value!r}" + (f"; {hint}" if hint else ""))
        self.kind = kind
        self.value = value
