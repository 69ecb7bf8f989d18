"""Configuration: environment variables → config/leadflow.yml → defaults, validated once.

One setting decides the warehouse: ``LEADFLOW_DATABASE_URL``. When it is unset, the embedded
PostgreSQL of this checkout is used. From that one URL we derive everything else that needs it:
the Airflow connection (``AIRFLOW_CONN_LEADFLOW_WAREHOUSE``), dbt's profile (``LEADFLOW_DB_*``,
read by ``dbt_project/profiles.yml``) and the Great Expectations data source.

Nothing here touches the network or the database: it is safe to import while Airflow parses DAGs.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote, unquote, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PACKAGE_DIR = Path(__file__).resolve().parent


class ConfigError(ValueError):
    """A configuration problem, with the file and field that caused it."""


def project_root() -> Path:
    """The leadflow checkout (or deployment folder) that holds dags/, dbt_project/, config/…"""
    override = os.environ.get("LEADFLOW_HOME")
    return Path(override).resolve() if override else PACKAGE_DIR.parents[1]


def state_dir() -> Path:
    """Git-ignored folder for local state: embedded PostgreSQL data, Airflow home, secrets."""
    override = os.environ.get("LEADFLOW_STATE_DIR")
    return Path(override).resolve() if override else project_root() / ".leadflow"


# --- config file -------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WarehouseConfig(_Strict):
    conn_id: str = Field(default="leadflow_warehouse", pattern=r"^[A-Za-z0-9_]+$")
    database: str = Field(default="leadflow", pattern=r"^[a-z_][a-z0-9_]*$")


# PostgreSQL's defaults suit a server that shares a small machine with many other programs: 4 MB per
# sort or hash (a GROUP BY over millions of interactions spills to disk), 128 MB of buffers, a
# checkpoint every 1 GB of WAL (several per bulk load), WAL for every row of a table dbt creates and
# renames in one transaction. The embedded warehouse does ETL: these are its defaults (the buffers
# sized to the machine, memory_sized_settings()), config/leadflow.yml can change any of them
# (embedded.server_settings; applied at `leadflow db start`).
DEFAULT_SERVER_SETTINGS: dict[str, str] = {
    "work_mem": "128MB",  # per sort/hash node and connection; hashes get hash_mem_multiplier (2) ×
    "maintenance_work_mem": "512MB",  # index builds after a load
    "random_page_cost": "1.1",  # SSD
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    # no WAL for tables created in the transaction that fills them (dbt's create-as-select then
    # rename); needs no replication, which the embedded server never does
    "wal_level": "minimal",
    "max_wal_senders": "0",
}
MIB = 2**20
CGROUP_MEMORY_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")  # v2, v1


def memory_limit_bytes(limit_files: tuple[str, ...] = CGROUP_MEMORY_LIMITS) -> int | None:
    """The memory this machine has for us: its RAM, or its container's limit where that is lower
    (cgroup `limit_files`); None where the RAM cannot be read."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows) or no such name
        return None
    for limit in limit_files:
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isdigit():  # ("max": no limit)
            memory = min(memory, int(text))
    return memory


