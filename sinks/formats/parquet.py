"""Parquet as a format: records to Arrow tables typed by the Avro schema, then bytes.

The Arrow schema comes from the Avro schema (``schemas.columns``), never from the
data, so every file of the lake has the same fields in the same order with the same
types whatever a batch happens to contain. Values may arrive as Avro primitives
(what the S3 sink decodes: days, epoch milliseconds, uuid text) or as Python logical
values (``date``, ``datetime``, ``UUID``); both convert column by column in bulk.

Rows convert in one C++ pass (a struct array); only when that fails is each column
converted on its own, and a failing column value by value, to find the culprits. A
value that does not convert (wrong type, out of range, a null in a required column, a
uuid that is not one) rejects only its row; the others are written. Called by the S3
sink.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from daas.dead_letter import UNCONVERTIBLE_VALUE, Reason
from schemas.columns import Column, arrow_schema, columns

__all__ = ["ParquetFormat"]

_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_CONVERSION_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError, UnicodeError)


class ParquetFormat:
    """Converts records of one Avro record schema to Arrow and Parquet."""

    content_type = "application/vnd.apache.parquet"
    extension = ".parquet"

    def __init__(self, avro_schema: dict[str, Any], *, compression: str = "zstd",
                 compression_level: int | None = None) -> None:
        self.columns: list[Column] = columns(avro_schema)
        self.schema: pa.Schema = arrow_schema(avro_schema)
        self._struct = pa.struct(list(self.schema))
        self.compression = compression
        self.compression_level = compression_level

    def to_table(self, rows: Sequence[dict[str, Any]]) -> tuple[pa.Table, dict[int, Reason]]:
        """An Arrow table of the rows that convert, and the index and reason of each
        row that does not."""
        try:
            # One C++ pass over the dicts (Table.from_pylist loops per column in Python).
            table = pa.Table.from_batches([pa.RecordBatch.from_struct_array(pa.array(rows, type=self._struct))],
                                          schema=self.schema)
        except _CONVERSION_ERRORS:
            table = None  # find the culprits column by column
        if table is not None:
            bad = self._check(table.columns, rows)
            if not bad:
                return table, {}
        else:
            arrays, bad = self._arrays(rows)
            if not bad:
                return pa.Table.from_arrays(arrays, schema=self.schema), {}
        kept = [i for i in range(len(rows)) if i not in bad]
        arrays, again = self._arrays([rows[i] for i in kept])
        if again:  # a conversion that fails only in company: reject those as well
            bad.update({kept[i]: reason for i, reason in again.items()})
            kept = [i for i in range(len(rows)) if i not in bad]
            arrays, _ = self._arrays([rows[i] for i in kept])
        return pa.Table.from_arrays(arrays, schema=self.schema), bad

    def _check(self, arrays: Sequence[pa.Array | pa.ChunkedArray], rows: Sequence[dict[str, Any]]) -> dict[int, Reason]:
        """Rules Arrow does not enforce on its own, for every column."""
        bad: dict[int, Reason] = {}
        for column, array in zip(self.columns, arrays, strict=True):
            for i, reason in _check_column(column, array, rows).items():
                bad.setdefault(i, reason)
        return bad

    def _arrays(self, rows: Sequence[dict[str, Any]]) -> tuple[list[pa.Array], dict[int, Reason]]:
        arrays: list[pa.Array] = []
        bad: dict[int, Reason] = {}
        for column, field in zip(self.columns, self.schema, strict=True):
            values = [r.get(column.name) for r in rows]
            if column.avro == "uuid":
                values = [v if v is None or isinstance(v, str) else str(v) for v in values]
            try:
                array = pa.array(values, type=field.type)
            except _CONVERSION_ERRORS:
                found = self._scan(column, field.type, values)
                arrays.append(pa.nulls(len(values), field.type))
            else:
                found = _check_column(column, array, rows)
                arrays.append(array)
            for i, reason in found.items():
                bad.setdefault(i, reason)
        return arrays, bad

    @staticmethod
    def _scan(column: Column, arrow_type: pa.DataType, values: list[Any]) -> dict[int, Reason]:
        """Which values of a column that failed in bulk fail on their own, and why."""
        bad: dict[int, Reason] = {}
        for i, value in enumerate(values):
            try:
                pa.array([value], type=arrow_type)
            except _CONVERSION_ERRORS as exc:
                bad[i] = Reason(UNCONVERTIBLE_VALUE, f"{column.name} {value!r:.80} does not convert to {arrow_type}: "
                                f"{type(exc).__name__}: {exc}", column.name)
        return bad

    def to_bytes(self, table: pa.Table) -> bytes:
        """One Parquet file (a single row group) with the configured compression."""
        buf = io.BytesIO()
        pq.write_table(table, buf, compression=self.compression, compression_level=self.compression_level,
                       row_group_size=max(1, table.num_rows))
        return buf.getvalue()


def _check_column(column: Column, array: pa.Array | pa.ChunkedArray,
                  rows: Sequence[dict[str, Any]]) -> dict[int, Reason]:
    """What Arrow accepts but the schema does not: nulls in required columns, non-uuids."""
    name = column.name
    bad: dict[int, Reason] = {}
    if not column.nullable and array.null_count:
        bad.update({i: Reason(UNCONVERTIBLE_VALUE, f"{name} is required but missing", name)
                    for i in pc.indices_nonzero(array.is_null()).to_pylist()})
    if column.avro == "uuid" and len(array):
        invalid = pc.invert(pc.fill_null(pc.match_substring_regex(array, _UUID), True))
        if pc.any(invalid).as_py():
            for i in pc.indices_nonzero(invalid).to_pylist():
                bad.setdefault(i, Reason(UNCONVERTIBLE_VALUE, f"{name} {rows[i].get(name)!r} is not a UUID", name))
    return bad
