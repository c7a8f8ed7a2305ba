"""Sinks: clean topics to durable stores. ``base`` owns the durable-then-commit order."""
