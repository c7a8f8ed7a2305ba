"""The processor and surveillance against real Kafka: accounting, privacy, crashes, scale-out, both guarantees."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from confluent_kafka.admin import AdminClient

from daas.kafka import create_admin
from producers.kafka_producer import RecordProducer
from producers.simuhealth import Outbreak, SimuHealthGenerator
from schemas import SIMUHEALTH_ENCOUNTER, AvroCodec
from tests.support.pipeline_run import Run, Surveillance, Worker, read_topic, wait_for


def _records(n: int, seed: int) -> list[dict]:
    end = datetime.now(tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return list(SimuHealthGenerator(seed, start=end - timedelta(weeks=4), end=end).generate(n))


def _producer(run: Run) -> RecordProducer:
    return RecordProducer(run.settings, topic=run.topics.raw_simuhealth, schema_name=SIMUHEALTH_ENCOUNTER,
                          source="simuhealth")


def _produce(run: Run, n: int, *, seed: int = 3, invalid_every: int = 0, duplicates: int = 0,
             undecodable: int = 0) -> dict[str, object]:
    """Produce a known stream; return what the processor must make of it."""
    producer = _producer(run)
    valid: list[dict] = []
    reasons: Counter[str] = Counter()
    for i, record in enumerate(_records(n, seed)):
        if invalid_every and i % invalid_every == 1:
            record["patient"]["sex"] = "unknown-sex"
            reasons["sex_not_allowed"] += 1
        elif invalid_every and i % invalid_every == 2:
            record["facility_id"] = "XX-NOWHERE-000"
            reasons["facility_unknown"] += 1
        else:
            valid.append(record)
        producer.produce(record["encounter_id"], record)
    for record in valid[:duplicates]:  # re-sent: same key, same content
        producer.produce(record["encounter_id"], record)
    known = AvroCodec().store.current(SIMUHEALTH_ENCOUNTER).fingerprint
    for i in range(undecodable):
        producer.produce_raw(f"bad-{i}".encode(), bytes([0xC3, 0x01]) + known + b"\xff" * 9 + b"garbage")
        reasons["decode_error"] += 1
    producer.close()
    return {"valid": valid, "reasons": reasons, "sent": producer.sent}


class _Feed(threading.Thread):
    """Produces records at a steady rate in the background, so crashes land mid-stream."""

    def __init__(self, run: Run, records: list[dict], rate: float) -> None:
        super().__init__(daemon=True)
        self.run_, self.records, self.rate = run, records, rate
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            producer = _producer(self.run_)
            producer.produce_many(((r["encounter_id"], r) for r in self.records), rate=self.rate)
            producer.close()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def finished(self) -> bool:
        if self.error is not None:
            raise AssertionError(f"the feed failed: {self.error}")
        return not self.is_alive()


def _clean_ids(run: Run, topic: str) -> list[bytes]:
    return [m.key() for m in read_topic(run.settings, topic)]


def _latest_counts(run: Run) -> dict[str, dict]:
    """The surveillance counts topic as a compacted reader sees it: the last count per series-week."""
    return {m.key().decode(): json.loads(m.value())
            for m in read_topic(run.settings, run.topics.surveillance_counts, idle=0.5)}


def _cases_counted(run: Run) -> int:
    return sum(v["cases"] for v in _latest_counts(run).values())


@pytest.fixture
def run(endpoints, unique_name) -> Run:  # noqa: ANN001
    return Run(endpoints, unique_name("proc"))


def test_every_input_is_accounted_for_once_and_no_identifier_leaks(run: Run) -> None:
    data = _produce(run, 3000, invalid_every=40, duplicates=150, undecodable=7)
    valid = data["valid"]
    worker = Worker(run.env(), run.settings.runtime_dir / "worker.log")
    try:
        wait_for("clean + dead letters", lambda: run.count(run.topics.clean_ops) >= len(valid)
                 and run.count(run.topics.dlq) >= sum(data["reasons"].values()), timeout=120, alive=worker.assert_alive)
        time.sleep(1)  # let any would-be duplicate arrive before counting
    finally:
        worker.stop()

    dead = read_topic(run.settings, run.topics.dlq)
    assert Counter(dict(m.headers())["dlq.reason"].decode() for m in dead) == data["reasons"]
    ops, lake = _clean_ids(run, run.topics.clean_ops), _clean_ids(run, run.topics.clean_lake)
    # The 150 re-sent records were dropped by the de-duplication state: each input once.
    assert len(ops) == len(set(ops)) == len(valid) == len(lake)
    assert len(ops) + len(dead) + 150 == data["sent"]

    clean_bytes = b"".join(m.value() for t in (run.topics.clean_ops, run.topics.clean_lake)
                           for m in read_topic(run.settings, t))
    leaks = []
    for r in valid:
        p = r["patient"]
        identifiers = [f"{p['given_name']} {p['family_name']}", p["patient_id"], p["national_id"], p["phone"],
                       p["email"], p["address"]]
        leaks += [x for x in identifiers if x and x.encode() in clean_bytes]
    assert leaks == []


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_kill_9_restart_and_scale_out_keep_every_record_once(endpoints, unique_name, guarantee: str,  # noqa: ANN001
                                                             workers: int) -> None:
    """N workers in one group; one is killed with -9 mid-stream and restarted, then one is added.

    Exactly once: a read_committed reader sees every valid record once on each clean
    topic. At least once: every record at least once (repeats only on the topics; the
    stores' idempotence is tested below). Either way surveillance counts each record once.
    """
    run = Run(endpoints, unique_name(f"{guarantee[:3]}{workers}"),
              extra={"processing_guarantee": guarantee, "processor_batch_size": 500})
    logs = run.settings.runtime_dir
    records = _records(15_000, seed=20 + workers)
    expected = {r["encounter_id"] for r in records}
    surveil = Surveillance(run.env(), logs / "surveil.log")
    group = [Worker(run.env(DAAS_PROCESSOR_INSTANCE_ID=f"w{i}"), logs / f"w{i}.log") for i in range(workers)]
    feed = _Feed(run, records, rate=2500)
    feed.start()

    def alive() -> None:
        surveil.assert_alive()
        for worker in group:
            worker.assert_alive()

    try:
        admin = create_admin(run.settings)
        wait_for(f"{workers} workers sharing the SimuHealth partitions", lambda: len(_assignment(admin, run)) == workers,
                 timeout=60, interval=0.2, alive=alive)
        wait_for("a fifth of the records", lambda: run.count(run.topics.clean_ops) > len(records) // 5,
                 timeout=90, interval=0.1, alive=alive)
        victim = min(_assignment(admin, run))  # it holds SimuHealth partitions: it is processing records now
        group[victim].kill()
        assert not feed.finished(), "the feed ended before the kill: not mid-stream"
        group[victim] = Worker(run.env(DAAS_PROCESSOR_INSTANCE_ID=f"w{victim}"), logs / f"w{victim}-restarted.log")
        wait_for("the feed", feed.finished, timeout=60, alive=alive)
        group.append(Worker(run.env(DAAS_PROCESSOR_INSTANCE_ID=f"w{workers}"), logs / f"w{workers}.log"))

        def done() -> bool:
            return (len(set(_clean_ids(run, run.topics.clean_ops))) >= len(expected)
                    and len(set(_clean_ids(run, run.topics.clean_lake))) >= len(expected)
                    and _cases_counted(run) >= len(expected))

        wait_for("every record processed and counted", done, timeout=180, interval=2, alive=alive)
        time.sleep(2)  # anything written twice would show up now
    finally:
        for worker in group:
            worker.stop()
        surveil.stop()

    codec = AvroCodec()
    for topic in (run.topics.clean_ops, run.topics.clean_lake):
        messages = read_topic(run.settings, topic)
        keys = [codec.decode(m.value()).record["source_key"] for m in messages]
        assert set(keys) == expected
        if guarantee == "exactly_once":
            assert len(keys) == len(expected), f"{len(keys) - len(expected)} duplicates on {topic}"
    assert _cases_counted(run) == len(expected)


def _assignment(admin: AdminClient, run: Run) -> dict[int, int]:
    """Worker number -> how many SimuHealth partitions it holds, for the members holding any."""
    from stream_processors.worker import processor_group

    name = processor_group(run.settings, run.topics.raw_simuhealth)
    group = admin.describe_consumer_groups([name], request_timeout=10)[name].result(timeout=15)
    prefix = f"{run.name}-w"
    return {int(m.client_id.removeprefix(prefix)): len(m.assignment.topic_partitions)
            for m in group.members if m.assignment.topic_partitions}


def test_at_least_once_repeats_never_reach_the_stores(endpoints, unique_name) -> None:  # noqa: ANN001
    """Kill -9 workers in the default mode; whatever they repeat on the topics, RDS and the
    warehouse hold each record once."""
    import psycopg

    from tests.support.sinks import run_sinks_until_idle
    from sinks.s3_parquet import s3_client
    from warehouse.loader import load_new_manifests
    from warehouse.replicator import replicate_encounters

    run = Run(endpoints, unique_name("stores"), extra={"processor_batch_size": 300})
    records = _records(8000, seed=41)
    expected = {r["encounter_id"] for r in records}
    feed = _Feed(run, records, rate=2000)
    feed.start()
    worker = Worker(run.env(), run.settings.runtime_dir / "a.log")
    try:
        wait_for("some output", lambda: run.count(run.topics.clean_ops) > 1000, timeout=60, interval=0.1,
                 alive=worker.assert_alive)
        worker.kill()
        worker = Worker(run.env(), run.settings.runtime_dir / "b.log")
        wait_for("the feed", feed.finished, timeout=60, alive=worker.assert_alive)
        wait_for("every record", lambda: len(set(_clean_ids(run, run.topics.clean_ops))) >= len(expected),
                 timeout=120, interval=2, alive=worker.assert_alive)
    finally:
        worker.stop()
    on_topic = len(_clean_ids(run, run.topics.clean_ops))
    schema = run.name.replace("-", "_")
    run_sinks_until_idle(run.settings, s3_group=f"{run.name}-s3", postgres_group=f"{run.name}-pg",
                         postgres_schema=schema, timeout=120)
    with psycopg.connect(run.settings.require("rds_dsn"), autocommit=True) as rds:
        rds_keys = [r[0] for r in rds.execute(f'select source_key from "{schema}".encounters')]
        with psycopg.connect(run.settings.require("warehouse_dsn"), autocommit=True) as wh:
            load_new_manifests(run.settings, s3=s3_client(run.settings), conn=wh)
            rds.execute(f'set search_path to "{schema}"')
            replicate_encounters(rds, wh)
            warehouse = {table: [r[0] for r in wh.execute(
                f"select source_key from {table}.encounters where source_key = any(%s)", [list(expected)])]
                for table in ("lake", "rds")}
    assert on_topic >= len(expected)
    assert sorted(rds_keys) == sorted(expected)
    assert sorted(warehouse["lake"]) == sorted(expected)
    assert sorted(warehouse["rds"]) == sorted(expected)


def test_surveillance_counts_alerts_and_the_web_view(endpoints, unique_name) -> None:  # noqa: ANN001
    # 17 weeks of data: a horizon wider than that, so no case is late whatever order the
    # input partitions are read in (late cases are the warehouse's; see the state's tests).
    run = Run(endpoints, unique_name("surv"), extra={"surveillance_web_port": 31066,
                                                     "surveillance_horizon_weeks": 20})
    outbreak = Outbreak("diarrhoeal", "Ikeja", date(2026, 4, 6), 3, 3.0)
    gen = SimuHealthGenerator(11, countries=["NG"], start=date(2026, 1, 5), end=date(2026, 5, 4), outbreaks=[outbreak])
    producer = _producer(run)
    producer.produce_many((r["encounter_id"], r) for r in gen.generate(40_000))
    producer.close()
    worker = Worker(run.env(), run.settings.runtime_dir / "worker.log")
    surveil = Surveillance(run.env(), run.settings.runtime_dir / "surveil.log")

    def alive() -> None:
        worker.assert_alive()
        surveil.assert_alive()

    try:
        wait_for("every clean case counted", lambda: run.count(run.topics.clean_ops) >= 40_000
                 and _cases_counted(run) >= 40_000, timeout=240, interval=3, alive=alive)
        with urllib.request.urlopen("http://127.0.0.1:31066/surveillance/current", timeout=10) as resp:  # noqa: S310
            view = json.load(resp)
    finally:
        worker.stop()
        surveil.stop()
    assert _cases_counted(run) == len(set(_clean_ids(run, run.topics.clean_ops))) == 40_000
    ikeja_w15 = _latest_counts(run)["NG|Ikeja|diarrhoeal|2026W15"]
    assert ikeja_w15["incidence_per_100k"] == pytest.approx(ikeja_w15["cases"] * 100_000 / ikeja_w15["population"])
    alerts = [json.loads(m.value()) for m in read_topic(run.settings, run.topics.surveillance_alerts)]
    ikeja = sorted(a["epi_week"] for a in alerts if a["district"] == "Ikeja" and a["diagnosis_group"] == "diarrhoeal")
    assert ikeja and ikeja[0] in ("2026W15", "2026W16")  # within two simulated weeks of the start
    assert len({(a["district"], a["diagnosis_group"], a["epi_week"], a["level"]) for a in alerts}) == len(alerts)
    assert view["stats"]["changes"] == 40_000 and "epi_week" in view
