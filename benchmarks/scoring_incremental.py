"""The daily run against the first one: the whole dbt project on about a million interactions, then
again after a day's new data.

    .venv/bin/python benchmarks/scoring_incremental.py --people 100000     # ≈ 1.2M interactions

Generates (once, cached in benchmarks/data/) a leadflow-generate feed, lands it in a fresh database and
in the same run times:
  full  — `dbt build` of the whole project (identity, fct_interactions, scores, stages, interests,
          attribution, marts and their tests) as of the data's last day;
  daily — a day later: 1 % new interactions (copies of existing ones with new ids, dated that
          day) and 0.5 % changed contact records land, then `dbt build` as of that day; twice;
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
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from common import (
    GENERATOR_AS_OF,
    ROOT,
    dbt_build,
    drop_database,
    fresh_database,
    generated_feed,
    group_by_floor,
    write_results,
)
from psycopg import sql

from leadflow.settings import DatabaseUrl
from leadflow.sources.feed import ENTITIES
from leadflow.sources.files import find_feed_files, land_files
from leadflow.warehouse import database_url


def fraction_of(column: sql.Composable, salt: str) -> sql.Composable:
    """A number in [0, 1] from a hash of the column's value and the salt: the same for the same
    value, spread evenly over values."""
    return sql.SQL("abs(cast(hashtext({} || {}) as float8)) / 2147483648").format(column, sql.Literal("@" + salt))


def write_increment(conn: psycopg.Connection, folder: Path, day: datetime, percent: float = 1.0) -> dict[str, int]:
    """A day's new data as feed files: `percent` % of the interactions (1 % unless told) again under
    new ids, dated that day, and half as many per cent of the contact records with a new job title.
    Which records is decided by a hash of their id and the day, not by random(): the same day on the
    same data takes the same records, and a smaller percent's records are part of a larger one's
    (`pipeline.py --daily-sweep` compares such days); another day takes others."""
    folder.mkdir(parents=True, exist_ok=True)
    conn.execute("set time zone 'UTC'")  # the new times are written with a Z
    changed = {
        "interactions": {
            "source_interaction_id": sql.SQL("'D-' || source_interaction_id"),
            "occurred_at": sql.SQL("to_char({} - {} * interval '1 day', {})").format(
                sql.Literal(day),
                fraction_of(sql.Identifier("source_interaction_id"), f"{day:%Y-%m-%d}#time"),
                sql.Literal('YYYY-MM-DD"T"HH24:MI:SS"Z"'),
            ),
        },
        "contacts": {
            "updated_at": sql.Literal(day.strftime("%Y-%m-%dT%H:%M:%SZ")),
            "job_title": sql.SQL("coalesce(job_title, '') || ' (new role)'"),
        },
    }
    share = {"interactions": percent / 100, "contacts": percent / 200}
    written: dict[str, int] = {}
    for (table,) in conn.execute("select tablename from pg_tables where schemaname = 'raw' order by 1").fetchall():
        source, _, entity = table.partition("__")
        if entity not in changed:
            continue
        spec = ENTITIES[entity]
        # each id once (raw holds every version of a record): two versions of one contact with the
        # same new timestamp in one load are refused by the raw checks, as they should be. The
        # version landed last (ctid: a copied database keeps it), so the same day on the same data
        # writes the same rows.
        query = sql.SQL(
            "copy (select distinct on ({id}) {columns} from raw.{table} where {id} is not null and {fraction} < {share}"
            " order by {id}, ctid desc) to stdout (format csv, header true)"
        ).format(
            columns=sql.SQL(", ").join(
                sql.SQL("{} as {}").format(changed[entity].get(c, sql.Identifier(c)), sql.Identifier(c))
                for c in spec.columns
            ),
            table=sql.Identifier(table),
            id=sql.Identifier(spec.id_field),
            fraction=fraction_of(sql.Identifier(spec.id_field), f"{day:%Y-%m-%d}"),
            share=sql.Literal(share[entity]),
        )
        path = folder / f"{source}__{entity}.csv"
        with open(path, "wb") as out, conn.cursor() as cur, cur.copy(query) as copy:
            for chunk in copy:
                out.write(chunk)
        with open(path, encoding="utf-8") as lines:
            written[path.name] = sum(1 for _ in lines) - 1
    return written


def daily_run(database: DatabaseUrl, target: Path, folder: Path, day: datetime) -> dict:
    """A day passes, its data lands, dbt builds as of that day."""
    with psycopg.connect(database.url()) as conn:
        increment = write_increment(conn, folder, day)
        conn.commit()
        land_files(conn, find_feed_files(folder), None)
    seconds, models = dbt_build(
        database, target, "--exclude", "test_type:unit", "--vars", json.dumps({"as_of": day.isoformat()})
    )
    written = next(
        r["adapter_response"].get("rows_affected")
        for r in json.loads((target / "run_results.json").read_text())["results"]
        if r["unique_id"].endswith(".fct_interactions")
    )
    return {"increment": increment, "seconds": seconds, "models": models, "fct_rows_written": written}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100_000, help="generated people (≈12 interactions each)")
    parser.add_argument("--keep", action="store_true", help="keep the database leadflow_bench_scoring afterwards")
    args = parser.parse_args()
    folder = generated_feed(args.people)
    server = database_url()
    database = fresh_database(server, "leadflow_bench_scoring")
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
            vars_first = json.dumps({"as_of": GENERATOR_AS_OF.isoformat()})
            full_s, full_models = dbt_build(database, target, "--exclude", "test_type:unit", "--vars", vars_first)
            floor_s = group_by_floor(database)
            # two days: the second shows the steady state
            warm_up = daily_run(database, target, Path(tmp) / "day-1", GENERATOR_AS_OF + timedelta(days=1))
            print(f"full build {full_s:.0f}s; first daily run {warm_up['seconds']:.0f}s; second day …", flush=True)
            daily = daily_run(database, target, Path(tmp) / "day-2", GENERATOR_AS_OF + timedelta(days=2))
            increment, daily_s, daily_models, fct_written = (
                daily["increment"],
                daily["seconds"],
                daily["models"],
                daily["fct_rows_written"],
            )
            with psycopg.connect(database.url()) as conn:
                fct_rows, contacts = conn.execute(
                    "select (select count(*) from marts.fct_interactions), (select count(*) from marts.dim_contacts)"
                ).fetchone()
    finally:
        if not args.keep:
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
        "first_daily_build_seconds": round(warm_up["seconds"], 1),
        "first_daily_fct_rows_written": warm_up["fct_rows_written"],
        "daily_build_seconds": round(daily_s, 1),
        "daily_share_of_full": round(daily_s / full_s, 3),
        "fct_interactions_full_seconds": full_models.get("fct_interactions"),
        "fct_interactions_daily_seconds": daily_models.get("fct_interactions"),
        "fct_rows_written_by_daily_run": fct_written,
        "model_seconds_full": full_models,
        "model_seconds_daily": daily_models,
    }
    print(
        f"{fct_rows:,} interactions, {contacts:,} contacts; floor (GROUP BY contact over fct_interactions)"
        f" {floor_s:.1f}s\nfull build {full_s:.0f}s; daily build (+{new_interactions:,} interactions)"
        f" {daily_s:.0f}s = {daily_s / full_s:.0%} of full\nfct_interactions: full"
        f" {result['fct_interactions_full_seconds']}s, daily {result['fct_interactions_daily_seconds']}s"
        f" ({fct_written} rows written)"
    )
    for label, timings in (("full", full_models), ("daily", daily_models)):
        slowest = sorted(timings.items(), key=lambda kv: -kv[1])[:6]
        print(f"slowest models ({label}):", ", ".join(f"{k} {v}s" for k, v in slowest))
    out = write_results("scoring_incremental", result)
    print(f"written {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
