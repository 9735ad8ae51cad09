"""A throwaway PostgreSQL 15 cluster on 127.0.0.1 for the tests and benchmarks.

`initdb` refuses to run as root, so as root the cluster belongs to the
`postgres` user (Debian's package creates it). Local socket connections are
trusted (the tests' admin work); TCP on 127.0.0.1 needs a password, so a
role logging in is authenticated, and a wrong password is refused.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BIN = Path(os.environ.get("DATAGOV_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER, SUPERPASS = "dgadmin", "admin-secret"


def available() -> bool:
    return (BIN / "initdb").is_file()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class Cluster:
    folder: Path
    port: int

    def url(self, database: str, user: str = SUPERUSER, password: str = SUPERPASS) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as con:
            con.execute(sql)  # type: ignore[arg-type]

    def create_database(self, name: str) -> str:
        self.admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def create_login(self, role: str, password: str, *member_of: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as con:
            exists = con.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
            verb = "ALTER" if exists else "CREATE"
            con.execute(f"{verb} ROLE \"{role}\" LOGIN PASSWORD '{password}'")  # type: ignore[arg-type]
            for group in member_of:
                con.execute(f'GRANT "{group}" TO "{role}"')  # type: ignore[arg-type]

    def stop(self) -> None:
        subprocess.run(
            _as_owner([str(BIN / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> Cluster:
    """initdb into a fresh temporary folder and start the server; the caller stops it."""
    folder = Path(tempfile.mkdtemp(prefix="datagov-pg-"))
    os.chmod(folder, 0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    secret = folder / "pw"
    secret.write_text(SUPERPASS + "\n")
    if os.geteuid() == 0:
        shutil.chown(secret, "postgres", "postgres")
    data, port = folder / "data", _free_port()
    _run(
        [str(BIN / "initdb"), "-D", str(data), "-U", SUPERUSER, f"--pwfile={secret}", "--auth-local=trust",
         "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
    )  # fmt: skip
    options = (
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=200"
    )
    _run([str(BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"])
    cluster = Cluster(folder, port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            cluster.admin("SELECT 1")
            return cluster
        except Exception:  # still starting
            time.sleep(0.2)
    cluster.stop()
    raise RuntimeError(f"PostgreSQL did not start; see {folder / 'log'}")


def _run(argv: list[str]) -> None:
    done = subprocess.run(_as_owner(argv), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {done.stderr or done.stdout}")
