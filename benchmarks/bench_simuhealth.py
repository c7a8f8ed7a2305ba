"""SimuHealth generator throughput: generate only, and generate + Avro encode, plus peak RSS.

Run: ``python benchmarks/bench_simuhealth.py --records 200000``. One core, one
process; the Avro encode is fastavro's ``schemaless_writer`` with the parsed raw
schema, as the producer's codec does per record.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import resource
import sys
import time
from datetime import date
from pathlib import Path

from fastavro import parse_schema, schemaless_writer

from producers.simuhealth import SimuHealthGenerator

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "simuhealth_encounter.avsc"


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def _generator(seed: int, countries: list[str] | None) -> SimuHealthGenerator:
    return SimuHealthGenerator(seed, countries=countries, start=date(2025, 1, 1), end=date(2026, 1, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--countries", nargs="*", help="ISO codes (default: every reference country)")
    parser.add_argument("--produce", action="store_true",
                        help="also measure generate + encode + produce to Kafka (needs `daas stack up`)")
    args = parser.parse_args()
    schema = parse_schema(json.loads(SCHEMA.read_text()))

    started = time.perf_counter()
    generator = _generator(args.seed, args.countries)
    setup = time.perf_counter() - started

    started = time.perf_counter()
    for _ in generator.generate(args.records):
        pass
    generate_only = time.perf_counter() - started

    generator = _generator(args.seed, args.countries)
    buffer = io.BytesIO()
    encoded = 0
    started = time.perf_counter()
    for record in generator.generate(args.records):
        buffer.seek(0)
        buffer.truncate()
        schemaless_writer(buffer, schema, record)
        encoded += buffer.tell()
    with_encode = time.perf_counter() - started

    print(f"python {platform.python_version()} on {platform.machine()}, {args.records:,} records")
    print(f"setup (reference data, name pools, tables): {setup:.2f} s")
    print(f"generate only:         {args.records / generate_only:>10,.0f} records/s  ({generate_only:.2f} s)")
    print(f"generate + Avro encode:{args.records / with_encode:>10,.0f} records/s  ({with_encode:.2f} s, "
          f"{encoded / args.records:.0f} bytes/record)")
    if args.produce:
        rate = _produce(args.seed, args.countries, args.records)
        print(f"generate + encode + produce (acks=all, idempotent):{rate:>10,.0f} records/s")
    print(f"peak RSS:              {_peak_rss_mib():>10,.0f} MiB")


def _produce(seed: int, countries: list[str] | None, n: int) -> float:
    """Records/s through the project's producer into a fresh topic, until all are acknowledged."""
    import uuid

    from daas.kafka import TopicSpec, create_admin, ensure_topics
    from daas.settings import load_settings
    from producers.kafka_producer import RecordProducer
    from schemas import SIMUHEALTH_ENCOUNTER

    settings = load_settings()
    topic = f"bench-simuhealth-{uuid.uuid4().hex[:8]}"
    ensure_topics(create_admin(settings), [TopicSpec(topic, settings.kafka_partitions)])
    producer = RecordProducer(settings, topic=topic, schema_name=SIMUHEALTH_ENCOUNTER, source="simuhealth")
    started = time.perf_counter()
    producer.produce_many((r["encounter_id"], r) for r in _generator(seed, countries).generate(n))
    producer.close()
    elapsed = time.perf_counter() - started
    if producer.report.delivered != n:
        raise SystemExit(f"only {producer.report.delivered} of {n} records were acknowledged")
    return n / elapsed


if __name__ == "__main__":
    main()
