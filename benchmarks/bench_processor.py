"""Processor throughput next to the machine's limit, measured in the same run.

Run: ``python benchmarks/bench_processor.py --records 50000`` with the local stack up
(`daas stack up`). It prints:

* the limit: decode + validate/normalise/de-identify + encode of the same records by
  ``Processor.process`` in one Python process, no Kafka and no Faust;
* the processor: ``--workers`` Faust workers (subprocesses in one consumer group,
  as deployed; default 1) draining a raw topic that already holds the records, to
  the clean topic and the surveillance topics; measured from the first clean
  output to the last, so start-up is excluded (and reported separately);
* the largest worker's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from daas.kafka import count_records, create_admin, ensure_topics, pipeline_topics  # noqa: E402
from daas.settings import Topics, load_settings  # noqa: E402
from producers.kafka_producer import RecordProducer  # noqa: E402
from producers.simuhealth import SimuHealthGenerator  # noqa: E402
from schemas import SIMUHEALTH_ENCOUNTER, AvroCodec  # noqa: E402
from stream_processors.pipeline import InputMessage, Processor  # noqa: E402
from stream_processors.reference_view import load_reference  # noqa: E402
from stream_processors.transform import Context  # noqa: E402


def _limit(values: list[bytes], secret: bytes) -> float:
    facilities, icd10 = load_reference()
    processor = Processor(codec=AvroCodec(), routes={"simuhealth": ["ops"]},
                          context=lambda: Context(facilities, icd10, secret, datetime.now(tz=UTC)))
    msgs = [InputMessage("raw", 0, i, 1_795_000_000_000, v[:8], v) for i, v in enumerate(values)]
    began = time.perf_counter()
    for start in range(0, len(msgs), 1000):
        processor.process(msgs[start:start + 1000])
    return len(msgs) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=1, help="Faust workers in the group (processes)")
    args = parser.parse_args()
    n = args.records
    run = f"bench-{uuid.uuid4().hex[:8]}"
    topics = Topics(**{k: f"{run}.{v}" for k, v in Topics().model_dump().items()})
    settings = load_settings(topics=topics, processor_app_id=run)
    secret = settings.require("patient_key_secret").encode()

    end = datetime.now(tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    records = list(SimuHealthGenerator(1, start=end - timedelta(weeks=8), end=end).generate(n))
    codec = AvroCodec()
    values = codec.encode_many(SIMUHEALTH_ENCOUNTER, records)
    limit = _limit(values, secret)

    ensure_topics(create_admin(settings), pipeline_topics(topics, settings.kafka_partitions))
    producer = RecordProducer(settings, topic=topics.raw_simuhealth, schema_name=SIMUHEALTH_ENCOUNTER, source="bench")
    for record, value in zip(records, values, strict=True):
        producer.produce_raw(record["encounter_id"].encode(), value)
    producer.close()

    import subprocess

    env = {**os.environ, "DAAS_PROCESSOR_APP_ID": run,
           **{f"DAAS_TOPIC_{k.upper()}": v for k, v in topics.model_dump().items()}}
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-m", "stream_processors"], env=env,  # noqa: S603
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(args.workers)]
    first = None
    peak_rss = 0
    try:
        while True:
            done = count_records(settings, topics.clean_ops)
            now = time.perf_counter()
            if done and first is None:
                first = (now, done)
            for proc in procs:
                try:
                    rss = int(Path(f"/proc/{proc.pid}/status").read_text().split("VmHWM:")[1].split()[0])
                    peak_rss = max(peak_rss, rss)
                except (OSError, IndexError):
                    pass
            if done >= n or any(p.poll() is not None for p in procs) or now - started > 900:
                break
            time.sleep(0.25)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
    last = time.perf_counter()
    assert first is not None, "the processor produced nothing"
    rate = (done - first[1]) / (last - first[0])
    print(f"records                      {n}")
    print(f"limit (process(), no Kafka)  {limit:10,.0f} records/s")
    print(f"Faust processor, {args.workers} worker(s) {rate:8,.0f} records/s  ({rate / limit:.0%} of the limit)")
    print(f"worker start-up to 1st out   {first[0] - started:10.1f} s")
    print(f"worker peak RSS (largest)    {peak_rss / 1024:10.0f} MiB")
    print(f"clean records out            {done}")


if __name__ == "__main__":
    main()
