"""What every benchmark shares: where data and results live, the machine's description, throw-away
databases on the configured server, and one way of writing a result file."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

from leadflow.settings import DatabaseUrl  # noqa: E402

DATA = ROOT / "benchmarks" / "data"  # generated feeds, cached between runs (git-ignored)
RESULTS = ROOT / "benchmarks" / "results"
GENERATOR_AS_OF = datetime(2026, 11, 1, tzinfo=UTC)  # the generated data's last day
DBT = Path(sys.executable).parent / "dbt"


def generated_feed(contacts: int, interactions_per_contact: int = 10) -> Path:
    """A `leadflow generate` feed of that many people (seed 7; ~11 interactions each by default),
    written once and cached in benchmarks/data/ (again when the generator's DATA_VERSION moved)."""
    from leadflow.demo.generator import DATA_VERSION, Generator

    suffix = "" if interactions_per_contact == 10 else f"-{interactions_per_contact}"
    folder = DATA / f"contacts-{contacts}{suffix}"
    complete = folder / ".complete"
    if not complete.exists() or complete.read_text().strip() != str(DATA_VERSION):
        shutil.rmtree(folder, ignore_errors=True)
        print(f"generating {contacts:,} people into {folder} (once) …", flush=True)
        generator = Generator(
            contacts=contacts, seed=7, as_of=GENERATOR_AS_OF, interactions_per_contact=interactions_per_contact
        )
        generator.write(folder)
        complete.write_text(f"{DATA_VERSION}\n")
    return folder


def machine() -> dict[str, Any]:
    import psutil

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": platform.processor() or platform.machine(),
    }


def server_version(database: DatabaseUrl) -> str:
    with psycopg.connect(database.url(dbname="postgres")) as conn:
        return conn.execute("show server_version").fetchone()[0]


def fresh_database(server: DatabaseUrl, name: str, copy_of: str | None = None) -> DatabaseUrl:
    """The database `name` created anew: empty, or a copy of the database `copy_of` (file by
    file: seconds for GBs, no WAL)."""
    create = sql.SQL("create database {}").format(sql.Identifier(name))
    if copy_of:
        create += sql.SQL(" template {} strategy file_copy").format(sql.Identifier(copy_of))
    with psycopg.connect(server.url(dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(create)
    return server.with_database(name)


# A database's block I/O (pg_stat_database): blocks read from outside PostgreSQL's buffers (from the
# OS's cache or the disk: the counters cannot tell which), blocks found in the buffers, the
# milliseconds queries waited on reads and writes (counted only with track_io_timing on), and the
# temporary files sorts and hashes spilled to.
IO_COUNTERS = ("blks_read", "blks_hit", "blk_read_time", "blk_write_time", "temp_files", "temp_bytes")


def time_io(database: DatabaseUrl) -> bool:
    """track_io_timing on for the database's new sessions (a superuser's setting, kept with the
    database and gone with it); False where the server's user may not set it."""
    statement = sql.SQL("alter database {} set track_io_timing = on").format(sql.Identifier(database.dbname))
    try:
        with psycopg.connect(database.url(dbname="postgres"), autocommit=True) as conn:
            conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


def io_counters(database: DatabaseUrl) -> dict[str, float]:
    """The database's I/O counters now (since the server's statistics were last reset)."""
    columns = sql.SQL(", ").join(map(sql.Identifier, IO_COUNTERS))
    query = sql.SQL("select {} from pg_stat_database where datname = %s").format(columns)
    with psycopg.connect(database.url(dbname="postgres")) as conn:
        row = conn.execute(query, (database.dbname,)).fetchone()
    return dict(zip(IO_COUNTERS, (float(v or 0) for v in row), strict=True))


def io_between(before: dict[str, float], after: dict[str, float], timed: bool) -> dict[str, Any]:
    """What happened between two readings of io_counters: blocks read (and their GB) and found in
    the buffers, the share found, the seconds queries waited on reads and writes (None when
    track_io_timing was off: then PostgreSQL counts no time) and the temporary files' GB. A
    database created between the readings counts from zero."""
    change = {key: after[key] - before.get(key, 0.0) for key in IO_COUNTERS}
    reads, hits = int(change["blks_read"]), int(change["blks_hit"])
    return {
        "blocks_read": reads,
        "gb_read": round(reads * 8192 / 1e9, 2),
        "blocks_hit": hits,
        "hit_share": round(hits / (hits + reads), 4) if hits + reads else None,
        "read_wait_seconds": round(change["blk_read_time"] / 1000, 1) if timed else None,
        "write_wait_seconds": round(change["blk_write_time"] / 1000, 1) if timed else None,
        "temp_files": int(change["temp_files"]),
        "temp_gb": round(change["temp_bytes"] / 1e9, 2),
    }


def drop_database(server: DatabaseUrl, name: str) -> None:
    with psycopg.connect(server.url(dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def dbt_build(database: DatabaseUrl, target: Path, *args: str) -> tuple[float, dict[str, float]]:
    """`dbt build ARGS` against the database; (wall seconds, seconds per model from run_results)."""
    started = time.perf_counter()
    result = subprocess.run(
        [str(DBT), "build", *args, "--target-path", str(target)],
        cwd=ROOT / "dbt_project",
        env={**os.environ, **database.dbt_env(), "DBT_PROFILES_DIR": str(ROOT / "dbt_project")},
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"dbt build failed:\n{result.stdout[-4000:]}")
    timings = {
        r["unique_id"].split(".")[-1]: round(r["execution_time"], 2)
        for r in json.loads((target / "run_results.json").read_text())["results"]
        if r["unique_id"].startswith("model.")
    }
    return elapsed, timings


def write_results(benchmark: str, result: dict[str, Any], label: str = "") -> Path:
    """benchmarks/results/<benchmark>[-<label>]-<timestamp>.json: the result with the machine."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    at = datetime.now(UTC)
    name = f"{benchmark}-{label}-{at:%Y%m%dT%H%M%S}.json" if label else f"{benchmark}-{at:%Y%m%dT%H%M%S}.json"
    path = RESULTS / name
    payload = {"benchmark": benchmark, "at": at.isoformat(timespec="seconds"), "machine": machine(), "result": result}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def group_by_floor(database: DatabaseUrl) -> float:
    """One GROUP BY contact over every interaction: what any recomputation of all scores reads."""
    with psycopg.connect(database.url()) as conn:
        started = time.perf_counter()
        conn.execute(
            "create temp table floor as select contact_id, count(*), max(occurred_at)"
            " from marts.fct_interactions group by contact_id"
        )
        elapsed = time.perf_counter() - started
        conn.rollback()
    return elapsed
