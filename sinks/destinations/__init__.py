"""Destinations: where bytes go, and which of their failures are worth a retry (S3)."""
