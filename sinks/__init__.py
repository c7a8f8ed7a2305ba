"""Sinks: clean topics to durable stores, exactly once in effect.

- ``sinks.base``: the contract every sink implements and the one loop that runs it
  (consume → buffer → decode → write durably → dead letters → commit), with the
  buffering, budget, pause/resume and backoff logic written down once.
- ``sinks.formats``: how records become bytes (Parquet from the Avro schema).
- ``sinks.destinations``: where bytes go and which failures are worth a retry (S3, RDS).
- ``sinks.lake``: the lake's object layout and the write-ahead ledger that keeps
  object sets exact across crashes and replays.
- ``sinks.s3_parquet``, ``sinks.postgres`` and ``sinks.events`` (alerts, dead-letter
  metadata): the sinks; ``python -m sinks`` and ``daas sink`` run any of them.
"""
