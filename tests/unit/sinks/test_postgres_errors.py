"""Which PostgreSQL failures are retried, which reject one record, which stop the sink."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from sinks.destinations.rds import classify


@pytest.mark.parametrize(("error", "kind"), [
    (psycopg.OperationalError("server closed the connection unexpectedly"), "retry"),
    (errors.AdminShutdown("terminating connection due to administrator command"), "retry"),
    (errors.CannotConnectNow("the database system is starting up"), "retry"),
    (errors.QueryCanceled("canceling statement due to statement timeout"), "retry"),
    (errors.SerializationFailure("could not serialize access"), "retry"),
    (errors.DeadlockDetected("deadlock detected"), "retry"),
    (errors.TooManyConnections("sorry, too many clients already"), "retry"),
    (errors.LockNotAvailable("could not obtain lock"), "retry"),
    (errors.CharacterNotInRepertoire('invalid byte sequence for encoding "UTF8": 0x00'), "reject"),
    (errors.NumericValueOutOfRange("integer out of range"), "reject"),
    (errors.NotNullViolation("null value in column"), "reject"),
    (errors.CheckViolation("new row violates check constraint"), "reject"),
    (psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"), "reject"),
    (errors.UndefinedColumn('column "x" does not exist'), "fatal"),
    (errors.InsufficientPrivilege("permission denied for table encounters"), "fatal"),
    (errors.InternalError_("internal error"), "fatal"),
])
def test_classification(error: psycopg.Error, kind: str) -> None:
    assert classify(error) == kind
