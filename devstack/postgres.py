"""PostgreSQL databases and clusters of our own, for the production topology, the benchmark
and tests that stop their database under load."""

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

POSTGRES_SCHEMES = ("postgres://", "postgresql://", "pgsql://")


def _admin_url(url: str) -> str:
    """The URL of the `postgres` database on the server `url` names (psycopg's scheme)."""
    return urlsplit(url)._replace(scheme="postgresql", path="/postgres").geturl()


def create_database(url: str, *, recreate: bool = False) -> None:
    """Create the database `url` names on its server (dropping it first if asked)."""
    import psycopg
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(_admin_url(url), autocommit=True, connect_timeout=5) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if exists and recreate:
            connection.execute(
                sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name))
            )
            exists = None
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str) -> None:
    """Drop the database `url` names, whoever is connected to it."""
    import psycopg
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(_admin_url(url), autocommit=True, connect_timeout=5) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def database_url(server_url: str, name: str) -> str:
    """The URL of database `name` on the server `server_url` names."""
    return urlsplit(server_url)._replace(path=f"/{name}").geturl()


@contextlib.contextmanager
def throwaway_database(tmp: Path, prefix: str = "tanka_tmp") -> Iterator[str]:
    """The DATABASE_URL of an empty database for one run: a fresh PostgreSQL database on the
    server DATABASE_URL names (dropped afterwards), else a SQLite file in `tmp`."""
    configured = os.environ.get("DATABASE_URL", "")
    if not configured.startswith(POSTGRES_SCHEMES):
        yield f"sqlite:///{Path(tmp) / 'db.sqlite3'}"
        return
    url = database_url(configured, f"{prefix}_{uuid.uuid4().hex[:12]}")
    create_database(url)
    try:
        yield url
    finally:
        drop_database(url)


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server binaries installed (Debian's layout)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


class PostgresCluster:
    """A throwaway PostgreSQL cluster of our own (initdb in a temporary folder, a free port),
    which can be stopped and started again without touching the machine's server."""

    def __init__(self) -> None:
        from devstack.net import free_port

        binaries = postgres_bin()
        if binaries is None:
            raise RuntimeError("PostgreSQL's server binaries are not installed")
        self.bin = binaries
        self.dir = Path(tempfile.mkdtemp(prefix="tanka-pg-"))
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/tanka"
        # initdb and postgres refuse to run as root: run them as the postgres user then.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.dir, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, timeout=120, capture_output=True)

    def init(self) -> "PostgresCluster":
        self._run(str(self.bin / "initdb"), "-D", str(self.dir / "data"), "-A", "trust",
                  "-U", "postgres", "--no-sync")  # fmt: skip
        self.start()
        create_database(self.url)
        return self

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off")  # fmt: skip
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-o", options,
                  "-l", str(self.dir / "server.log"), "-w", "-t", "60", "start")  # fmt: skip

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w",
                  "stop")  # fmt: skip

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
