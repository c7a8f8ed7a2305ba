"""The Faust processor against real Kafka: accounting, privacy, crashes, scale-out, exactly-once."""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka.admin import AdminClient

from producers.kafka_producer import RecordProducer
from producers.simuhealth import SimuHealthGenerator
from schemas import SIMUHEALTH_ENCOUNTER
from tests.support.pipeline_run import Run, Worker, read_topic, wait_for


def _produce(run: Run, n: int, *, seed: int = 3, invalid_every: int = 0, duplicates: int = 0,
             undecodable: int = 0) -> dict[str, object]:
    """Produce a known stream; return what the processor must make of it."""
    end = datetime.now(tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    producer = RecordProducer(run.settings, topic=run.topics.raw_simuhealth, schema_name=SIMUHEALTH_ENCOUNTER,
                              source="simuhealth")
    valid: list[dict] = []
    reasons: Counter[str] = Counter()
    for i, record in enumerate(SimuHealthGenerator(seed, start=end - timedelta(weeks=4), end=end).generate(n)):
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
    for i in range(undecodable):
        producer.produce_raw(f"bad-{i}".encode(), bytes([0xC3, 0x01]) + b"\x00" * 8 + b"garbage")
        reasons["decode_error"] += 1
    producer.close()
    return {"valid": valid, "reasons": reasons, "sent": producer.sent}


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
                 and run.count(run.topics.dlq) >= sum(data["reasons"].values()), timeout=180, alive=worker.assert_alive)
        time.sleep(2)  # let any would-be duplicate arrive before counting
    finally:
        worker.stop()

    dead = read_topic(run.settings, run.topics.dlq)
    assert Counter(dict(m.headers())["dlq.reason"].decode() for m in dead) == data["reasons"]
    ops, lake = _clean_ids(run, run.topics.clean_ops), _clean_ids(run, run.topics.clean_lake)
    # The 150 re-sent records were dropped by the de-duplication table: each input once.
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


def test_kill_9_mid_stream_then_restart_reconciles_exactly(run: Run) -> None:
    data = _produce(run, 12000, seed=5)
    expected = {r["encounter_id"] for r in data["valid"]}
    worker = Worker(run.env(), run.settings.runtime_dir / "worker-1.log")
    try:
        wait_for("some output", lambda: run.count(run.topics.clean_ops) > 1500, timeout=120, alive=worker.assert_alive)
    finally:
        worker.kill()
    partial = run.count(run.topics.clean_ops)
    assert partial < len(expected), "the worker finished before it could be killed mid-stream"
    worker = Worker(run.env(), run.settings.runtime_dir / "worker-2.log")
    try:
        wait_for("the rest, counted", lambda: len(set(_clean_ids(run, run.topics.clean_ops))) >= len(expected)
                 and _cases_counted(run) >= len(expected), timeout=240, interval=2, alive=worker.assert_alive)
        time.sleep(2)  # anything counted twice would show up now
    finally:
        worker.stop()
    from schemas import AvroCodec

    codec = AvroCodec()
    keys = {codec.decode(m.value()).record["source_key"] for m in read_topic(run.settings, run.topics.clean_ops)}
    assert keys == expected
    # The replayed part reached surveillance twice; each record is still counted once.
    assert _cases_counted(run) == len(expected)


def test_two_workers_share_partitions_and_a_rebalance_loses_nothing(run: Run) -> None:
    first = Worker(run.env(), run.settings.runtime_dir / "a.log")
    second = None
    try:
        wait_for("worker A to join", lambda: _members(run) == 1, timeout=90, alive=first.assert_alive)
        data = _produce(run, 8000, seed=9)
        second = Worker(run.env(), run.settings.runtime_dir / "b.log")
        wait_for("both workers in the group", lambda: _members(run) == 2, timeout=90, alive=second.assert_alive)
        first.stop()  # a rebalance hands A's partitions to B mid-stream
        expected = {r["encounter_id"] for r in data["valid"]}
        wait_for("all records, counted", lambda: len(set(_clean_ids(run, run.topics.clean_ops))) >= len(expected)
                 and _cases_counted(run) >= len(expected), timeout=240, interval=2, alive=second.assert_alive)
    finally:
        first.stop()
        if second is not None:
            second.stop()
    assert len(set(_clean_ids(run, run.topics.clean_ops))) == len(expected)
    assert _cases_counted(run) == len(expected)


