"""The events sinks against real Kafka and PostgreSQL: alerts upserted by identity with the
time they were first raised, dead-letter metadata without a byte of the payload, replays
that change nothing, and the replication of both tables to the warehouse."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from daas.dead_letter import HEADER_PREFIX, DeadLetter, Reason
from daas.kafka import DeliveryReport, create_producer, flush_or_raise
from daas.settings import Settings, Topics
from sinks.base import SinkRunner
from sinks.events import AlertsSink
from tests.integration.sinks.support import create_topic, read_topic, sink_env, start_sink
from tests.support.endpoints import Endpoints
from warehouse.replicator import replicate_all

PARTITIONS = 2
T0 = 1_795_000_000_000  # ms: when the first alerts were raised
PII = b"Amina Bello, +234 803 555 0199, NIN 12345678901"


@dataclass(frozen=True)
class EventsRun:
    name: str
    settings: Settings
    env: dict[str, str]
    schema: str  # RDS schema of the sinks' tables
    warehouse_schema: str  # the replica's

    @property
    def topics(self) -> Topics:
        return self.settings.topics

    def query(self, statement: str, dsn: str = "rds_dsn") -> list[tuple[Any, ...]]:
        with psycopg.connect(self.settings.require(dsn), autocommit=True) as conn:
            return conn.execute(statement.format(schema=self.schema, wh=self.warehouse_schema)).fetchall()  # type: ignore[arg-type]


@pytest.fixture
def events(endpoints: Endpoints, unique_name: Callable[[str], str]) -> Iterator[EventsRun]:
    name = unique_name("events")
    topics = Topics(surveillance_alerts=f"{name}.alerts", dlq=f"{name}.dlq", raw_simuhealth=f"{name}.raw.simuhealth",
                    raw_gsheet=f"{name}.raw.gsheet", clean_ops=f"{name}.ops")
    settings = endpoints.settings(topics=topics)
    for topic in (topics.surveillance_alerts, topics.dlq):
        create_topic(settings, topic, PARTITIONS)
    env = sink_env(endpoints.env(), surveillance_alerts=topics.surveillance_alerts, dlq=topics.dlq,
                   raw_simuhealth=topics.raw_simuhealth, raw_gsheet=topics.raw_gsheet, clean_ops=topics.clean_ops)
    schema = name.replace("-", "_")
    yield EventsRun(name, settings, env, schema, f"{schema}_wh")
    # unique_name's cleanup drops the topics, groups and both schemas (they start with the name)


def produce(settings: Settings, topic: str, messages: list[dict[str, Any]]) -> None:
    producer = create_producer(settings)
    report = DeliveryReport()
    for m in messages:
        producer.produce(topic, on_delivery=report, **m)
    flush_or_raise(producer, report)


def alert(district: str, group: str, week: str, level: str = "aberration", cases: int = 40,
          **changes: Any) -> dict[str, Any]:
    value = {"country_code": "NG", "district": district, "diagnosis_group": group, "epi_week": week, "level": level,
             "method": "ears_c2" if level == "aberration" else "who_meningitis_threshold", "cases": cases,
             "incidence_per_100k": round(cases * 100_000 / 680_000, 4), "threshold": 21.5 if level == "aberration"
             else 5.0, "baseline_weeks": 7 if level == "aberration" else 0}
    return {**value, **changes}


def message(value: dict[str, Any] | bytes | None, at_ms: int, key: str | None = None) -> dict[str, Any]:
    if isinstance(value, dict):
        key = key or "|".join(str(value.get(f)) for f in ("country_code", "district", "diagnosis_group",
                                                            "epi_week", "level"))
        value = json.dumps(value).encode()
    return {"key": (key or "k").encode(), "value": value, "timestamp": at_ms}


def run_alerts(run: EventsRun, group: str) -> SinkRunner:
    runner = SinkRunner(run.settings, AlertsSink(run.settings, schema=run.schema),
                        topic=run.topics.surveillance_alerts, group_id=group)
    runner.run(stop_when_idle=2.0)
    return runner


ALERT_COLUMNS = ("alert_id, country_code, district, diagnosis_group, epi_week, level, method, cases, "
                 "incidence_per_100k, threshold, baseline_weeks, raised_at, source_topic, updated_at")


def test_alerts_are_upserted_once_per_identity_with_the_time_first_raised(events: EventsRun) -> None:
    kano = alert("Kano Municipal", "malaria", "2026W46")
    meningitis = alert("Dala", "meningitis", "2026W47", level="epidemic", cases=90, incidence_per_100k=12.9,
                       threshold=10.0)
    key = "NG|Kano Municipal|malaria|2026W46|aberration"
    produce(events.settings, events.topics.surveillance_alerts, [
        message(kano, T0), message(meningitis, T0 + 5_000),
        message({**kano, "cases": 55}, T0 + 60_000),  # re-sent later (the service lost its table): not newer news
        message(b"{not json", T0 + 1, key="broken"),
        message({k: v for k, v in kano.items() if k != "level"}, T0 + 2, key="no-level"),
        message(alert("Dala", "malaria", "2026W47", cases=-3), T0 + 3),
        message(None, T0 + 4, key=key),  # a tombstone on the compacted topic: the alert stays on record
    ])
    runner = run_alerts(events, f"{events.name}-a")
    assert (runner.stats.consumed, runner.stats.written, runner.stats.dead_lettered) == (7, 4, 3)
    rows = events.query(f"select {ALERT_COLUMNS} from {{schema}}.surveillance_alerts order by alert_id")
    assert [r[:12] for r in rows] == [
        ("NG|Dala|meningitis|2026W47|epidemic", "NG", "Dala", "meningitis", "2026W47", "epidemic",
         "who_meningitis_threshold", 90, 12.9, 10.0, 0, datetime.fromtimestamp((T0 + 5_000) / 1000, tz=UTC)),
        (key, "NG", "Kano Municipal", "malaria", "2026W46", "aberration", "ears_c2", 40, kano["incidence_per_100k"],
         21.5, 7, datetime.fromtimestamp(T0 / 1000, tz=UTC)),
    ]
    assert {r[12] for r in rows} == {events.topics.surveillance_alerts}
    dead = read_topic(events.settings, events.topics.dlq, PARTITIONS)
    reasons = sorted((m.key(), {k: v.decode() for k, v in m.headers()}[f"{HEADER_PREFIX}reason"]) for m in dead)
    assert reasons == [(b"NG|Dala|malaria|2026W47|aberration", "invalid_value"), (b"broken", "decode_error"),
                       (b"no-level", "required_missing")]
    assert {dict(m.headers())[f"{HEADER_PREFIX}stage"] for m in dead} == {b"alerts-sink"}

    # The whole topic again in a new group: nothing changes, not even the cursor.
    run_alerts(events, f"{events.name}-replay")
    assert events.query(f"select {ALERT_COLUMNS} from {{schema}}.surveillance_alerts order by alert_id") == rows

    # An earlier raising of an alert (say, another partition's copy read late) moves raised_at back.
    produce(events.settings, events.topics.surveillance_alerts, [message({**kano, "cases": 38}, T0 - 60_000)])
    run_alerts(events, f"{events.name}-a")
    (earlier,) = events.query("select cases, raised_at, updated_at from {schema}.surveillance_alerts "
                              f"where alert_id = '{key}'")
    assert earlier[:2] == (38, datetime.fromtimestamp((T0 - 60_000) / 1000, tz=UTC))
    assert earlier[2] > rows[1][13]


def dead_letter(source_topic: str, reasons: list[Reason], *, stage: str = "processor", offset: int = 7,
                value: bytes = PII, failed_at: int = T0) -> dict[str, Any]:
    source = DeadLetter(key=b"patient-42", value=value, reasons=reasons, stage=stage, source_topic=source_topic,
                        source_partition=1, source_offset=offset, source_timestamp_ms=T0 - 1_000,
                        original_headers=[("trace", b"abc")])
    return {"key": source.key, "value": source.value, "headers": source.headers(now_ms=failed_at)}


def too_large(source_topic: str, *, offset: int, failed_at: int) -> dict[str, Any]:
    """A dead letter too large for the topic: its summary (``too_large``, a prefix, size, digest)."""
    letter = DeadLetter(key=b"patient-42", value=PII * 30_000, reasons=[Reason("decode_error", "bad bytes")],
                        stage="processor", source_topic=source_topic, source_partition=1,
                        source_offset=offset).fitting(1_000_000)
    return {"key": letter.key, "value": letter.value, "headers": letter.headers(now_ms=failed_at)}


DL_COLUMNS = ("dlq_partition, dlq_offset, failed_at, reason, reason_codes, reasons, stage, source_topic, "
              "source_partition, source_offset, source_timestamp, source_name, truncated, original_size")


def test_dead_letters_keep_their_metadata_and_never_their_bytes(events: EventsRun, tmp_path: Path) -> None:
    t = events.topics
    letters = [
        dead_letter(t.raw_simuhealth, [Reason("icd10_unknown", "'Amina Bello' is not an ICD-10 code", "icd10_code")]),
        dead_letter(t.raw_gsheet, [Reason("required_missing", "age_years is required", "age_years"),
                                   Reason("invalid_value", "'Amina Bello, female' is not one of ['female', 'male']",
                                          "sex")], offset=8, failed_at=T0 + 10),
        dead_letter(t.clean_ops, [Reason("rejected_by_postgres", "22021: NUL in 'Amina'", "district")],
                    stage="postgres-sink", offset=9, failed_at=T0 + 20),
        too_large(t.raw_simuhealth, offset=10, failed_at=T0 + 30),
        {"key": b"foreign", "value": PII, "headers": [("x", b"y")]},  # not written by a stage: skipped
    ]
    produce(events.settings, t.dlq, [{**m, "partition": 0} for m in letters])

    log = tmp_path / "dead-letters.log"
    proc = start_sink("dead-letters", events.env, ["--stop-when-idle", "2", "--pg-schema", events.schema], log)
    stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, log.read_text()
    stats = json.loads(stdout.decode().strip().splitlines()[-1])
    assert (stats["consumed"], stats["written"], stats["dead_lettered"]) == (5, 5, 0)
    assert "has no valid dlq.* headers" in log.read_text()

    rows = events.query(f"select {DL_COLUMNS} from {{schema}}.dead_letters order by dlq_offset")
    at = lambda ms: datetime.fromtimestamp(ms / 1000, tz=UTC)  # noqa: E731
    assert rows == [
        (0, 0, at(T0), "icd10_unknown", "icd10_unknown", '[{"code":"icd10_unknown","field":"icd10_code"}]',
         "processor", t.raw_simuhealth, 1, 7, at(T0 - 1_000), "simuhealth", False, None),
        (0, 1, at(T0 + 10), "required_missing", "required_missing,invalid_value",
         '[{"code":"required_missing","field":"age_years"},{"code":"invalid_value","field":"sex"}]',
         "processor", t.raw_gsheet, 1, 8, at(T0 - 1_000), "gsheet", False, None),
        (0, 2, at(T0 + 20), "rejected_by_postgres", "rejected_by_postgres",
         '[{"code":"rejected_by_postgres","field":"district"}]', "postgres-sink", t.clean_ops, 1, 9, at(T0 - 1_000),
         None, False, None),
        (0, 3, at(T0 + 30), "too_large", "too_large,decode_error",
         '[{"code":"too_large","field":null},{"code":"decode_error","field":null}]', "processor", t.raw_simuhealth,
         1, 10, None, "simuhealth", True, len(PII) * 30_000),
    ]
    everything = events.query("select row_to_json(d)::text from {schema}.dead_letters as d")
    assert len(everything) == 4
    assert not [r for (r,) in everything if any(pii in r for pii in ("Amina", "Bello", "803 555", "patient-42"))]
    assert len(read_topic(events.settings, t.dlq, PARTITIONS)) == 5  # it never writes to its own input

    # A replay in a new group inserts nothing and moves no cursor.
    before = events.query("select dlq_offset, updated_at from {schema}.dead_letters order by 1")
    replay = subprocess.run([sys.executable, "-m", "sinks", "dead-letters", "--stop-when-idle", "2", "--pg-schema",
                             events.schema, "--group", f"{events.name}-replay", "--session-timeout-ms", "6000"],
                            env=events.env, cwd=Path(__file__).resolve().parents[3], capture_output=True,
                            timeout=120, check=True)
    assert json.loads(replay.stdout.decode().splitlines()[-1])["consumed"] == 5
    assert events.query("select dlq_offset, updated_at from {schema}.dead_letters order by 1") == before


def test_the_replicator_copies_both_tables_to_the_warehouse_once(events: EventsRun) -> None:
    produce(events.settings, events.topics.surveillance_alerts,
            [message(alert("Kano Municipal", "malaria", "2026W46"), T0)])
    produce(events.settings, events.topics.dlq,
            [dead_letter(events.topics.raw_gsheet, [Reason("sex_not_allowed", "m/f", "sex")])])
    run_alerts(events, f"{events.name}-a")
    from sinks.events import DeadLettersSink

    SinkRunner(events.settings, DeadLettersSink(events.settings, schema=events.schema), topic=events.topics.dlq,
               group_id=f"{events.name}-d").run(stop_when_idle=2.0)
    with (psycopg.connect(events.settings.require("rds_dsn"), autocommit=True) as rds,
          psycopg.connect(events.settings.require("warehouse_dsn"), autocommit=True) as wh):
        first = replicate_all(rds, wh, source_schema=events.schema, target_schema=events.warehouse_schema)
        assert {n: (r.rows_read, r.rows_written) for n, r in first.streams.items()} == {
            "encounters": (0, 0), "surveillance_alerts": (1, 1), "dead_letters": (1, 1)}
        again = replicate_all(rds, wh, source_schema=events.schema, target_schema=events.warehouse_schema)
        assert again.rows_written == 0
        for table in ("surveillance_alerts", "dead_letters"):
            query = sql.SQL("select * from {} order by 1")
            assert (wh.execute(query.format(sql.Identifier(events.warehouse_schema, table))).fetchall()
                    == rds.execute(query.format(sql.Identifier(events.schema, table))).fetchall())
