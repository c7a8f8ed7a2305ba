"""The chosen Kafka version works with both clients the project uses.

confluent-kafka (librdkafka) drives producers and sinks; aiokafka drives Faust. Each
produces what the other consumes, through the real broker, including an idempotent
producer (acks=all) and a transactional one (Faust's exactly-once mode uses it).
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from confluent_kafka import TopicPartition

from daas.kafka import DeliveryReport, TopicSpec, create_admin, create_consumer, create_producer, ensure_topics, flush_or_raise

N = 200


def _topic(endpoints, name: str) -> str:  # noqa: ANN001
    ensure_topics(create_admin(endpoints.settings()), [TopicSpec(name, 2)])
    return name


def test_confluent_kafka_produces_and_aiokafka_consumes(endpoints, unique_name) -> None:  # noqa: ANN001
    topic = _topic(endpoints, unique_name("ck-to-aio"))
    producer, report = create_producer(endpoints.settings()), DeliveryReport()
    for i in range(N):
        producer.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), on_delivery=report)
    flush_or_raise(producer, report)
    assert report.delivered == N

    async def consume() -> list[tuple[bytes, bytes]]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=endpoints.kafka_bootstrap_servers,
                                    auto_offset_reset="earliest", group_id=None, enable_auto_commit=False)
        await consumer.start()
        got: list[tuple[bytes, bytes]] = []
        try:
            async with asyncio.timeout(30):
                while len(got) < N:
                    batch = await consumer.getmany(timeout_ms=1000)
                    got.extend((m.key, m.value) for msgs in batch.values() for m in msgs)
        finally:
            await consumer.stop()
        return got

    got = asyncio.run(consume())
    assert sorted(got) == sorted((f"k{i}".encode(), f"v{i}".encode()) for i in range(N))


def test_aiokafka_produces_transactionally_and_confluent_kafka_consumes(endpoints, unique_name) -> None:  # noqa: ANN001
    topic = _topic(endpoints, unique_name("aio-to-ck"))

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=endpoints.kafka_bootstrap_servers,
                                    enable_idempotence=True, acks="all",
                                    transactional_id=unique_name("txn"))
        await producer.start()
        try:
            async with producer.transaction():
                for i in range(N):
                    await producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
            # An aborted transaction must stay invisible to read_committed consumers.
            await producer.begin_transaction()
            await producer.send_and_wait(topic, key=b"aborted", value=b"aborted")
            await producer.abort_transaction()
        finally:
            await producer.stop()

    asyncio.run(produce())
    consumer = create_consumer(endpoints.settings(), unique_name("group"))
    consumer.assign([TopicPartition(topic, p, 0) for p in range(2)])
    got: list[tuple[bytes, bytes]] = []
    try:
        for _ in range(60):
            for msg in consumer.consume(500, timeout=0.5):
                assert msg.error() is None, msg.error()
                got.append((msg.key(), msg.value()))
            if len(got) >= N:
                break
        # Drain a little longer to prove the aborted record never shows up.
        got.extend((m.key(), m.value()) for m in consumer.consume(500, timeout=1.0) if m.error() is None)
    finally:
        consumer.close()
    assert sorted(got) == sorted((f"k{i}".encode(), f"v{i}".encode()) for i in range(N))
