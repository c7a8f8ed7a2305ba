"""The record contract: Avro schemas (``*.avsc``), their released history, and the codec.

``SchemaStore`` knows every schema the project ever released, by name and by
fingerprint; ``AvroCodec`` turns records into wire bytes and back.
"""

from schemas.codec import AvroCodec, Decoded
from schemas.store import CLEAN_ENCOUNTER, SHEET_ROW, SIMUHEALTH_ENCOUNTER, SchemaStore, StoredSchema

__all__ = [
    "CLEAN_ENCOUNTER",
    "SHEET_ROW",
    "SIMUHEALTH_ENCOUNTER",
    "AvroCodec",
    "Decoded",
    "SchemaStore",
    "StoredSchema",
]
