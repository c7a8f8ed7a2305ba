"""Formats: how records become bytes (Parquet typed by the Avro schema)."""
