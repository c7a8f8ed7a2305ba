"""The suite's input: SimuHealth encounters, Avro-encoded once, produced as the producer does.

Records are generated and encoded in chunks and only their bytes are kept (a
200,000-record run holds ~50 MB, not a list of dicts), so the same values feed the
in-process limits, the pre-filled raw topic and the paced latency runs. Generating
and producing them are measured on the way: the producer side's own throughput.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from daas.settings import Settings
from producers.kafka_producer import RecordProducer
from producers.simuhealth import SimuHealthGenerator
from schemas import SIMUHEALTH_ENCOUNTER, AvroCodec

__all__ = ["RawRecords", "generate", "produce"]

_CHUNK = 5000


@dataclass
class RawRecords:
    """Encoded raw SimuHealth encounters: (key, value) pairs, and how fast they were made."""

    keys: list[bytes] = field(default_factory=list)
    values: list[bytes] = field(default_factory=list)
    seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.values)

    @property
    def mean_bytes(self) -> float:
        return sum(map(len, self.values)) / max(1, len(self.values))

    def as_dict(self) -> dict[str, float]:
        return {"records_per_second": len(self) / self.seconds, "records": len(self), "bytes": self.mean_bytes}


def generate(n: int, *, seed: int = 1, weeks: int = 8) -> RawRecords:
    """``n`` encounters of the last ``weeks`` weeks, generated and encoded with the project codec."""
    end = datetime.now(tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    generator = SimuHealthGenerator(seed, start=end - timedelta(weeks=weeks), end=end)
    codec = AvroCodec()
    out = RawRecords()
    began = time.perf_counter()
    chunk: list[dict] = []
    for record in generator.generate(n):
        chunk.append(record)
        if len(chunk) == _CHUNK:
            _encode_into(out, codec, chunk)
    _encode_into(out, codec, chunk)
    out.seconds = time.perf_counter() - began
    return out


def _encode_into(out: RawRecords, codec: AvroCodec, chunk: list[dict]) -> None:
    out.keys += [r["encounter_id"].encode() for r in chunk]
    out.values += codec.encode_many(SIMUHEALTH_ENCOUNTER, chunk)
    chunk.clear()


def produce(settings: Settings, topic: str, records: RawRecords, *, start: int = 0, count: int | None = None,
            rate: float | None = None, should_stop: Callable[[], bool] = lambda: False) -> tuple[int, float]:
    """Produce ``count`` records from ``start`` on (wrapping around) with the project's producer
    (idempotent, acks=all), paced at ``rate`` per second when given, until done or
    ``should_stop()``; return (records acknowledged, seconds until all were).

    The record's Kafka timestamp is taken when it is produced: the clean record's
    ``ingested_at``, from which latency is measured."""
    stop = len(records) if count is None else start + count
    producer = RecordProducer(settings, topic=topic, schema_name=SIMUHEALTH_ENCOUNTER, source="bench")
    began = time.monotonic()
    for n, i in enumerate(range(start, stop), 1):
        producer.produce_raw(records.keys[i % len(records)], records.values[i % len(records)])
        if rate is not None:
            ahead = n / rate - (time.monotonic() - began)
            if ahead > 0.002:
                time.sleep(ahead)
        if n % 1000 == 0 and should_stop():
            break
    producer.close(timeout=120)
    return producer.report.delivered, time.monotonic() - began
