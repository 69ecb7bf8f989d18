"""Benchmark: the raw-layer GX checks of one load against a floor measured in the same run.

Generates feed files (``leadflow generate``), lands them (one load per file), then validates every
load with the raw suites through GX checkpoints — as ``validate_raw`` does — and compares with the
floor: one hand-written SQL pass per load computing the same aggregates (row count, null ids and
timestamps, newest timestamp, share of plausible emails, duplicate id/timestamp pairs). GX's
fixed cost (import, context) is reported apart.

    .venv/bin/python benchmarks/quality_checks.py --people 100000
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import psycopg
from common import write_results

from leadflow.demo.generator import Generator
from leadflow.quality.checkpoints import Validator, load_batches
from leadflow.quality.suites import layer_suites
from leadflow.sources.feed import ENTITIES, raw_table
from leadflow.sources.files import find_feed_files, land_files
from leadflow.warehouse import database_url

EMAIL = r"^\s*[^@\s]+@[^@\s]+\.[A-Za-z]{2,}\s*$"


def floor_query(source_system: str, entity: str, load_id: str) -> str:
    spec = ENTITIES[entity]
    email = f", count(*) filter (where email !~ '{EMAIL}') as bad_emails" if "email" in spec.columns else ""
    dups = (
        ", (select count(*) - count(distinct (source_record_id, updated_at)) from raw.{t} where load_id = '{l}')"
        if entity == "contacts"
        else ""
    ).format(t=raw_table(source_system, entity), l=load_id)
    return (
        f"select count(*), count(*) filter (where {spec.id_field} is null), "  # noqa: S608
        f"count(*) filter (where {spec.timestamp_field} is null), max({spec.timestamp_field}::timestamptz)"
        f"{email}{dups} from raw.{raw_table(source_system, entity)} where load_id = '{load_id}'"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000)
    args = parser.parse_args()

    server = database_url()
    name = f"leadflow_bench_quality_{int(time.time())}"
    with psycopg.connect(server.url(dbname="postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    database = server.with_database(name)
    try:
        with tempfile.TemporaryDirectory() as folder:
            Generator(args.people, seed=7).write(Path(folder), progress=False)
            with psycopg.connect(database.url()) as conn:
                land_files(conn, find_feed_files(Path(folder)), "bench")
        with psycopg.connect(database.url()) as conn:
            load_ids = [r[0] for r in conn.execute("select load_id::text from ops.loads where status = 'succeeded'")]
            rows = conn.execute("select sum(landed) from ops.loads").fetchone()[0]
            suites = {suite.entity: suite for suite in layer_suites("raw")}
            batches = [(s, b) for s in suites.values() for b in load_batches(conn, s, load_ids)]

            started = time.perf_counter()
            for _, batch in batches:
                source_entity = batch.label.split(" ")[0].removeprefix("raw.")
                source_system, entity = source_entity.split("__")
                conn.execute(floor_query(source_system, entity, batch.load_id)).fetchall()
            floor_s = time.perf_counter() - started

        started = time.perf_counter()
        validator = Validator(database, "bench")
        setup_s = time.perf_counter() - started
        started = time.perf_counter()
        results = [validator.run(suite, batch) for suite, batch in batches]
        validator.finish()
        checks_s = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        report = {
            "people": args.people,
            "raw_rows": int(rows),
            "loads": len(batches),
            "floor_s": round(floor_s, 2),
            "gx_setup_s": round(setup_s, 2),
            "gx_checks_s": round(checks_s, 2),
            "floor_over_gx_checks": round(floor_s / checks_s, 3),
            "all_passed": all(r.success or r.severity == "warning" for r in results),
            "peak_rss_mb": round(peak_mb),
        }
        print(f"raw rows {rows:,} in {len(batches)} loads")
        print(f"  floor (one SQL pass per load, same aggregates): {floor_s:6.2f} s")
        print(f"  GX checkpoints (raw suites, per load):          {checks_s:6.2f} s  (+ {setup_s:.1f} s GX set-up)")
        print(f"  ratio floor / GX: {floor_s / checks_s:.2f}   peak RSS {peak_mb:.0f} MB")
        out = write_results("quality_checks", report)
        print(f"wrote {out}")
    finally:
        with psycopg.connect(server.url(dbname="postgres"), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


if __name__ == "__main__":
    main()
