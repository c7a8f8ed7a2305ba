"""Where the lake keeps things: data objects, COPY manifests and write intents.

Data objects: ``<prefix>/country_code=<CC>/epi_week=<YYYYWww>/<topic>+<partition,
4 digits>+<first offset, 20 digits>.parquet``. Country and ISO week are the Hive
partitions because every surveillance query filters by place and week, and a week of
one country is what analysts and the warehouse load read together; both are bounded
(tens of countries, 53 weeks a year), so files do not shatter. The name is a function
of topic, partition and the write's first offset, so a rewrite overwrites it.

Manifests (Redshift COPY format, read by ``warehouse.loader``):
``<prefix>/_manifests/<topic>+<partition>+<first offset>.manifest.json``; zero-padded,
so key order is offset order. Write intents: ``<prefix>/_intents/<topic>+<partition>.json``,
one per partition. Folders starting with ``_`` are ignored by Hive-style readers.
"""

from __future__ import annotations

import re
from urllib.parse import quote

__all__ = ["INTENT_DIR", "MANIFEST_DIR", "intent_key", "manifest_key", "manifest_offset", "manifest_prefix",
           "object_key"]

MANIFEST_DIR = "_manifests"
INTENT_DIR = "_intents"
_MANIFEST_NAME = re.compile(r"\+(\d{4,})\+(\d{20})\.manifest\.json$")


def _hive(value: str) -> str:
    # Hive partition values must not contain '/', '=' or characters S3 tools mangle.
    return quote(value, safe="-_.")


def object_key(prefix: str, country: str, week: str, topic: str, partition: int, first_offset: int) -> str:
    return (f"{prefix}/country_code={_hive(country)}/epi_week={_hive(week)}/"
            f"{topic}+{partition:04d}+{first_offset:020d}.parquet")


def manifest_prefix(prefix: str, topic: str, partition: int) -> str:
    return f"{prefix}/{MANIFEST_DIR}/{topic}+{partition:04d}+"


def manifest_key(prefix: str, topic: str, partition: int, first_offset: int) -> str:
    return f"{manifest_prefix(prefix, topic, partition)}{first_offset:020d}.manifest.json"


def manifest_offset(key: str) -> int | None:
    """The first offset a manifest key names, or None for a key that is no manifest."""
    found = _MANIFEST_NAME.search(key)
    return int(found.group(2)) if found else None


def intent_key(prefix: str, topic: str, partition: int) -> str:
    return f"{prefix}/{INTENT_DIR}/{topic}+{partition:04d}.json"
