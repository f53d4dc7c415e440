"""A scratch PostgreSQL server for tests and benchmarks, and its pytest fixtures.

``start_cluster()`` runs Debian's ``initdb``/``pg_ctl`` (``$WAVEPLAN_PG_BINDIR``, else
``/usr/lib/postgresql/*/bin``, else ``PATH``) on ``127.0.0.1`` at a free port, with its data
and unix socket in a fresh directory under the system temp dir, trust authentication
and superuser ``waveplan``. PostgreSQL refuses to run as root, so as root the server
runs as the ``postgres`` user (made by Debian's package) or ``nobody``, via ``runuser``.

Fixtures (registered for all of ``tests/`` by ``tests/conftest.py``):

- ``postgres_cluster`` (session): the running server; the tests that use it are
  skipped, saying why, when it cannot start, and fail instead when ``CI=true``.
- ``postgres_url``: an empty database with waveplan's schema, to itself for the test
  (emptied for the next test, or dropped if the test changed its schema).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

__all__ = [
    "ClusterUnavailable",
    "ScratchCluster",
    "find_bindir",
    "postgres_cluster",
    "postgres_url",
    "start_cluster",
]

SUPERUSER = "waveplan"
TEMPLATE = "waveplan_template"
# Test data is disposable: skip the disk flushes.
TEST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class ClusterUnavailable(Exception):
    """PostgreSQL cannot be started here; the message says why."""


def find_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: ``$WAVEPLAN_PG_BINDIR`` if set
    (and only that), else the newest under ``/usr/lib/postgresql``, else from ``PATH``."""
    if os.environ.get("WAVEPLAN_PG_BINDIR"):
        chosen = Path(os.environ["WAVEPLAN_PG_BINDIR"])
        return chosen if (chosen / "initdb").is_file() and (chosen / "pg_ctl").is_file() else None
    candidates: list[Path] = []

    def version(p: Path) -> tuple[int, ...]:
        name = p.parent.name
        return tuple(int(x) for x in name.split(".") if x.isdigit()) or (0,)

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ScratchCluster:
    """A PostgreSQL server in a scratch directory, stopped and removed by ``stop()``."""

    def __init__(self, root: Path, bindir: Path, port: int, run_as: list[str]) -> None:
        self.root = root
        self.bindir = bindir
        self.port = port
        self.run_as = run_as
        self._names = itertools.count(1)
        self._pool: list[str] = []
        self._template_tables: set[str] = set()

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def admin(self, sql: str) -> None:
        """Run one statement as the superuser in database ``postgres``."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, template: str = TEMPLATE) -> str:
        """A new database copied from ``template``; returns its URL."""
        if template == TEMPLATE and self._pool:
            return self._pool.pop()
        name = f"wp_{os.getpid()}_{next(self._names)}"
        self.admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def release_database(self, url: str) -> None:
        """Empty a database made from the template for reuse, else drop it.

        Copying the template costs ~0.2 s (a checkpoint); emptying ~10 ms. A database
        whose schema the test changed (another migration, extra tables) is dropped.
        """
        import psycopg

        from waveplan.store.schema import LATEST

        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("SET lock_timeout = '2s'")
                tables = {
                    r[0]
                    for r in conn.execute(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    ).fetchall()
                }
                version = conn.execute("SELECT version FROM schema_version").fetchall()
                if tables != self._template_tables or version != [(LATEST,)]:
                    raise LookupError("schema changed")
                data = ", ".join(sorted(tables - {"schema_version"}))
                conn.execute(f"TRUNCATE {data} RESTART IDENTITY")
        except (psycopg.Error, LookupError):
            self.drop_database(url)
            return
        self._pool.append(url)

    def make_template(self) -> None:
        """Create the template database holding waveplan's schema (migrated once)."""
        import psycopg

        from waveplan.store.postgres import PostgresStore

        self.admin(f'CREATE DATABASE "{TEMPLATE}"')
        PostgresStore(self.url(TEMPLATE)).close()
        with psycopg.connect(self.url(TEMPLATE)) as conn:
            self._template_tables = {
                r[0]
                for r in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                ).fetchall()
            }

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join((self.root / "server.log").read_text().splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def stop(self) -> None:
        command = [*self.run_as, str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data)]
        subprocess.run(
            [*command, "-m", "immediate", "-w"],
            capture_output=True,
            cwd=self.root,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def _unprivileged_user() -> tuple[list[str], pwd.struct_passwd]:
    runuser = shutil.which("runuser")
    if runuser is None:
        raise ClusterUnavailable(
            "running as root, and PostgreSQL refuses to run as root, but there is no "
            "runuser (util-linux) to start it as an unprivileged user"
        )
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return [runuser, "-u", name, "--"], pwd.getpwnam(name)
    raise ClusterUnavailable(
        "running as root, and PostgreSQL refuses to run as root, but neither a "
        "'postgres' nor a 'nobody' user exists to run it as"
    )


def start_cluster(settings: Mapping[str, str] = TEST_SETTINGS) -> ScratchCluster:
    """Start a scratch server (``settings`` become ``-c name=value``); raises
    ``ClusterUnavailable`` saying why it cannot."""
    bindir = find_bindir()
    if bindir is None:
        raise ClusterUnavailable(
            "no PostgreSQL server binaries (initdb, pg_ctl) in $WAVEPLAN_PG_BINDIR, under "
            "/usr/lib/postgresql/*/bin or on PATH: install Debian's postgresql package "
            "(scripts/test does so when CI=true or WAVEPLAN_INSTALL_POSTGRES=1)"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise ClusterUnavailable("psycopg is not installed: pip install -e '.[test]'") from exc
    run_as: list[str] = []
    owner = None
    if os.geteuid() == 0:
        run_as, owner = _unprivileged_user()
    # Under the system temp dir (world-traversable), not pytest's 0700 tmp_path.
    root = Path(tempfile.mkdtemp(prefix="waveplan-pg-"))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    command = [*run_as, str(bindir / "initdb"), "-D", str(root / "data"), "-U", SUPERUSER]
    initdb = subprocess.run(
        [*command, "-A", "trust", "--no-locale", "-E", "UTF8", "--no-sync"],
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
        check=False,
    )
    if initdb.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise ClusterUnavailable(f"initdb failed: {(initdb.stderr or initdb.stdout).strip()}")
    last_error = ""
    for _attempt in range(3):  # a free port can be taken between probing and binding
        cluster = ScratchCluster(root, bindir, _free_port(), run_as)
        options = {
            "listen_addresses": "127.0.0.1",
            "port": str(cluster.port),
            "unix_socket_directories": str(root),
            "max_connections": "200",
            **settings,
        }
        command = [*run_as, str(bindir / "pg_ctl"), "start", "-D", str(cluster.data), "-w"]
        flags = " ".join(f"-c {k}={v}" for k, v in options.items())
        start = subprocess.run(
            [*command, "-t", "60", "-l", str(root / "server.log"), "-o", flags],
            capture_output=True,
            text=True,
            cwd=root,
            env=env,
            check=False,
        )
        if start.returncode == 0:
            return cluster
        last_error = f"{start.stderr.strip()}\n{cluster.log_tail()}"
    shutil.rmtree(root, ignore_errors=True)
    raise ClusterUnavailable(f"pg_ctl could not start PostgreSQL: {last_error}")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required in CI but cannot start: {reason}")
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[ScratchCluster]:
    try:
        cluster = start_cluster()
    except ClusterUnavailable as exc:
        _unavailable(str(exc))
        raise  # pragma: no cover - _unavailable always raises
    try:
        cluster.make_template()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: ScratchCluster) -> Iterator[str]:
    """An empty database holding waveplan's schema (emptied or dropped after the test)."""
    url = postgres_cluster.create_database()
    try:
        yield url
    finally:
        postgres_cluster.release_database(url)