def _members(run: Run) -> int:
    admin = AdminClient({"bootstrap.servers": run.settings.kafka_bootstrap_servers})
    group = admin.describe_consumer_groups([run.name])[run.name].result(timeout=10)
    return len(group.members)


@pytest.fixture
def eos_run(endpoints, unique_name) -> Run:  # noqa: ANN001
    return Run(endpoints, unique_name("eos"), extra={"processing_guarantee": "exactly_once"})


def test_exactly_once_mode_survives_kill_9_without_a_single_duplicate(eos_run: Run) -> None:
    """A worker in exactly-once mode is killed mid-transaction and restarted.

    The restarted worker's transactional producers fence the dead one's open
    transactions, so read_committed readers see every record once, and
    surveillance counts each once.
    """
    run = eos_run
    data = _produce(run, 12000, seed=13)
    expected = [r["encounter_id"] for r in data["valid"]]
    worker = Worker(run.env(), run.settings.runtime_dir / "eos-1.log")
    try:
        wait_for("output", lambda: run.count(run.topics.clean_ops) > 2000, timeout=180, interval=0.1,
                 alive=worker.assert_alive)
    finally:
        worker.kill()
    assert len(_clean_ids(run, run.topics.clean_ops)) < len(expected), "the worker finished before it was killed"
    worker = Worker(run.env(), run.settings.runtime_dir / "eos-2.log")
    try:
        wait_for("the rest, counted", lambda: len(_clean_ids(run, run.topics.clean_ops)) >= len(expected)
                 and _cases_counted(run) >= len(expected), timeout=300, interval=2, alive=worker.assert_alive)
        time.sleep(3)
    finally:
        worker.stop()
    ids = _clean_ids(run, run.topics.clean_ops)
    assert len(ids) == len(set(ids)) == len(expected)  # read_committed: no duplicates at all
    assert _cases_counted(run) == len(expected)


def test_surveillance_counts_alerts_and_the_web_view(endpoints, unique_name) -> None:  # noqa: ANN001
    from datetime import date

    from producers.simuhealth import Outbreak

    run = Run(endpoints, unique_name("surv"), extra={"processor_web_port": 39066})
    outbreak = Outbreak("diarrhoeal", "Ikeja", date(2026, 4, 6), 3, 3.0)
    gen = SimuHealthGenerator(11, countries=["NG"], start=date(2026, 1, 5), end=date(2026, 5, 4), outbreaks=[outbreak])
    producer = RecordProducer(run.settings, topic=run.topics.raw_simuhealth, schema_name=SIMUHEALTH_ENCOUNTER,
                              source="simuhealth")
    producer.produce_many((r["encounter_id"], r) for r in gen.generate(40_000))
    producer.close()
    worker = Worker(run.env(), run.settings.runtime_dir / "surv.log")

    try:
        wait_for("every clean case counted", lambda: run.count(run.topics.clean_ops) >= 40_000
                 and _cases_counted(run) >= 40_000,
                 timeout=300, interval=3, alive=worker.assert_alive)
        with urllib.request.urlopen("http://127.0.0.1:39066/surveillance/current", timeout=10) as resp:  # noqa: S310
            view = json.load(resp)
    finally:
        worker.stop()
    assert _cases_counted(run) == len(set(_clean_ids(run, run.topics.clean_ops))) == 40_000
    ikeja_w15 = _latest_counts(run)["NG|Ikeja|diarrhoeal|2026W15"]
    assert ikeja_w15["incidence_per_100k"] == pytest.approx(ikeja_w15["cases"] * 100_000 / ikeja_w15["population"])
    alerts = [json.loads(m.value()) for m in read_topic(run.settings, run.topics.surveillance_alerts)]
    ikeja = sorted(a["epi_week"] for a in alerts if a["district"] == "Ikeja" and a["diagnosis_group"] == "diarrhoeal")
    assert ikeja and ikeja[0] in ("2026W15", "2026W16")  # within two simulated weeks of the start
    assert len({(a["district"], a["diagnosis_group"], a["epi_week"], a["level"]) for a in alerts}) == len(alerts)
    assert view["stats"]["clean"] == 40_000 and "epi_week" in view
