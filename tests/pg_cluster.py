"""A throwaway PostgreSQL cluster for the tests: initdb in a temporary folder, pg_ctl start/stop.

PostgreSQL refuses to run as root, so when the tests run as root (CI does) the cluster is made
and started as the `postgres` system user that Debian's package creates. Where the binaries are
missing the tests that need them skip with the reason, unless `VENICE_VIDEO_REQUIRE_POSTGRES=1`
is set (CI sets it), which turns the skip into a failure.

Import the fixtures into a conftest.py:

    from pg_cluster import pg_url, postgres  # noqa: F401
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REQUIRE_ENV = "VENICE_VIDEO_REQUIRE_POSTGRES"


def find_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's newest version."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(os.path.realpath(on_path)).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """One running PostgreSQL server on 127.0.0.1, owned by the test session."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="venice-video-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self._user: str | None = None
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("running as root needs the `postgres` system user to run PostgreSQL")
            self._user = "postgres"
            shutil.chown(self.root, user="postgres")
        self._pg(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
            "--no-sync", "--no-instructions",
        )  # fmt: skip
        self.start()

    def _pg(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {}
        if self._user is not None:
            kwargs["user"] = self._user
        return subprocess.run(
            [str(self.bindir / tool), *args],
            check=True,
            capture_output=True,
            text=True,
            cwd=self.root,
            timeout=120,
            **kwargs,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        self._pg(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w",
            "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def restart(self) -> None:
        """A fast restart: every connection is cut, then the server comes back on its port."""
        # -l again: without it the new server would write to (and hold open) our pipes.
        self._pg(
            "pg_ctl", "-D", str(self.data), "-m", "fast", "-l", str(self.root / "log"), "-w",
            "-t", "60", "restart",
        )  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def unavailable(reason: str) -> None:
    """Skip with `reason`, or fail where PostgreSQL is required (CI)."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1 turns this skip into a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """A real PostgreSQL server for the whole session (skipped where it cannot be had)."""
    bindir = find_binaries()
    if bindir is None:
        unavailable(
            "PostgreSQL is not installed (no initdb/pg_ctl on PATH or under "
            "/usr/lib/postgresql/*/bin): `apt-get install postgresql` to run these tests"
        )
        raise AssertionError("unreachable")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed: pip install 'venice-video[postgres]'")
    cluster = Cluster(bindir)
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_url(postgres: Cluster) -> str:
    """A new, empty database on the session's server, for this test alone."""
    return postgres.create_database()
