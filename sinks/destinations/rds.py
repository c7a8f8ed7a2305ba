"""RDS (PostgreSQL, ``DAAS_RDS_DSN``) as a destination: the connection every Postgres sink writes through.

The encounters sink (``sinks.postgres``) and the events sinks (``sinks.events``) share
it: a connection opened on first use and again after it broke, with the sink's
tables prepared on each new connection, and PostgreSQL's errors told apart by
SQLSTATE so the runner reacts rightly. Connection loss, shutdown, overload,
statement timeouts, serialization failures and deadlocks are ``Retryable`` (the
runner pauses and backs off); a server that refuses what ``DAAS_RDS_DSN`` says
(password, user, database, host, TLS options) or a missing privilege is a
``ConfigurationError`` naming the setting, not retried for ever; anything else is a
``SinkError`` (a bug stops the sink). The password never appears in a message.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import psycopg
from psycopg.conninfo import conninfo_to_dict

from daas.errors import ConfigurationError, Retryable, SinkError
from daas.settings import Settings

__all__ = ["RdsConnection", "classify", "describe_dsn"]

# SQLSTATE classes: 08 connection, 40 rollback (serialization, deadlock), 53 resources,
# 55 object state (lock not available), 57 operator intervention (shutdown, statement
# timeout), 58 system error. 22 data and 23 integrity errors are the record's fault.
_RETRY_CLASSES = frozenset({"08", "40", "53", "55", "57", "58"})
_REJECT_CLASSES = frozenset({"22", "23"})
# What libpq says when the connection string itself is wrong (connection errors carry
# no SQLSTATE): retrying these cannot help, the setting must change.
_MISCONFIGURED = re.compile(r"password authentication failed|no password supplied|does not exist|"
                            r"no pg_hba\.conf entry|failed to resolve host|could not translate host name|"
                            r"invalid \w+ value|invalid connection option|certificate", re.IGNORECASE)
_INSUFFICIENT_PRIVILEGE = "42501"


def classify(exc: psycopg.Error) -> str:
    """``"retry"``, ``"reject"`` (the record's fault) or ``"fatal"`` for a psycopg error."""
    state = exc.sqlstate or ""
    connection_level = isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
    if state[:2] in _RETRY_CLASSES or (not state and connection_level):
        return "retry"
    if state[:2] in _REJECT_CLASSES or (not state and isinstance(exc, psycopg.DataError)):
        return "reject"
    return "fatal"


def describe_dsn(dsn: str) -> str:
    """``user@host:port/dbname`` of a connection string, never its password;
    ConfigurationError naming DAAS_RDS_DSN when it does not parse."""
    try:
        info = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        # libpq's message quotes pieces of the string, which may hold the password.
        raise ConfigurationError("DAAS_RDS_DSN is not a PostgreSQL connection string; expected "
                                 "postgresql://user:password@host:5432/dbname or 'host=... dbname=... user=...'") from exc
    host, port = info.get("host") or "localhost", info.get("port") or "5432"
    return f"{info.get('user') or '(default user)'}@{host}:{port}/{info.get('dbname') or '(default database)'}"


def first_line(exc: psycopg.Error) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class RdsConnection:
    """One sink's connection to RDS; ``prepare`` creates or evolves its tables on each new connection."""

    def __init__(self, settings: Settings, *, writer: str, schema: str,
                 prepare: Callable[[psycopg.Connection], object], statement_timeout_ms: int = 30_000,
                 connect_timeout: int = 5) -> None:
        self._dsn = settings.require("rds_dsn")
        self.where = describe_dsn(self._dsn)  # fails now, naming DAAS_RDS_DSN, when it does not parse
        self._writer = writer  # e.g. "PostgreSQL sink", for messages
        self._schema = schema
        self._prepare = prepare
        self._statement_timeout_ms = statement_timeout_ms
        self._connect_timeout = connect_timeout
        self._conn: psycopg.Connection | None = None

    def get(self) -> psycopg.Connection:
        """The open connection, reopened (and the tables prepared) when it broke."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=self._connect_timeout,
                                       options=f"-c statement_timeout={self._statement_timeout_ms}")
            except psycopg.Error as exc:
                raise self.translate(exc, "connecting") from exc
            try:
                self._prepare(conn)
            except psycopg.Error as exc:
                conn.close()
                raise self.translate(exc, f"preparing its tables in schema {self._schema!r}") from exc
            self._conn = conn
        return self._conn

    def translate(self, exc: psycopg.Error, doing: str) -> Exception:
        """The project error for a psycopg error met while ``doing`` something (see the module)."""
        if doing == "connecting" and _MISCONFIGURED.search(str(exc)):
            return ConfigurationError(f"PostgreSQL at {self.where} refused the connection DAAS_RDS_DSN describes: "
                                      f"{first_line(exc)}; fix the user, password, database, host or TLS options "
                                      "in DAAS_RDS_DSN")
        if exc.sqlstate == _INSUFFICIENT_PRIVILEGE:
            return ConfigurationError(f"the DAAS_RDS_DSN user at {self.where} may not {doing}: {first_line(exc)}; "
                                      f"grant it USAGE and CREATE on schema {self._schema!r} (or create the "
                                      "tables as their owner)")
        if classify(exc) == "retry":
            if self._conn is not None and (self._conn.broken or isinstance(exc, psycopg.OperationalError)):
                self._conn.close()
            return Retryable(f"PostgreSQL at {self.where} (DAAS_RDS_DSN) unavailable {doing} "
                             f"({exc.sqlstate or 'connection'}): {first_line(exc)}")
        return SinkError(f"{self._writer} cannot write ({doing}): {exc.sqlstate or type(exc).__name__}: {exc}".strip())

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
