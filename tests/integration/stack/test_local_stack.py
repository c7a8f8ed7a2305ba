"""`daas stack up` is idempotent and `down` leaves nothing of its own running.

Uses a second stack in its own runtime folder and ports, so the session's stack
(which other tests share) is left alone.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from daas.errors import StackError
from daas.settings import load_settings
from daas.stack import LocalStack
from daas.stack._process import port_is_open

REPO = Path(__file__).resolve().parents[3]


def _own_processes(root: Path) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if str(root) in line and "ps -eo" not in line]


@pytest.fixture
def private_stack() -> LocalStack:
    # Under the repo, not /tmp: the postgres system user must be able to reach it.
    root = REPO / ".runtime" / "test-stacks" / uuid.uuid4().hex[:8]
    settings = load_settings(runtime_dir=root, stack_kafka_port=31192, stack_s3_port=31100,
                             stack_postgres_port=31532)
    stack = LocalStack(settings)
    yield stack
    stack.down()
    shutil.rmtree(root, ignore_errors=True)


def test_up_twice_starts_nothing_new_and_down_stops_everything(private_stack: LocalStack) -> None:
    first = private_stack.up(timeout=120)
    assert [r.started for r in first] == [True, True, True]
    pids = {s.name: s.pid for s in private_stack.status()}
    assert all(pids.values())

    second = private_stack.up(timeout=30)
    assert [r.started for r in second] == [False, False, False]
    assert {s.name: s.pid for s in private_stack.status()} == pids
    assert all(s.healthy for s in private_stack.status())

    assert sorted(private_stack.down()) == ["kafka", "postgres", "s3proxy"]
    assert _own_processes(private_stack.root) == []
    for port in (31192, 31193, 31100, 31532):
        assert not port_is_open("127.0.0.1", port)
    assert private_stack.down() == []


def test_a_port_taken_by_someone_else_is_a_clear_error(private_stack: LocalStack) -> None:
    import socket

    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", private_stack.kafka.port))
        squatter.listen()
        with pytest.raises(StackError, match=r"port 127.0.0.1:31192 for kafka is taken"):
            private_stack.up(timeout=30)
    assert _own_processes(private_stack.root) == []


def test_the_cli_reports_status_of_a_stopped_stack(private_stack: LocalStack) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "console.main", "stack", "status"],
        capture_output=True, text=True, check=False, cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "DAAS_RUNTIME_DIR": str(private_stack.root),
             "DAAS_STACK_KAFKA_PORT": "31192", "DAAS_STACK_S3_PORT": "31100",
             "DAAS_STACK_POSTGRES_PORT": "31532", "COLUMNS": "200"},
    )
    assert result.returncode == 1
    assert result.stdout.count("not running") == 3


def test_a_port_held_by_an_outgoing_connection_is_named_not_mistaken_for_free(tmp_path: Path) -> None:
    """A server cannot listen on a port that a connection uses as its local end, although a
    connection attempt to it is refused; the stack used to start PostgreSQL there and
    fail with pg_ctl's bare "stopped waiting"."""
    import socket

    postgres = LocalStack(load_settings(runtime_dir=tmp_path, stack_postgres_port=31932)).postgres
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.socket() as client:
            client.bind(("127.0.0.1", postgres.port))
            client.connect(server.getsockname())
            with pytest.raises(StackError, match=r"31932 for postgres is held by an open connection's local end"):
                postgres.start()
    assert postgres.process.pid() is None


def test_postgres_lives_outside_a_runtime_folder_its_user_cannot_reach(tmp_path: Path) -> None:
    """Root running the stack from a clone in a 0700 home: PostgreSQL (which runs as the
    postgres user) keeps its cluster where that user can reach it, and starts."""
    from daas.stack.postgres import cluster_home

    closed = tmp_path / "home"
    closed.mkdir(mode=0o700)
    closed.chmod(0o700)
    root = closed / "clone" / ".runtime"
    settings = load_settings(runtime_dir=root, stack_postgres_port=31732)
    stack = LocalStack(settings)
    home = stack.postgres.home
    assert home == cluster_home(root.resolve() / "postgres") and not home.is_relative_to(closed)
    try:
        assert stack.postgres.start()
        stack.postgres.wait_ready(60)
        assert "select 1 ok" in stack.postgres.check_health()
    finally:
        stack.postgres.stop()
        shutil.rmtree(home.parent, ignore_errors=True)
    open_root = REPO / ".runtime" / "test-stacks" / "open"
    assert cluster_home(open_root / "postgres") == open_root / "postgres"
