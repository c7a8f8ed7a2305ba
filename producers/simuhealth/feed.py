"""The SimuHealth producer as a service: a live stream or a backfill window, into the raw topic.

``run_feed`` is what ``daas produce simuhealth`` runs. Live mode emits encounters
happening now (event time = the wall clock) until stopped or ``records`` are sent;
backfill mode spreads ``records`` encounters over ``[start, end)``, with outbreaks
if asked, for demos, load tests and replays of history. Either way the stream is
deterministic for a seed, a share of it can be deliberately broken
(``producers.simuhealth.faults``), the rate can be capped, and every record is
acknowledged before it returns.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from daas.errors import ConfigurationError
from daas.metrics import Telemetry
from daas.settings import Settings
from producers.kafka_producer import RecordProducer
from producers.simuhealth.faults import Produced, with_faults
from producers.simuhealth.generator import SimuHealthGenerator
from producers.simuhealth.outbreak import Outbreak
from schemas import SIMUHEALTH_ENCOUNTER

__all__ = ["FeedOptions", "FeedStats", "backfill_window", "feed_stream", "run_feed"]


@dataclass(frozen=True)
class FeedOptions:
    seed: int = 42
    records: int | None = None  # backfill: required; live: None runs until stopped
    rate: float | None = None  # records per second; None: as fast as Kafka takes them
    countries: Sequence[str] | None = None
    start: date | None = None  # a backfill window; both or neither
    end: date | None = None
    outbreaks: Sequence[Outbreak] = ()
    faulty_share: float = 0.0


@dataclass
class FeedStats:
    sent: int = 0
    faults: dict[str, int] = field(default_factory=dict)


def backfill_window(weeks: int, *, today: date | None = None) -> tuple[date, date]:
    """The ``weeks`` full days before today (UTC): a backfill that ends where live traffic starts."""
    if weeks < 1:
        raise ConfigurationError(f"a backfill is at least one week long, not {weeks}")
    end = today or datetime.now(tz=UTC).date()
    return end - timedelta(weeks=weeks), end


def feed_stream(options: FeedOptions, now: Callable[[], datetime] = lambda: datetime.now(tz=UTC)
                ) -> Iterator[Produced]:
    """What the feed sends, in order: the same stream for the same options (and, live, the same start)."""
    backfill = options.start is not None or options.end is not None
    generator = SimuHealthGenerator(options.seed, countries=options.countries, start=options.start,
                                    end=options.end, outbreaks=options.outbreaks)
    if backfill:
        if not options.records:
            raise ConfigurationError("a backfill needs --records: how many encounters to spread over the window")
        records: Iterator[dict] = generator.generate(options.records)
    else:
        # Small bursts keep a capped rate smooth.
        records = itertools.chain.from_iterable(generator.live(now(), 50) for _ in itertools.count())
        if options.records:
            records = itertools.islice(records, options.records)
    return with_faults(records, options.faulty_share)


def run_feed(settings: Settings, options: FeedOptions, *, should_stop: Callable[[], bool] = lambda: False,
             telemetry: Telemetry | None = None, progress: Callable[[int], None] | None = None) -> FeedStats:
    """Produce the stream until it ends or ``should_stop()``; every record acknowledged on return."""
    telemetry = telemetry or Telemetry("simuhealth-producer")
    produced = telemetry.counter("daas_producer_records_total", "Records produced to a raw topic", ("source",))
    producer = RecordProducer(settings, topic=settings.topics.raw_simuhealth, schema_name=SIMUHEALTH_ENCOUNTER,
                              source="simuhealth")
    stats = FeedStats()
    began = time.monotonic()
    try:
        for item in feed_stream(options):
            if should_stop():
                break
            telemetry.beat()
            if item.record is not None:
                producer.produce(item.key, item.record)
            else:
                producer.produce_raw(item.key.encode(), item.raw or b"")
            if item.fault:
                stats.faults[item.fault] = stats.faults.get(item.fault, 0) + 1
            stats.sent += 1
            if stats.sent % 500 == 0:
                produced.labels("simuhealth").inc(500)
                if progress:
                    progress(stats.sent)
            if options.rate:
                ahead = stats.sent / options.rate - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)
    finally:
        producer.close()
    produced.labels("simuhealth").inc(stats.sent % 500)
    return stats
