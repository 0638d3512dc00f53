"""A private PostgreSQL cluster for a tracking server: one data folder, one loopback port, no sockets.

Debian's PostgreSQL (`apt-get install postgresql`: ``/usr/lib/postgresql/<version>/bin``) refuses
to run as root, so as root every server command runs as the ``postgres`` user, who must own the
data folder and reach it (no private parent folder). Authentication is `trust` on 127.0.0.1 only:
a developer's or CI's local store, not a shared production database (docs/team.md).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

BIN_ENV = "MOVIEREC_PG_BIN"   # a folder holding initdb and pg_ctl, when they are not where Debian puts them
SUPERUSER = "postgres"
DATABASE = "mlflow"


class PostgresMissing(RuntimeError):
    """PostgreSQL's server programs are not installed."""


def bin_dir() -> Path:
    """The folder of `initdb` and `pg_ctl`: ``MOVIEREC_PG_BIN``, Debian's newest, else from ``PATH``."""
    if os.environ.get(BIN_ENV):
        folder = Path(os.environ[BIN_ENV])
        if not (folder / "initdb").is_file():
            raise PostgresMissing(f"{BIN_ENV}={folder} holds no initdb")
        return folder
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                    key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if debian:
        return debian[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PostgresMissing("PostgreSQL is not installed (no initdb): `apt-get install postgresql` "
                          f"(Debian/Ubuntu), or set {BIN_ENV} to the folder holding initdb and pg_ctl")


def _as_owner(command: list[str]) -> list[str]:
    """`command` as the ``postgres`` user when we are root (PostgreSQL refuses root), else as is."""
    return ["runuser", "-u", SUPERUSER, "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str], what: str, timeout: float = 120) -> str:
    result = subprocess.run(_as_owner(command), capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}): {(result.stderr or result.stdout).strip()[-2000:]}")
    return result.stdout


def _give_to_owner(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, SUPERUSER, SUPERUSER)


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing listens on `port` (connections of a stopped server in TIME_WAIT do not count: the
    servers themselves bind with SO_REUSEADDR too)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def running(data: Path) -> bool:
    if not (data / "postmaster.pid").is_file():
        return False
    result = subprocess.run(_as_owner([str(bin_dir() / "pg_ctl"), "-D", str(data), "status"]),
                            capture_output=True, text=True, timeout=60)
    return result.returncode == 0


def start(data: Path, port: int, log_file: Path) -> str:
    """Initialise `data` (first time), start the cluster on 127.0.0.1:`port`, create the ``mlflow``
    database; its SQLAlchemy URI (``postgresql+psycopg2://postgres@127.0.0.1:<port>/mlflow``)."""
    pg = bin_dir()
    data = data.resolve()
    log_file = log_file.resolve()
    if not (data / "PG_VERSION").is_file():
        data.mkdir(parents=True, exist_ok=True)
        _give_to_owner(data)
        data.chmod(0o700)
        if os.geteuid() == 0 and subprocess.run(["runuser", "-u", SUPERUSER, "--", "test", "-w", str(data)]).returncode:
            raise RuntimeError(f"the {SUPERUSER} user cannot reach {data} (a parent folder is private): "
                               "choose a data folder it can reach (TRACKING_DIR=/var/tmp/movierec-tracking)")
        _run([str(pg / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-instructions"],
             "initdb")
    # the driver named: SQLAlchemy 2.1 would take psycopg 3 for a bare postgresql:// URI
    uri = f"postgresql+psycopg2://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}"
    if running(data):
        return uri
    if not port_free(port):
        raise RuntimeError(f"port {port} is taken: choose another for PostgreSQL (--pg-port)")
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.touch()
    _give_to_owner(log_file)
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
    _run([str(pg / "pg_ctl"), "-D", str(data), "-l", str(log_file), "-o", options, "-w", "-t", "120", "start"],
         f"starting PostgreSQL (log: {log_file})", timeout=180)
    create_database(port)
    return uri


def create_database(port: int, name: str = DATABASE) -> None:
    """Create database `name` unless it exists (through the driver MLflow uses, psycopg2)."""
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=port, user=SUPERUSER, dbname="postgres", connect_timeout=30)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


def stop(data: Path) -> bool:
    """Stop the cluster in `data` (fast shutdown); False when it was not running."""
    data = data.resolve()
    if not running(data):
        return False
    _run([str(bin_dir() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop"], "stopping PostgreSQL")
    return True
