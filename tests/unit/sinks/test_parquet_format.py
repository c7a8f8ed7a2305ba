"""Parquet columns come from the Avro schema; a value that does not convert rejects
only its record, naming the field."""

from __future__ import annotations

import io
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq

from daas.dead_letter import UNCONVERTIBLE_VALUE
from schemas import CLEAN_ENCOUNTER, AvroCodec, SchemaStore
from schemas.columns import arrow_schema
from sinks.formats.parquet import ParquetFormat
from tests.unit.sinks.samples import clean

SCHEMA = SchemaStore.default().current(CLEAN_ENCOUNTER).raw


def test_primitive_and_logical_values_give_identical_typed_tables() -> None:
    fmt = ParquetFormat(SCHEMA)
    records = [clean(n) for n in range(5)]
    raw = AvroCodec().with_logical_types(False).decode_record
    wire = AvroCodec().encode_many(CLEAN_ENCOUNTER, records)
    from_primitives, bad1 = fmt.to_table([raw(v) for v in wire])
    from_logical, bad2 = fmt.to_table(records)
    assert bad1 == bad2 == {}
    assert from_primitives.schema == arrow_schema(SCHEMA)
    assert from_primitives.equals(from_logical)
    read = pq.read_table(io.BytesIO(fmt.to_bytes(from_primitives)))
    assert read.schema.equals(arrow_schema(SCHEMA))
    assert read.column("record_id").to_pylist() == [str(r["record_id"]) for r in records]
    assert read.column("encounter_date").to_pylist() == [date(2026, 11, 23)] * 5
    assert pq.ParquetFile(io.BytesIO(fmt.to_bytes(read))).metadata.row_group(0).column(0).compression == "ZSTD"


def test_an_empty_batch_still_has_every_column() -> None:
    table, bad = ParquetFormat(SCHEMA).to_table([])
    assert (table.num_rows, bad, table.schema) == (0, {}, arrow_schema(SCHEMA))


def test_unconvertible_values_reject_only_their_rows() -> None:
    fmt = ParquetFormat(SCHEMA)
    good = [clean(n) for n in range(4)]
    rows = [good[0], clean(10, age_years="forty"), good[1], clean(11, age_years=2**40),
            clean(12, record_id="not-a-uuid"), good[2], clean(13, district=None), good[3]]
    table, rejected = fmt.to_table(rows)
    assert table.column("source_key").to_pylist() == [r["source_key"] for r in good]
    assert {reason.code for reason in rejected.values()} == {UNCONVERTIBLE_VALUE}
    assert [(i, reason.field) for i, reason in sorted(rejected.items())] == [
        (1, "age_years"), (3, "age_years"), (4, "record_id"), (6, "district")]
    assert "not-a-uuid" in rejected[4].message and "int32" in rejected[1].message
    assert table.schema == arrow_schema(SCHEMA) and isinstance(table, pa.Table)


def test_rules_arrow_does_not_enforce_are_checked_on_the_fast_path() -> None:
    primitives = AvroCodec().with_logical_types(False).decode_record
    rows = [primitives(AvroCodec().encode(CLEAN_ENCOUNTER, clean(n))) for n in range(3)]
    rows[1]["record_id"] = "0000"  # decodes fine as Avro text; not a UUID
    rows[2]["patient_key"] = None
    table, rejected = ParquetFormat(SCHEMA).to_table(rows)
    assert table.num_rows == 1
    assert {i: r.field for i, r in rejected.items()} == {1: "record_id", 2: "patient_key"}
