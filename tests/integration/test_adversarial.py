"""Hostile inputs against the running pipeline: each ends clean or dead-lettered with its reason.

The processor, both sinks and surveillance run as processes while a catalogue of
inputs goes in: broken framing, oversized values, every type boundary, hostile
Unicode, valid Avro with hostile values, tombstones, and records written straight to
the clean topics. Each input must end clean or dead-lettered with the specific
reason listed for it; no stage may exit; and the stores may hold only what the
valid inputs became.
"""

from __future__ import annotations

import copy
import json
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from daas.kafka import DeliveryReport, create_producer, flush_or_raise
from producers.simuhealth import SimuHealthGenerator
from schemas import CLEAN_ENCOUNTER, SHEET_ROW, SIMUHEALTH_ENCOUNTER, AvroCodec
from schemas.codec import SINGLE_OBJECT_MAGIC
from tests.support.pipeline_run import Run, Sink, Surveillance, Worker, read_topic, wait_for

CODEC = AvroCodec()
CLEAN = "clean"
NOW = datetime.now(tz=UTC)


@dataclass(frozen=True)
class Case:
    name: str
    topic: str  # simuhealth, gsheet, lake or ops
    value: bytes | None
    expected: str  # CLEAN, or the reason code it must be dead-lettered with
    key: bytes | None = b"k"


def _base(seed: int = 91) -> dict:
    end = NOW.replace(hour=0, minute=0, second=0, microsecond=0)
    return next(iter(SimuHealthGenerator(seed, start=end - timedelta(weeks=2), end=end).generate(1)))


def _encounter(name: str, change: Callable[[dict], object], expected: str) -> Case:
    record = copy.deepcopy(_base())
    record["encounter_id"] = f"{record['facility_id']}-{abs(hash(name)) % 10**9:09d}"
    change(record)
    return Case(name, "simuhealth", CODEC.encode(SIMUHEALTH_ENCOUNTER, record), expected,
                key=record["encounter_id"].encode()[:1000])


def _sheet(name: str, cells: dict[str, str], expected: str, **row: object) -> Case:
    base = _base()
    values = {"facility_id": base["facility_id"], "encounter_date": NOW.date().isoformat(), "patient_id": "P-1",
              "sex": "f", "age_years": "30", "icd10_code": "B54", **cells}
    sheet = {"sheet_id": "1AdversarialSheet", "tab": "Visits", "row_number": 2, "row_key": name,
             "content_hash": "h", "polled_at": NOW, "cells": values, **row}
    return Case(name, "gsheet", CODEC.encode(SHEET_ROW, sheet), expected, key=name.encode())


def _clean_record(change: Callable[[dict], object]) -> dict:
    from tests.integration.sinks.support import clean_records

    (record,) = clean_records(1, seed=93)
    change(record)
    return record