def memory_sized_settings(memory: int | None) -> dict[str, str]:
    """The buffers: shared_buffers a quarter of memory, the starting point PostgreSQL's documentation
    gives for a database server ("Resource Consumption"; at least its default 128 MB; at most 8 GB,
    a cap of ours: the documentation finds more than 40 % of memory unlikely to help, and each
    dropped table scans the whole pool), effective_cache_size three quarters (the usual estimate of
    what the OS and PostgreSQL cache together, which the planner counts on). Why not a fixed 1 GB:
    a day's build at 1 M contacts looks up 125 k contacts' rows by index all over a 14 GB database,
    and with 1 GB of buffers a sixth of the pages came from the OS cache; with 6 GB (a 24 GB
    machine) engagement points, replayed alone, took a fifth less time (benchmarks/HISTORY.md).
    Unknown memory: 1 GB and 4 GB."""
    if memory is None:
        return {"shared_buffers": "1GB", "effective_cache_size": "4GB"}
    shared = min(max(memory // 4 // MIB, 128), 8192)
    return {"shared_buffers": f"{shared}MB", "effective_cache_size": f"{max(memory * 3 // 4 // MIB, shared)}MB"}


SERVER_SETTING_NAME = re.compile(r"^[a-z_][a-z0-9_.]*$")
SERVER_SETTING_VALUE = re.compile(r"^[A-Za-z0-9_.:-]+$")  # passed on pg_ctl's command line: no quoting


class EmbeddedConfig(_Strict):
    port: int = Field(default=0, ge=0, le=65535, description="0 = pick a free port once and keep it")
    server_settings: dict[str, str] = Field(
        default_factory=dict, description="postgresql.conf settings over leadflow's defaults (DEFAULT_SERVER_SETTINGS)"
    )

    @field_validator("server_settings", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
        return value

    @field_validator("server_settings")
    @classmethod
    def _safe_settings(cls, value: dict[str, str]) -> dict[str, str]:
        for name, setting in value.items():
            if not SERVER_SETTING_NAME.match(name):
                raise ValueError(f"{name!r} is not a PostgreSQL setting name")
            if not SERVER_SETTING_VALUE.match(setting):
                raise ValueError(f"{name}: {setting!r} — use letters, digits and . _ : - only (e.g. 256MB, 0.9)")
        return value

    def effective_server_settings(self, memory: int | None = None) -> dict[str, str]:
        """leadflow's defaults, the buffers sized to `memory` (bytes; default: this machine's), then
        the file's settings."""
        sized = memory_sized_settings(memory if memory is not None else memory_limit_bytes())
        return {**DEFAULT_SERVER_SETTINGS, **sized, **self.server_settings}


class PipelineConfig(_Strict):
    start_date: str = "2026-01-01"
    demo_feed_dir: str = "examples/feed"
    retries: int = Field(default=2, ge=0)


class DbtTaskGroupConfig(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    select: str = Field(pattern=r"^[A-Za-z0-9_:/.+*@ ,-]+$", description="dbt node selection")


# One group: seeds, staging, identity resolution, scoring, interests, attribution and the marts in
# one `dbt build`, so each model starts as soon as its own inputs are ready and the run pays one dbt
# start-up. With identity in a group of its own, fct_interactions waited for that group's last model
# (addresses, then accounts, with one thread busy): 7 s on the critical path of a day at L; a group
# for seeds and staging cost a dbt start-up and a task more (about 2 s a run at any size).
DEFAULT_DBT_GROUPS = (
    DbtTaskGroupConfig(
        name="build", select="path:seeds path:models/staging path:models/intermediate path:models/marts"
    ),
)


class TransformConfig(_Strict):
    tasks: Literal["per_group", "per_model"] = "per_group"
    groups: tuple[DbtTaskGroupConfig, ...] = DEFAULT_DBT_GROUPS
    # dbt's threads: models built at once within a group. dbt starts ready models by their depth
    # in the graph, not by the longest path, so a model on that path can wait while both threads
    # build others; one thread more than the warehouse's cores lets it start (2 cores, a day at L,
    # alternating replays: 3 threads took 3-5 s less than 2; an earlier trial of 4 gained nothing)
    threads: int = Field(default=3, ge=1, le=64)


ROLE_NAME = r"^[a-z_][a-z0-9_]{0,62}$"


class AccessConfig(_Strict):
    """Database roles for BI (leadflow.access): one reads every mart, the others their areas' rows."""

    bi_role: str = Field(default="leadflow_bi", pattern=ROLE_NAME)
    area_roles: dict[str, tuple[str, ...]] = {}

    @field_validator("area_roles")
    @classmethod
    def _area_roles(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for role, areas in value.items():
            if not re.match(ROLE_NAME, role):
                raise ValueError(f"{role!r} is not a role name (lower-case letters, digits, _; at most 63)")
            if not areas or any(not area or area == "*" for area in areas):
                raise ValueError(f"{role}: list one or more marketing areas (the bi_role sees all of them)")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> AccessConfig:
        if self.bi_role in self.area_roles:
            raise ValueError(f"{self.bi_role} is the all-areas role; an area role needs another name")
        return self


class LeadflowConfig(_Strict):
    warehouse: WarehouseConfig = WarehouseConfig()
    embedded: EmbeddedConfig = EmbeddedConfig()
    pipeline: PipelineConfig = PipelineConfig()
    transform: TransformConfig = TransformConfig()
    access: AccessConfig = AccessConfig()


def read_yaml(path: Path) -> Any:
    """A YAML file's content; a syntax error names the file."""
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


Model = TypeVar("Model", bound=BaseModel)


def validated(model: type[Model], data: Any, path: Path) -> Model:
    """``data`` as ``model``; every problem named by its field path, the message prefixed by the file."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from exc


def config_path() -> Path:
    override = os.environ.get("LEADFLOW_CONFIG")
    return Path(override).resolve() if override else project_root() / "config" / "leadflow.yml"


@functools.cache
def load_config(path: Path | None = None) -> LeadflowConfig:
    """Read and validate the config file once; errors name the file and the field."""
    path = path or config_path()
    data: dict[str, Any] = {}
    if path.exists():
        data = read_yaml(path) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
    return validated(LeadflowConfig, data, path)


# --- the warehouse URL and what is derived from it --------------------------------------------


@dataclass(frozen=True)
class DatabaseUrl:
    """A PostgreSQL URL split into the parts dbt and Airflow want."""

    host: str
    port: int
    user: str
    password: str
    dbname: str

    @classmethod
    def parse(cls, url: str) -> DatabaseUrl:
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
            raise ConfigError(
                f"LEADFLOW_DATABASE_URL: expected postgresql://user:password@host:port/db, got scheme {parts.scheme!r}"
            )
        dbname = parts.path.lstrip("/")
        if not parts.hostname or not dbname:
            raise ConfigError("LEADFLOW_DATABASE_URL: host and database name are required")
        return cls(
            host=parts.hostname,
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            dbname=dbname,
        )

    def url(self, dbname: str | None = None) -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname or self.dbname}"

    def with_database(self, dbname: str) -> DatabaseUrl:
        return DatabaseUrl(self.host, self.port, self.user, self.password, dbname)

    def redacted(self) -> str:
        """For messages and logs: the password never leaves this object."""
        return f"postgresql://{self.user}:***@{self.host}:{self.port}/{self.dbname}"

    def dbt_env(self) -> dict[str, str]:
        """Variables read by dbt_project/profiles.yml."""
        return {
            "LEADFLOW_DB_HOST": self.host,
            "LEADFLOW_DB_PORT": str(self.port),
            "LEADFLOW_DB_USER": self.user,
            "LEADFLOW_DB_PASSWORD": self.password,
            "LEADFLOW_DB_NAME": self.dbname,
        }


def configured_database_url() -> str | None:
    """The external warehouse, if one is configured (``LEADFLOW_DATABASE_URL``)."""
    return os.environ.get("LEADFLOW_DATABASE_URL") or None


def conn_env_var(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


# --- Airflow -----------------------------------------------------------------------------------


def _local_secret(name: str, make: Any) -> str:
    """A secret generated once per checkout and kept in the state folder (mode 0600)."""
    path = state_dir() / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def airflow_env(database: DatabaseUrl, airflow_home: Path | None = None) -> dict[str, str]:
    """Environment for every Airflow process of the embedded default (CLI, dags test, UI, pytest).

    Values already set in the environment win, so a deployment can override any of them.
    """
    root = project_root()
    home = airflow_home or state_dir() / "airflow"
    cfg = load_config()
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(root / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__FERNET_KEY": _local_secret("fernet_key", _fernet_key),
        "AIRFLOW__API_AUTH__JWT_SECRET": _local_secret("jwt_secret", lambda: secrets.token_urlsafe(64)),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__COSMOS__CACHE_DIR": str(state_dir() / "cosmos-cache"),
        "AIRFLOW__COSMOS__ENABLE_CACHE_PROFILE": "False",
        # no usage telemetry: our machines are offline and users' data flows are theirs
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "DO_NOT_TRACK": "1",
        "SCARF_NO_ANALYTICS": "true",
        # metadata DB: SQLite in the Airflow home for the embedded default; PostgreSQL in production
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        conn_env_var(cfg.warehouse.conn_id): database.url(),
        "LEADFLOW_HOME": str(root),
        "LEADFLOW_STATE_DIR": str(state_dir()),
        "DBT_PROFILES_DIR": str(root / "dbt_project"),
        "NO_COLOR": "1",
        "XDG_RUNTIME_DIR": os.environ.get("XDG_RUNTIME_DIR") or str(state_dir() / "run"),
        **database.dbt_env(),
    }
    return {key: os.environ.get(key, value) for key, value in defaults.items()}
