"""One error hierarchy for the whole pipeline.

Every error the project raises derives from :class:`DaasError`. Stages subclass it;
``Retryable`` marks errors worth another attempt (a broker or database that is
briefly away), everything else is fatal for the operation that raised it.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "DaasError",
    "DecodeError",
    "ProcessorError",
    "Retryable",
    "SchemaError",
    "SinkError",
    "StackError",
    "ValidationError",
]


class DaasError(Exception):
    """Root of every error raised by the project."""


class Retryable(DaasError):
    """A transient failure: the same call may succeed later."""


class ConfigurationError(DaasError):
    """A setting is missing or invalid; the message names it and the fix."""


class StackError(DaasError):
    """The local stack could not be started, checked or stopped."""


class SchemaError(DaasError):
    """A schema is missing, malformed or incompatible."""


class DecodeError(DaasError):
    """Bytes on a topic are not a record this project can read."""


class ValidationError(DaasError):
    """A decoded record breaks a rule of the record contract."""


class ProcessorError(DaasError):
    """The processor cannot go on (a fatal Kafka error, a fenced transactional producer)."""


class SinkError(DaasError):
    """A sink could not make a batch durable."""