def _cases() -> list[Case]:
    valid = CODEC.encode(SIMUHEALTH_ENCOUNTER, _base())
    body = valid[10:]
    cases = [
        # Framing and bytes
        Case("empty value", "simuhealth", b"", "decode_error"),
        Case("tombstone", "simuhealth", None, "decode_error"),
        Case("no key, garbage", "simuhealth", b"\x01\x02 garbage", "decode_error", key=None),
        Case("json", "simuhealth", b'{"encounter_id": "x"}', "decode_error"),
        Case("truncated header", "simuhealth", SINGLE_OBJECT_MAGIC + b"\x01\x02", "decode_error"),
        Case("unknown fingerprint", "simuhealth", SINGLE_OBJECT_MAGIC + b"\xff" * 8 + body, "unknown_schema"),
        Case("confluent framing, no registry", "simuhealth", b"\x00" + struct.pack(">I", 7) + body, "unknown_schema"),
        Case("truncated body", "simuhealth", valid[:len(valid) // 2], "decode_error"),
        Case("trailing bytes", "simuhealth", valid + b"\x00\x00", "decode_error"),
        Case("corrupt varint", "simuhealth", valid[:10] + b"\xff" * 12 + valid[22:], "decode_error"),
        Case("sheet row on the EHR topic", "simuhealth", _sheet("x", {}, CLEAN).value, "unsupported_record"),
        Case("1,040,000 bytes of garbage", "simuhealth", b"\xc3\x01" + b"\xab" * 1_039_998, "unknown_schema"),
        Case("1,048,000 bytes of garbage", "simuhealth", b"\xc3\x01" + b"\xab" * 1_047_998, "too_large"),
        # Valid Avro, hostile values
        _encounter("valid", lambda r: None, CLEAN),
        _encounter("NUL in the encounter id", lambda r: r.update(encounter_id=r["encounter_id"] + "\x00"),
                   "invalid_source_key"),
        _encounter("right-to-left override", lambda r: r.update(encounter_id="\u202e" + r["encounter_id"]),
                   "invalid_source_key"),
        _encounter("200,000-character encounter id", lambda r: r.update(encounter_id="E" * 200_000),
                   "invalid_source_key"),
        _encounter("SQL as the encounter id", lambda r: r.update(encounter_id="'); drop table encounters; --"), CLEAN),
        _encounter("1 MB patient id", lambda r: r["patient"].update(patient_id="9" * 1_000_000), CLEAN),
        _encounter("1 MB encounter id", lambda r: r.update(encounter_id="E" * 1_000_000), "invalid_source_key"),
        _encounter("emoji and Arabic names", lambda r: r["patient"].update(given_name="آمنة 🧕🏾",
                                                                           family_name="\u0000\u200b"), CLEAN),
        _encounter("empty country", lambda r: r.update(country_code=""), "required_missing"),
        _encounter("unknown facility", lambda r: r.update(facility_id="ZZ-00-000-000"), "facility_unknown"),
        _encounter("sex as an emoji", lambda r: r["patient"].update(sex="🤷"), "sex_not_allowed"),
        _encounter("age 121", lambda r: r["patient"].update(birth_date=None, age_years=121), "age_out_of_range"),
        _encounter("age -1", lambda r: r["patient"].update(birth_date=None, age_years=-1), "age_out_of_range"),
        _encounter("age int max", lambda r: r["patient"].update(birth_date=None, age_years=2**31 - 1),
                   "age_out_of_range"),
        _encounter("age int min", lambda r: r["patient"].update(birth_date=None, age_years=-(2**31)),
                   "age_out_of_range"),
        _encounter("age 0", lambda r: r["patient"].update(birth_date=None, age_years=0,
                                                           ), CLEAN),
        _encounter("born after the visit", lambda r: r["patient"].update(birth_date=NOW.date() + timedelta(days=30)),
                   "birth_date_after_encounter"),
        _encounter("visit next year", lambda r: r.update(encounter_time=NOW + timedelta(days=400)),
                   "encounter_date_in_future"),
        _encounter("visit in 1970", lambda r: r.update(encounter_time=datetime(1970, 1, 1, tzinfo=UTC)),
                   "encounter_date_too_old"),
        _encounter("ICD-10 as text", lambda r: r["diagnosis"].update(icd10_code="malaria; drop"), "icd10_unknown"),
        _encounter("pregnancy for a man of 80", lambda r: (r["diagnosis"].update(icd10_code="O14.9"),
                                                           r["patient"].update(sex="M", birth_date=None, age_years=80)),
                   "diagnosis_implausible"),
        _encounter("pregnancy for a girl of 3", lambda r: (r["diagnosis"].update(icd10_code="O14.9"),
                                                           r["patient"].update(sex="F", birth_date=None, age_years=3)),
                   "diagnosis_implausible"),
        # Sheet rows
        _sheet("valid sheet row", {}, CLEAN),
        _sheet("sheet row, unknown date", {"encounter_date": "yesterday"}, "invalid_value"),
        _sheet("sheet row, NUL tab", {}, "invalid_source_key", tab="Vis\x00its"),
        _sheet("sheet row, 10,000 cells", {f"col{i}": "x" * 50 for i in range(10_000)}, CLEAN),
        _sheet("sheet row, blank district column", {"district": "   "}, "required_missing"),
        _sheet("sheet row, age as words", {"age_years": "thirty"}, "invalid_value"),
        # Straight to the clean topics: what the sinks do with what the processor never sends
        Case("garbage on the ops topic", "ops", b"\x00garbage", "unknown_schema"),
        Case("garbage on the lake topic", "lake", b"not avro at all", "decode_error"),
        Case("1,048,000 bytes on the ops topic", "ops", b"\xc3\x01" + b"\x01" * 1_047_998, "too_large"),
        Case("NUL in a text column", "ops", CODEC.encode(CLEAN_ENCOUNTER, _clean_record(
            lambda r: r.update(district="Ike\x00ja"))), "rejected_by_postgres"),
    ]
    return cases


def test_every_hostile_input_ends_clean_or_dead_lettered_with_its_reason(endpoints, unique_name) -> None:  # noqa: ANN001
    run = Run(endpoints, unique_name("adv"))
    cases = _cases()
    topics = {"simuhealth": run.topics.raw_simuhealth, "gsheet": run.topics.raw_gsheet,
              "lake": run.topics.clean_lake, "ops": run.topics.clean_ops}
    where: dict[tuple[str, int, int], Case] = {}
    producer = create_producer(run.settings)
    report = DeliveryReport()

    def sent(case: Case) -> Callable[..., None]:
        def on_delivery(err: object, msg: object) -> None:
            report(err, msg)  # type: ignore[arg-type]
            if err is None:
                where[(msg.topic(), msg.partition(), msg.offset())] = case  # type: ignore[attr-defined]
        return on_delivery

    for case in cases:
        producer.produce(topics[case.topic], value=case.value, key=case.key, on_delivery=sent(case))
    flush_or_raise(producer, report)
    assert len(where) == len(cases)

    env, logs, schema = run.env(), run.settings.runtime_dir, run.name.replace("-", "_")
    stages = {"processor": Worker(env, logs / "processor.log"),
              "surveillance": Surveillance(env, logs / "surveil.log"),
              "s3-sink": Sink(env, logs / "s3.log", ["s3", "--group", f"{run.name}-s3"]),
              "postgres-sink": Sink(env, logs / "pg.log", ["postgres", "--group", f"{run.name}-pg",
                                                          "--pg-schema", schema])}

    def alive() -> None:
        for stage in stages.values():
            stage.assert_alive()

    expected_dead = sum(c.expected != CLEAN for c in cases)
    to_ops = sum(c.expected == CLEAN and c.topic == "simuhealth" for c in cases)  # routes: gsheet goes to lake only
    try:
        wait_for("every dead letter", lambda: run.count(run.topics.dlq) >= expected_dead, timeout=120, alive=alive)
        wait_for("every clean record in RDS", lambda: _rows(run, schema) >= to_ops, timeout=120, alive=alive)
        alive()  # nothing exited on the way
    finally:
        for stage in stages.values():
            stage.stop()

    outcomes: dict[str, str] = {}
    for msg in read_topic(run.settings, run.topics.dlq):
        headers = {k: v.decode() for k, v in msg.headers()}
        case = where[(headers["dlq.source.topic"], int(headers["dlq.source.partition"]),
                      int(headers["dlq.source.offset"]))]
        assert case.name not in outcomes, f"{case.name} dead-lettered twice"
        outcomes[case.name] = headers["dlq.reason"]
        assert len(msg) < run.settings.kafka_max_message_bytes
    def processed(topic: str) -> int:  # what the processor wrote, not the cases written there directly
        return len({m.key() for m in read_topic(run.settings, topic)
                    if (m.topic(), m.partition(), m.offset()) not in where})

    lake, ops = processed(run.topics.clean_lake), processed(run.topics.clean_ops)
    for case in cases:
        outcomes.setdefault(case.name, CLEAN if case.expected == CLEAN else "neither clean nor dead-lettered")
    assert outcomes == {c.name: c.expected for c in cases}
    raw_clean = sum(c.expected == CLEAN and c.topic in ("simuhealth", "gsheet") for c in cases)
    assert (lake, ops) == (raw_clean, to_ops)

    with psycopg.connect(run.settings.require("rds_dsn"), autocommit=True) as conn:
        stored = conn.execute(f'select source_key, district from "{schema}".encounters').fetchall()
    assert len(stored) == to_ops
    assert not any("\x00" in district for _key, district in stored)
    summary = Counter(outcomes.values())
    print(f"\nadversarial suite: {len(cases)} inputs; {summary[CLEAN]} clean; dead-lettered by reason: "
          + json.dumps({k: v for k, v in sorted(summary.items()) if k != CLEAN}) + f"; stages alive: {sorted(stages)}")


def _rows(run: Run, schema: str) -> int:
    with psycopg.connect(run.settings.require("rds_dsn"), autocommit=True) as conn:
        exists = conn.execute("select to_regclass(%s)", [f'"{schema}".encounters']).fetchone()[0]
        return conn.execute(f'select count(*) from "{schema}".encounters').fetchone()[0] if exists else 0

