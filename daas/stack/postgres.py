"""PostgreSQL from the system packages, as a private cluster in the runtime folder.

One cluster serves two databases: one in the role of RDS (the operational store the
Postgres sink writes) and one in the role of Redshift (the local warehouse). The
server refuses to run as root, so when the stack runs as root the cluster belongs to
the ``postgres`` system user that Debian's package creates.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import psycopg

from daas.errors import StackError
from daas.stack._process import wait_until
from daas.stack._service import Service

__all__ = ["PostgresServer", "cluster_home", "find_pg_bin", "install_postgres"]

_SYSTEM_USER = "postgres"
# Where a root-run stack keeps the cluster when the postgres user cannot reach the
# runtime folder (a clone under root's 0700 home, say).
_OUTSIDE_HOME = Path("/var/lib/daas-stack")


def _reachable_by(path: Path, uid: int | None, gid: int | None) -> bool:
    """Whether a user could walk down to ``path`` (search permission on every folder on the way)."""
    for folder in [path, *path.parents]:
        try:
            st = folder.stat()
        except FileNotFoundError:
            continue  # created later, by root, mode 755
        if st.st_uid == uid:
            allowed = st.st_mode & 0o100
        elif st.st_gid == gid:
            allowed = st.st_mode & 0o010
        else:
            allowed = st.st_mode & 0o001
        if not allowed:
            return False
    return True


def cluster_home(runtime_home: Path) -> Path:
    """Where the cluster lives: ``runtime_home``, unless the server cannot reach it.

    PostgreSQL refuses to run as root, so a root-run stack runs it as the ``postgres``
    system user, which must be able to reach its data folder. When a folder on the
    way is closed to it (root's home is mode 700), the cluster goes to
    ``/var/lib/daas-stack/<hash of the runtime folder>`` instead, one per runtime folder.
    """
    if os.geteuid() != 0:
        return runtime_home
    try:
        owner = pwd.getpwnam(_SYSTEM_USER)
        uid, gid = owner.pw_uid, owner.pw_gid
    except KeyError:
        uid = gid = None  # installed on first start; until then, a user like any other
    if _reachable_by(runtime_home.resolve(), uid, gid):
        return runtime_home
    return _OUTSIDE_HOME / hashlib.sha256(str(runtime_home.resolve()).encode()).hexdigest()[:16] / "postgres"


def find_pg_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin folder, if any."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3])
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


def install_postgres() -> Path:
    """Install the server from Debian's packages (as root) and return its bin folder."""
    if os.geteuid() != 0:
        raise StackError(
            "PostgreSQL server not found: install it with `sudo apt-get install -y postgresql`"
        )
    # The package would otherwise create and start a system-wide cluster on port 5432.
    conf = Path("/etc/postgresql-common/createcluster.conf")
    if not conf.exists():
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text("create_main_cluster = false\n")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"]):
        result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)  # noqa: S603
        if result.returncode != 0:
            raise StackError(f"`{' '.join(cmd)}` failed:\n{result.stderr[-2000:]}")
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise StackError("postgresql was installed but pg_ctl is still missing")
    return bin_dir


class PostgresServer(Service):
    """A PostgreSQL cluster on loopback with password (SCRAM) authentication."""

    name = "postgres"
    port_setting = "DAAS_STACK_POSTGRES_PORT"

    def __init__(self, home: Path, host: str, port: int, *, user: str, password: str, databases: Sequence[str]) -> None:
        super().__init__(home, host, port)
        self.user = user
        self.password = password
        self.databases = tuple(databases)
        self.data_dir = home / "data"
        self.process.pid_file = self.data_dir / "postmaster.pid"

    @property
    def endpoint(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}"

    def dsn(self, database: str) -> str:
        """Connection URL for one database, including the generated password."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def _as_owner(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", _SYSTEM_USER, "--", *argv] if os.geteuid() == 0 else argv

    def _run(self, argv: list[str], what: str) -> None:
        result = subprocess.run(self._as_owner(argv), capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise StackError(f"{what} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")

    def _chown(self, path: Path) -> None:
        if os.geteuid() != 0:
            return
        try:
            owner = pwd.getpwnam(_SYSTEM_USER)
        except KeyError as exc:
            raise StackError(
                f"running as root needs the `{_SYSTEM_USER}` system user that Debian's "
                "postgresql package creates; install it with `apt-get install -y postgresql`"
            ) from exc
        for root, dirs, files in os.walk(path):
            for name in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)]:
                os.chown(name, owner.pw_uid, owner.pw_gid)

    def _initdb(self, bin_dir: Path) -> None:
        run_dir = self.home / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        pwfile = self.home / "initdb.pw"
        pwfile.write_text(self.password + "\n")
        pwfile.chmod(0o600)
        self._chown(self.home)
        try:
            self._run(
                [str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", self.user,
                 f"--pwfile={pwfile}", "--auth=scram-sha-256", "--encoding=UTF8",
                 "--locale=C.UTF-8"],
                "initdb",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# daas local stack\n"
                f"listen_addresses = '{self.host}'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{run_dir}'\n"
                "max_connections = 200\n"
                "shared_buffers = 128MB\n"
                # Logical decoding as on RDS, where Airbyte reads changes this way.
                "wal_level = logical\n"
                "max_wal_senders = 4\n"
                "max_replication_slots = 4\n"
            )

    def _launch(self) -> None:
        bin_dir = find_pg_bin() or install_postgres()
        if not (self.data_dir / "PG_VERSION").is_file():
            self._initdb(bin_dir)
        self._chown(self.home)
        try:
            self._run(
                [str(bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
                 "-w", "-t", "60", "start"],
                "pg_ctl start",
            )
        except StackError as exc:
            lines = self.log_file.read_text(errors="replace").splitlines()[-10:] if self.log_file.is_file() else []
            raise StackError(f"{exc}\nlast lines of {self.log_file}:\n" + "\n".join(lines)) from None
        wait_until(self.healthy_server, timeout=60, what="PostgreSQL select 1", log=self.log_file)
        self._create_databases()

    def stop(self) -> bool:
        if self.process.pid() is None:
            return False
        bin_dir = find_pg_bin()
        if bin_dir is None:
            return self.process.stop()
        self._run([str(bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"], "pg_ctl stop")
        return True

    def _connect(self, database: str) -> psycopg.Connection:
        return psycopg.connect(self.dsn(database), connect_timeout=3, autocommit=True)

    def healthy_server(self) -> bool:
        try:
            with self._connect("postgres") as conn:
                conn.execute("select 1")
        except psycopg.Error:
            return False
        return True

    def _create_databases(self) -> None:
        with self._connect("postgres") as conn:
            existing = {row[0] for row in conn.execute("select datname from pg_database")}
            for database in self.databases:
                if database not in existing:
                    conn.execute(f'create database "{database}"')

    def check_health(self) -> str:
        for database in self.databases:
            with self._connect(database) as conn:
                (one,) = conn.execute("select 1").fetchone() or (None,)
                if one != 1:
                    raise StackError(f"select 1 on {database} returned {one!r}")
        return f"select 1 ok on {', '.join(self.databases)}"
