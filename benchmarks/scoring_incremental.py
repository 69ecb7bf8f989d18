"""The daily run against the first one: the whole dbt project on about a million interactions, then
again after a day's new data.

    .venv/bin/python benchmarks/scoring_incremental.py --people 100000     # ≈ 1.2M interactions

Generates (once, cached in benchmarks/data/) a leadflow-generate feed, lands it in a fresh database and
in the same run times:
  full  — `dbt build` of the whole project (identity, fct_interactions, scores, stages, interests,
          attribution, marts and their tests) as of the data's last day;
  daily — the day after: 1 % new interactions (copies of existing ones with new ids, dated that day)
          and 0.5 % changed contact records land, then `dbt build` as of the next day;
  floor — one GROUP BY contact over every interaction (what any recomputation of all scores reads).
fct_interactions is incremental (reads the new loads, resolves again only what moved); identity,
scores and stages are rebuilt as of the new day — decay moves every score every day — over the
contacts and the last year of interactions. Per-model times come from dbt's run results.
Writes benchmarks/results/scoring_incremental-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ingest_files import DATA, RESULTS, dbt_build, drop_database, fresh_database, machine  # noqa: E402

from leadflow.sources.feed import ENTITIES  # noqa: E402
from leadflow.sources.files import find_feed_files, land_files  # noqa: E402
from leadflow.warehouse import database_url  # noqa: E402

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)  # the generator's last day


def feed_folder(people: int) -> Path:
    folder = DATA / f"scoring-{people}"
    if not (folder / ".complete").exists():
        from leadflow.demo.generator import Generator

        print(f"generating {people:,} people into {folder} (once) …", flush=True)
        Generator(contacts=people, seed=7, as_of=AS_OF).write(folder)
        (folder / ".complete").write_text("")
    return folder


def write_increment(conn: psycopg.Connection, folder: Path, day: datetime) -> dict[str, int]:
    """A day's new data as feed files: 1 % of the interactions again under new ids, dated that day,
    and 0.5 % of the contact records with a new job title."""
    folder.mkdir(parents=True, exist_ok=True)
    changed = {
        "interactions": {
            "source_interaction_id": sql.SQL("'D-' || source_interaction_id"),
            "occurred_at": sql.SQL("to_char({} - random() * interval '1 day', {})").format(
                sql.Literal(day), sql.Literal('YYYY-MM-DD"T"HH24:MI:SS"Z"')
            ),
        },
        "contacts": {
            "updated_at": sql.Literal(day.strftime("%Y-%m-%dT%H:%M:%SZ")),
            "job_title": sql.SQL("coalesce(job_title, '') || ' (new role)'"),
        },
    }
    share = {"interactions": 0.01, "contacts": 0.005}
    written: dict[str, int] = {}
    for (table,) in conn.execute("select tablename from pg_tables where schemaname = 'raw' order by 1").fetchall():
        source, _, entity = table.partition("__")
        if entity not in changed:
            continue
        spec = ENTITIES[entity]
        query = sql.SQL(
            "copy (select {columns} from raw.{table} where {id} is not null and random() < {share})"
            " to stdout (format csv, header true)"
        ).format(
            columns=sql.SQL(", ").join(changed[entity].get(c, sql.Identifier(c)) for c in spec.columns),
            table=sql.Identifier(table),
            id=sql.Identifier(spec.id_field),
            share=sql.Literal(share[entity]),
        )
        path = folder / f"{source}__{entity}.csv"
        with open(path, "wb") as out, conn.cursor() as cur, cur.copy(query) as copy:
            for chunk in copy:
                out.write(chunk)
        with open(path, encoding="utf-8") as lines:
            written[path.name] = sum(1 for _ in lines) - 1
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000, help="generated people (≈12 interactions each)")
    args = parser.parse_args()
    folder = feed_folder(args.people)
    server = database_url()
    database = fresh_database(server, "leadflow_bench_scoring")
    next_day = AS_OF + timedelta(days=1)
    try:
        with psycopg.connect(database.url()) as conn:
            land_files(conn, find_feed_files(folder), None)
            interactions = conn.execute(
                "select sum(n) from (select count(*) as n from raw.email__interactions union all"
                " select count(*) from raw.web__interactions union all select count(*) from raw.events__interactions"
                " union all select count(*) from raw.crm__interactions) t"
            ).fetchone()[0]
        print(f"landed {interactions:,} interactions; full dbt build …", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "target"
            vars_first = json.dumps({"as_of": AS_OF.isoformat()})
            full_s, full_models = dbt_build(database, target, "--exclude", "test_type:unit", "--vars", vars_first)
            with psycopg.connect(database.url()) as conn:
                t = time.perf_counter()
                conn.execute(
                    "create temp table floor as select contact_id, count(*), max(occurred_at)"
                    " from marts.fct_interactions group by contact_id"
                )
                floor_s = time.perf_counter() - t
                conn.rollback()
                increment = write_increment(conn, Path(tmp) / "increment", next_day)
                conn.commit()
            print(f"full build {full_s:.0f}s; landing a day's data {increment} …", flush=True)
            with psycopg.connect(database.url()) as conn:
                land_files(conn, find_feed_files(Path(tmp) / "increment"), None)
            vars_next = json.dumps({"as_of": next_day.isoformat()})
            daily_s, daily_models = dbt_build(database, target, "--exclude", "test_type:unit", "--vars", vars_next)
            with psycopg.connect(database.url()) as conn:
                fct_rows, contacts, resolved_again = conn.execute(
                    "select (select count(*) from marts.fct_interactions), (select count(*) from marts.dim_contacts),"
                    " (select count(*) from marts.fct_interactions"
                    "  where resolved_in_build = (select max(resolved_in_build) from marts.fct_interactions))"
                ).fetchone()
    finally:
        drop_database(server, "leadflow_bench_scoring")
    new_interactions = sum(n for name, n in increment.items() if name.endswith("__interactions.csv"))
    result = {
        "people": args.people,
        "interactions": fct_rows,
        "contacts": contacts,
        "floor_group_by_contact_seconds": round(floor_s, 2),
        "full_build_seconds": round(full_s, 1),
        "daily_new_interactions": new_interactions,
        "daily_changed_contact_records": sum(n for name, n in increment.items() if name.endswith("__contacts.csv")),
        "daily_build_seconds": round(daily_s, 1),
        "daily_share_of_full": round(daily_s / full_s, 3),
        "fct_interactions_full_seconds": full_models.get("fct_interactions"),
        "fct_interactions_daily_seconds": daily_models.get("fct_interactions"),
        "fct_rows_written_by_daily_run": resolved_again,
        "model_seconds_full": full_models,
        "model_seconds_daily": daily_models,
    }
    print(
        f"{fct_rows:,} interactions, {contacts:,} contacts; floor (GROUP BY contact over fct_interactions)"
        f" {floor_s:.1f}s\nfull build {full_s:.0f}s; daily build (+{new_interactions:,} interactions)"
        f" {daily_s:.0f}s = {daily_s / full_s:.0%} of full\nfct_interactions: full"
        f" {result['fct_interactions_full_seconds']}s, daily {result['fct_interactions_daily_seconds']}s"
        f" ({resolved_again:,} rows written)"
    )
    for label, timings in (("full", full_models), ("daily", daily_models)):
        slowest = sorted(timings.items(), key=lambda kv: -kv[1])[:6]
        print(f"slowest models ({label}):", ", ".join(f"{k} {v}s" for k, v in slowest))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"scoring_incremental-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps({"benchmark": "scoring_incremental", "machine": machine(), "result": result}, indent=2))
    print(f"written {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
